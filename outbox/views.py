from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from outbox.health import health_report


class HealthApi(APIView):
    """Database, broker, outbox backlog and dead letters; 503 when something is down."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        report = health_report()
        code = status.HTTP_200_OK if report["healthy"] else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report, status=code)
