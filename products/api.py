"""REST endpoints of the product context."""

from decimal import Decimal

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from products import selectors, services

MIN_PRICE = Decimal("0.01")


class ProductOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(format="hex")
    name = serializers.CharField()
    description = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=False)
    created_at = serializers.DateTimeField()
    inventory = serializers.IntegerField()
    category_id = serializers.UUIDField(format="hex", allow_null=True)


class CategoryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(format="hex")
    name = serializers.CharField()
    created_at = serializers.DateTimeField()


class CreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField(format="hex")


class ProductListCreateApi(GenericAPIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        # Several lines: tab, line feed and carriage return are its only control characters.
        description = serializers.CharField(
            allow_blank=True, default="", style={"base_template": "textarea.html"}
        )
        price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=MIN_PRICE)
        category_id = serializers.UUIDField(required=False, allow_null=True)

    class FilterSerializer(serializers.Serializer):
        category_id = serializers.UUIDField(required=False)

    serializer_class = ProductOutputSerializer
    write_permission = "products.add_product"

    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        category_id = filters.validated_data.get("category_id")
        products = selectors.product_list(category_id=category_id.hex if category_id else None)
        page = self.paginate_queryset(products)
        return self.get_paginated_response(ProductOutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CreatedSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        category_id = fields.get("category_id")
        product = services.product_create(
            name=fields["name"],
            description=fields["description"],
            price=fields["price"],
            category_id=category_id.hex if category_id else None,
        )
        return Response(CreatedSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailApi(APIView):
    @extend_schema(responses=ProductOutputSerializer)
    def get(self, request: Request, product_id: str) -> Response:
        product = selectors.product_get(product_id=product_id)
        return Response(ProductOutputSerializer(product).data)


class ProductRenameApi(APIView):
    class InputSerializer(serializers.Serializer):
        new_name = serializers.CharField(max_length=200)

    write_permission = "products.change_product"

    @extend_schema(request=InputSerializer, responses=ProductOutputSerializer)
    def post(self, request: Request, product_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_rename(product_id=product_id, **serializer.validated_data)
        return Response(ProductOutputSerializer(product).data)


class ProductChangePriceApi(APIView):
    class InputSerializer(serializers.Serializer):
        new_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=MIN_PRICE)

    write_permission = "products.change_product"

    @extend_schema(request=InputSerializer, responses=ProductOutputSerializer)
    def post(self, request: Request, product_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_change_price(product_id=product_id, **serializer.validated_data)
        return Response(ProductOutputSerializer(product).data)


class ProductMoveToCategoryApi(APIView):
    class InputSerializer(serializers.Serializer):
        category_id = serializers.UUIDField()

    write_permission = "products.change_product"

    @extend_schema(request=InputSerializer, responses=ProductOutputSerializer)
    def post(self, request: Request, product_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_move_to_category(
            product_id=product_id, category_id=serializer.validated_data["category_id"].hex
        )
        return Response(ProductOutputSerializer(product).data)


class CategoryListCreateApi(GenericAPIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)

    serializer_class = CategoryOutputSerializer
    write_permission = "products.add_category"

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.category_list())
        return self.get_paginated_response(CategoryOutputSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: CreatedSerializer,
            409: OpenApiResponse(description="A category of that name exists already."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = services.category_create(**serializer.validated_data)
        return Response(CreatedSerializer(category).data, status=status.HTTP_201_CREATED)


class CategoryDetailApi(APIView):
    @extend_schema(responses=CategoryOutputSerializer)
    def get(self, request: Request, category_id: str) -> Response:
        category = selectors.category_get(category_id=category_id)
        return Response(CategoryOutputSerializer(category).data)
