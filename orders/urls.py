from django.urls import path

from orders import api

urlpatterns = [
    path("orders", api.OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<hex_uuid:order_id>", api.OrderDetailApi.as_view()),
    path("orders/<hex_uuid:order_id>/address/detail", api.OrderChangeAddressDetailApi.as_view()),
    path("orders/<hex_uuid:order_id>/pay", api.OrderPayApi.as_view()),
    path("orders/<hex_uuid:order_id>/cancel", api.OrderCancelApi.as_view()),
    path("orders/<hex_uuid:order_id>/products", api.OrderChangeItemCountApi.as_view()),
    path("order-summaries", api.OrderSummaryListApi.as_view(), name="order-summary-list"),
    path("order-summaries/<hex_uuid:order_id>", api.OrderSummaryDetailApi.as_view()),
    path("loyalty", api.LoyaltyApi.as_view(), name="loyalty"),
    path("catalog", api.CatalogListApi.as_view(), name="catalog"),
]
