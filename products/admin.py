from django.contrib import admin

from outbox.admin import ViewOnlyAdmin
from products.models import Category, Product


@admin.register(Product)
class ProductAdmin(ViewOnlyAdmin):
    """Products are changed through the API, which raises their events; here they are read."""

    list_display = ("name", "price", "inventory", "category", "created_at", "version")
    list_filter = ("category",)
    search_fields = ("id", "name")


@admin.register(Category)
class CategoryAdmin(ViewOnlyAdmin):
    """Categories are created through the API, which raises their events; here they are read."""

    list_display = ("name", "created_at", "version")
    search_fields = ("id", "name")
