"""The project's default API permission."""

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:  # DRF imports this module while it loads its own views
    from rest_framework.views import APIView


class IsStaffOrReadOnly(BasePermission):
    """Anyone may read; only staff may change (products and inventory are managed by staff)."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_staff)
