from django.apps import AppConfig
from django.db import router


class ProductsConfig(AppConfig):
    name = "products"

    def ready(self) -> None:
        from outbox.core.registry import register_service
        from products.handlers import EVENT_HANDLERS

        register_service(
            "product", EVENT_HANDLERS, database=router.db_for_write(self.get_model("Product"))
        )
