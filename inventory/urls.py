from django.urls import path

from inventory import api

urlpatterns = [
    path("inventories", api.InventoryListApi.as_view(), name="inventory-list"),
    path("inventories/<hex_uuid:inventory_id>", api.InventoryDetailApi.as_view()),
    path("inventories/<hex_uuid:inventory_id>/increase", api.InventoryIncreaseApi.as_view()),
    path("inventories/<hex_uuid:inventory_id>/decrease", api.InventoryDecreaseApi.as_view()),
]
