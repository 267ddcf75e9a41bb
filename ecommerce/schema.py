"""The OpenAPI schema's names: one component per serializer and one operation id per endpoint.

Every API class nests its serializers under the same few names (`InputSerializer`), and two
contexts may each have a `CreatedSerializer`: named by class alone, distinct serializers would
share one schema component. The list and the detail endpoint of a resource are both a GET, and
would share one operation id.
"""

import uritemplate
from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

SERVICE_OF_APP = {app: service for service, app in settings.CONTEXT_APPS.items()}


class ContextAutoSchema(AutoSchema):
    def get_serializer_name(self, serializer: serializers.Serializer, direction: str) -> str:
        """`InventoryIncreaseApi.InputSerializer` -> `InventoryIncreaseInputSerializer`;
        a context's module-level serializer is prefixed by its service unless named after it."""
        cls = type(serializer)
        owner, _, name = cls.__qualname__.rpartition(".")
        if owner:
            return owner.removesuffix("Api") + name
        service = SERVICE_OF_APP.get(cls.__module__.partition(".")[0])
        if service and not name.lower().startswith(service):
            return service.capitalize() + name
        return name

    def get_operation_id(self) -> str:
        """A GET without a path variable on a generic view lists: `products_list`, not
        `products_retrieve` like the detail endpoint's."""
        operation_id = super().get_operation_id()
        lists = (
            self.method == "GET"
            and isinstance(self.view, GenericAPIView)
            and not uritemplate.variables(self.path)
        )
        if lists and operation_id.endswith("_retrieve"):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id
