from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "products"

    def ready(self) -> None:
        from outbox.registry import register_service
        from products.handlers import EVENT_HANDLERS

        register_service("product", EVENT_HANDLERS)
