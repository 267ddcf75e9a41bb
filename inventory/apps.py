from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from inventory.handlers import EVENT_HANDLERS
        from outbox.registry import register_service

        register_service("inventory", EVENT_HANDLERS)
