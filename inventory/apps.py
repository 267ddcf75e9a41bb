from django.apps import AppConfig
from django.db import router


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from inventory.handlers import EVENT_HANDLERS, UPCASTERS
        from outbox.core.registry import register_service

        register_service(
            "inventory",
            EVENT_HANDLERS,
            database=router.db_for_write(self.get_model("Inventory")),
            upcasters=UPCASTERS,
        )
