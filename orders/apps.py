from django.apps import AppConfig
from django.db import router


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders.handlers import EVENT_HANDLERS, UPCASTERS
        from outbox.core.registry import register_service

        register_service(
            "order",
            EVENT_HANDLERS,
            database=router.db_for_write(self.get_model("Order")),
            upcasters=UPCASTERS,
        )
