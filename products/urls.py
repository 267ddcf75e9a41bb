from django.urls import path

from products import api

urlpatterns = [
    path("products", api.ProductListCreateApi.as_view(), name="product-list"),
    path("products/<hex_uuid:product_id>", api.ProductDetailApi.as_view(), name="product-detail"),
    path("products/<hex_uuid:product_id>/name", api.ProductRenameApi.as_view()),
    path("products/<hex_uuid:product_id>/price", api.ProductChangePriceApi.as_view()),
    path("products/<hex_uuid:product_id>/category", api.ProductMoveToCategoryApi.as_view()),
    path("categories", api.CategoryListCreateApi.as_view(), name="category-list"),
    path(
        "categories/<hex_uuid:category_id>",
        api.CategoryDetailApi.as_view(),
        name="category-detail",
    ),
]
