from django.contrib import admin

from products.models import Category, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Products are changed through the API, which raises their events; here they are read."""

    list_display = ("name", "price", "inventory", "category", "created_at", "version")
    list_filter = ("category",)
    search_fields = ("id", "name")
    readonly_fields = [field.name for field in Product._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """Categories are created through the API, which raises their events; here they are read."""

    list_display = ("name", "created_at", "version")
    search_fields = ("id", "name")
    readonly_fields = [field.name for field in Category._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
