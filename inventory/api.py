"""REST endpoints of the inventory context."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import selectors, services
from inventory.models import MAX_REMAINING


class InventoryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(format="hex")
    product_id = serializers.UUIDField(format="hex")
    product_name = serializers.CharField()
    remaining = serializers.IntegerField()


class InventoryListApi(GenericAPIView):
    class FilterSerializer(serializers.Serializer):
        product_id = serializers.UUIDField(required=False)

    serializer_class = InventoryOutputSerializer

    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.inventory_list(**filters.validated_data))
        return self.get_paginated_response(InventoryOutputSerializer(page, many=True).data)


class InventoryDetailApi(APIView):
    @extend_schema(responses=InventoryOutputSerializer)
    def get(self, request: Request, inventory_id: str) -> Response:
        inventory = selectors.inventory_get(inventory_id=inventory_id)
        return Response(InventoryOutputSerializer(inventory).data)


class InventoryIncreaseApi(APIView):
    class InputSerializer(serializers.Serializer):
        increase_number = serializers.IntegerField(min_value=1, max_value=MAX_REMAINING)

    write_permission = "inventory.change_inventory"

    @extend_schema(
        request=InputSerializer,
        responses={
            200: InventoryOutputSerializer,
            409: OpenApiResponse(description=f"The stock would exceed {MAX_REMAINING}."),
        },
    )
    def post(self, request: Request, inventory_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        inventory = services.inventory_increase(
            inventory_id=inventory_id, number=serializer.validated_data["increase_number"]
        )
        return Response(InventoryOutputSerializer(inventory).data)


class InventoryDecreaseApi(APIView):
    class InputSerializer(serializers.Serializer):
        decrease_number = serializers.IntegerField(min_value=1, max_value=MAX_REMAINING)

    write_permission = "inventory.change_inventory"

    @extend_schema(
        request=InputSerializer,
        responses={
            200: InventoryOutputSerializer,
            409: OpenApiResponse(description="Not that much in stock."),
        },
    )
    def post(self, request: Request, inventory_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        inventory = services.inventory_decrease(
            inventory_id=inventory_id, number=serializer.validated_data["decrease_number"]
        )
        return Response(InventoryOutputSerializer(inventory).data)
