from django.apps import AppConfig


class EcommerceConfig(AppConfig):
    """The project's own app: its templates, commands, and the signal receivers below."""

    name = "ecommerce"

    def ready(self) -> None:
        # A password change revokes the user's API tokens, whichever path saves it.
        from ecommerce import tokens  # noqa: F401
