"""The project's default API permission: anyone reads, and a write needs a model permission."""

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:  # DRF imports this module while it loads its own views
    from rest_framework.views import APIView


class ModelPermissionOrReadOnly(BasePermission):
    """Anyone may read. A write needs the Django model permission that its view names in
    `write_permission`, such as "products.change_product".

    Django's own permissions, as the admin checks them: being staff is not enough, a superuser
    has them all, and a view that names none takes no writes. DRF's `DjangoModelPermissions`
    derives the permission from the HTTP method, and would ask for "add" where a command such
    as `POST /products/{id}/rename` changes a product; each view names its own instead.
    """

    def has_permission(self, request: Request, view: "APIView") -> bool:
        # A method the view does not take is answered 405 by the view, not 403 here.
        if request.method in SAFE_METHODS or request.method not in view.allowed_methods:
            return True
        permission = getattr(view, "write_permission", None)
        return permission is not None and bool(request.user and request.user.has_perm(permission))
