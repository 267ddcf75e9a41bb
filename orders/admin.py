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


class ReadModelAdmin(admin.ModelAdmin):
    """A copy or a read model: it changes only through the events it is built from, so here it
    is read, never added, edited or deleted."""

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    readonly_fields = ("product_id", "count", "item_price")
    can_delete = False
    extra = 0


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders change through the API, which raises their events; here they are read."""

    list_display = ("id", "status", "total_price", "city", "created_at", "version")
    list_filter = ("status",)
    search_fields = ("id",)
    readonly_fields = [field.name for field in Order._meta.fields]
    inlines = [OrderItemInline]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReadModelAdmin):
    list_display = ("order_id", "status", "total_price", "item_count", "refreshed_at")
    list_filter = ("status",)
    search_fields = ("order_id",)


@admin.register(CatalogProduct)
class CatalogProductAdmin(ReadModelAdmin):
    list_display = ("name", "price", "product_id", "product_version")
    search_fields = ("product_id", "name")


@admin.register(CatalogCategory)
class CatalogCategoryAdmin(admin.ModelAdmin):
    """A copy kept from category events: it changes only through them."""

    list_display = ("name", "category_id")
    search_fields = ("category_id", "name")
    readonly_fields = [field.name for field in CatalogCategory._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(LoyaltyPoints)
class LoyaltyPointsAdmin(ReadModelAdmin):
    list_display = ("customer_id", "points", "order_id", "awarded_at")
    search_fields = ("order_id",)


@admin.register(Coupon)
class CouponAdmin(ReadModelAdmin):
    list_display = ("customer_id", "amount", "order_id", "granted_at")
    search_fields = ("order_id",)
