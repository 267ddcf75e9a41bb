from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders.handlers import EVENT_HANDLERS
        from outbox.registry import register_service

        register_service("order", EVENT_HANDLERS)
