"""Staff who manage the catalog through the API: the "Catalog managers" group.

Being staff lets a user into the admin and nothing more; what they may change comes from
Django's model permissions (`ecommerce.permissions`). An operator makes a catalog manager
in the admin, by adding a staff user to this group, or with `catalog_manager_create`.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group, Permission
from django.db.models import Q

CATALOG_MANAGERS = "Catalog managers"
# What the API's writes on products, categories and stock need, and what the admin shows.
CATALOG_MANAGEMENT = (
    "products.add_product",
    "products.change_product",
    "products.view_product",
    "products.add_category",
    "products.view_category",
    "inventory.change_inventory",
    "inventory.view_inventory",
)


def catalog_managers() -> Group:
    """The catalog managers' group, made if missing, with the permissions of `CATALOG_MANAGEMENT`
    that exist here (a split service knows only its own context's)."""
    group, _ = Group.objects.get_or_create(name=CATALOG_MANAGERS)
    wanted = Q()
    for permission in CATALOG_MANAGEMENT:
        app_label, codename = permission.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    group.permissions.add(*Permission.objects.filter(wanted))
    return group


def catalog_manager_create(*, username: str, password: str | None = None) -> AbstractUser:
    """A staff user in the catalog managers' group; without a password, one who cannot sign
    in with one (tests and benchmarks give them a token)."""
    user = get_user_model().objects.create_user(username=username, password=password, is_staff=True)
    user.groups.add(catalog_managers())
    return user
