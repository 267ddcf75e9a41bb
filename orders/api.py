"""REST endpoints of the order context: a signed-in customer sees only their own orders."""

from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from orders import selectors, services
from orders.events import Address, OrderLine
from orders.models import MAX_ITEM_COUNT

MIN_PRICE = Decimal("0.01")
CANCELLATION_REASON_HELP = (
    "Why the order was cancelled: `CUSTOMER` (by its customer) or `EXPIRED` (not paid in "
    "time); empty unless cancelled."
)


def customer_id_of(request: Request) -> int:
    """The signed-in customer's id: every view here asks for IsAuthenticated, whose users are
    saved ones."""
    customer_id = request.user.pk
    assert customer_id is not None, "an order view let in an anonymous user"
    return customer_id


class AddressSerializer(serializers.Serializer):
    province = serializers.CharField(max_length=100)
    city = serializers.CharField(max_length=100)
    detail = serializers.CharField(max_length=500)


class OrderItemOutputSerializer(serializers.Serializer):
    product_id = serializers.UUIDField(format="hex")
    count = serializers.IntegerField()
    item_price = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=False)


class PendingItemCountChangeSerializer(serializers.Serializer):
    change_id = serializers.CharField()
    product_id = serializers.CharField()
    count = serializers.IntegerField()


class OrderOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(format="hex")
    items = OrderItemOutputSerializer(many=True, source="items.all")
    address = AddressSerializer()
    total_price = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    status = serializers.CharField()
    rejection_reason = serializers.CharField()
    cancellation_reason = serializers.CharField(help_text=CANCELLATION_REASON_HELP)
    created_at = serializers.DateTimeField()
    pending_change = PendingItemCountChangeSerializer(allow_null=True)
    change_refusal_reason = serializers.CharField()
    stock_released_at = serializers.DateTimeField(allow_null=True)


class CreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField(format="hex")


class OrderListCreateApi(GenericAPIView):
    permission_classes = [IsAuthenticated]
    # Creating an order has a stricter rate of its own (settings DEFAULT_THROTTLE_RATES).
    throttle_scope = "order-create"

    class InputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            product_id = serializers.UUIDField()
            count = serializers.IntegerField(min_value=1, max_value=MAX_ITEM_COUNT)
            item_price = serializers.DecimalField(
                max_digits=12, decimal_places=2, min_value=MIN_PRICE
            )

        # many=True hands max_length to the ListSerializer, an argument the stubs give to
        # ListSerializer itself only.
        items = ItemSerializer(  # type: ignore[call-arg]
            many=True, allow_empty=False, max_length=settings.ORDERS["MAX_LINES"]
        )
        address = AddressSerializer()

    serializer_class = OrderOutputSerializer

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(ScopedRateThrottle())
        return throttles

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.order_list(customer_id=customer_id_of(request)))
        return self.get_paginated_response(OrderOutputSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: CreatedSerializer,
            409: OpenApiResponse(
                description="An `itemPrice` is not the catalog's price now, or the customer "
                "has as many unpaid orders as they may have."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = services.order_create(
            customer_id=customer_id_of(request),
            lines=[
                OrderLine(
                    product_id=item["product_id"].hex,
                    count=item["count"],
                    item_price=item["item_price"],
                )
                for item in data["items"]
            ],
            address=Address(**data["address"]),
        )
        return Response(CreatedSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OrderOutputSerializer)
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get(order_id=order_id, customer_id=customer_id_of(request))
        return Response(OrderOutputSerializer(order).data)


class OrderChangeAddressDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        detail = serializers.CharField(max_length=500)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OrderOutputSerializer,
            409: OpenApiResponse(description="The order is paid: its address cannot change."),
        },
    )
    def post(self, request: Request, order_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.order_change_address_detail(
            order_id=order_id, customer_id=customer_id_of(request), **serializer.validated_data
        )
        return Response(
            OrderOutputSerializer(
                selectors.order_get(order_id=order_id, customer_id=customer_id_of(request))
            ).data
        )


class OrderPayApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        paid_price = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=MIN_PRICE)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OrderOutputSerializer,
            409: OpenApiResponse(description="Paid, cancelled, rejected or not confirmed yet."),
        },
    )
    def post(self, request: Request, order_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.order_pay(
            order_id=order_id, customer_id=customer_id_of(request), **serializer.validated_data
        )
        return Response(
            OrderOutputSerializer(
                selectors.order_get(order_id=order_id, customer_id=customer_id_of(request))
            ).data
        )


class OrderCancelApi(APIView):
    """Cancel an unpaid order: 409 once paid, rejected or already cancelled."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: OrderOutputSerializer,
            409: OpenApiResponse(description="Paid, rejected or cancelled already."),
        },
    )
    def post(self, request: Request, order_id: str) -> Response:
        services.order_cancel(order_id=order_id, customer_id=customer_id_of(request))
        return Response(
            OrderOutputSerializer(
                selectors.order_get(order_id=order_id, customer_id=customer_id_of(request))
            ).data
        )


class OrderChangeItemCountApi(APIView):
    """Ask for a new count of one of a confirmed order's items: 202 with the order, whose
    `pendingChange` shows the change until the inventory answers (200 if the count is the
    item's already)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        product_id = serializers.UUIDField()
        count = serializers.IntegerField(min_value=1, max_value=MAX_ITEM_COUNT)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OrderOutputSerializer,
            202: OrderOutputSerializer,
            409: OpenApiResponse(description="Paid, not confirmed, or a change is pending."),
        },
    )
    def post(self, request: Request, order_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_request_item_count_change(
            order_id=order_id,
            customer_id=customer_id_of(request),
            product_id=serializer.validated_data["product_id"].hex,
            count=serializer.validated_data["count"],
        )
        return Response(
            OrderOutputSerializer(
                selectors.order_get(order_id=order_id, customer_id=customer_id_of(request))
            ).data,
            status=status.HTTP_202_ACCEPTED if order.pending_change else status.HTTP_200_OK,
        )


class CatalogListApi(GenericAPIView):
    """The products an order may name, at the price an order is taken at now: the order
    context's catalog copy, which an order's `itemPrice` must match."""

    class OutputSerializer(serializers.Serializer):
        product_id = serializers.UUIDField(format="hex")
        name = serializers.CharField()
        price = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=False)
        category_id = serializers.UUIDField(format="hex", allow_null=True)
        category_name = serializers.CharField(allow_null=True)

    class FilterSerializer(serializers.Serializer):
        category_id = serializers.UUIDField(required=False)

    serializer_class = OutputSerializer

    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        category_id = filters.validated_data.get("category_id")
        products = selectors.catalog_product_list(
            category_id=category_id.hex if category_id else None
        )
        page = self.paginate_queryset(products)
        return self.get_paginated_response(self.OutputSerializer(page, many=True).data)


class OrderSummaryOutputSerializer(serializers.Serializer):
    order_id = serializers.UUIDField(format="hex")
    status = serializers.CharField()
    total_price = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    item_count = serializers.IntegerField()
    address = serializers.CharField()
    cancellation_reason = serializers.CharField(help_text=CANCELLATION_REASON_HELP)
    created_at = serializers.DateTimeField()
    order_version = serializers.IntegerField()


class OrderSummaryListApi(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = OrderSummaryOutputSerializer

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(
            selectors.order_summary_list(customer_id=customer_id_of(request))
        )
        return self.get_paginated_response(OrderSummaryOutputSerializer(page, many=True).data)


class OrderSummaryDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OrderSummaryOutputSerializer)
    def get(self, request: Request, order_id: str) -> Response:
        summary = selectors.order_summary_get(
            order_id=order_id, customer_id=customer_id_of(request)
        )
        return Response(OrderSummaryOutputSerializer(summary).data)


class LoyaltyApi(APIView):
    """The signed-in customer's loyalty points and coupons."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        class CouponSerializer(serializers.Serializer):
            id = serializers.UUIDField(format="hex")
            order_id = serializers.UUIDField(format="hex")
            amount = serializers.DecimalField(
                max_digits=12, decimal_places=2, coerce_to_string=False
            )
            granted_at = serializers.DateTimeField()

        points = serializers.IntegerField()
        coupons = CouponSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        loyalty = {
            "points": selectors.loyalty_points_balance(customer_id=customer_id_of(request)),
            "coupons": selectors.coupon_list(customer_id=customer_id_of(request)),
        }
        return Response(self.OutputSerializer(loyalty).data)
