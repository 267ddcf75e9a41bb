from django.contrib import admin

from orders.models import (
    CatalogCategory,
    CatalogProduct,
    Coupon,
    LoyaltyPoints,
    Order,
    OrderItem,
    OrderSummary,
)
from outbox.admin import ViewOnlyAdmin


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    readonly_fields = ("product_id", "count", "item_price")
    can_delete = False
    extra = 0


@admin.register(Order)
class OrderAdmin(ViewOnlyAdmin):
    """Orders change through the API, which raises their events; here they are read."""

    list_display = ("id", "status", "total_price", "city", "created_at", "version")
    list_filter = ("status",)
    search_fields = ("id",)
    inlines = [OrderItemInline]


@admin.register(OrderSummary)
class OrderSummaryAdmin(ViewOnlyAdmin):
    list_display = ("order_id", "status", "total_price", "item_count", "refreshed_at")
    list_filter = ("status",)
    search_fields = ("order_id",)


@admin.register(CatalogProduct)
class CatalogProductAdmin(ViewOnlyAdmin):
    list_display = ("name", "price", "product_id", "product_version")
    search_fields = ("product_id", "name")


@admin.register(CatalogCategory)
class CatalogCategoryAdmin(ViewOnlyAdmin):
    """A copy kept from category events: it changes only through them."""

    list_display = ("name", "category_id")
    search_fields = ("category_id", "name")


@admin.register(LoyaltyPoints)
class LoyaltyPointsAdmin(ViewOnlyAdmin):
    list_display = ("customer_id", "points", "order_id", "awarded_at")
    search_fields = ("order_id",)


@admin.register(Coupon)
class CouponAdmin(ViewOnlyAdmin):
    list_display = ("customer_id", "amount", "order_id", "granted_at")
    search_fields = ("order_id",)
