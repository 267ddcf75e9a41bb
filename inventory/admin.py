from django.contrib import admin

from inventory.models import Inventory
from outbox.admin import ViewOnlyAdmin


@admin.register(Inventory)
class InventoryAdmin(ViewOnlyAdmin):
    """Stock changes go through the API, which raises their events; here they are read."""

    list_display = ("product_name", "remaining", "product_id", "updated_at", "version")
    search_fields = ("id", "product_id", "product_name")
