from django.contrib import admin

from inventory.models import Inventory


@admin.register(Inventory)
class InventoryAdmin(admin.ModelAdmin):
    """Stock changes go through the API, which raises their events; here they are read."""

    list_display = ("product_name", "remaining", "product_id", "updated_at", "version")
    search_fields = ("id", "product_id", "product_name")
    readonly_fields = [field.name for field in Inventory._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
