from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        import orders.loyalty  # noqa: F401 - registers the reward listeners
        from orders.handlers import EVENT_HANDLERS
        from outbox.registry import register_service

        register_service("order", EVENT_HANDLERS)
