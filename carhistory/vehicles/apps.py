from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VehiclesConfig(AppConfig):
    name = "carhistory.vehicles"
    verbose_name = _("Vehicles")

    def ready(self) -> None:
        from carhistory.vehicles import receivers  # noqa: F401 - connects the receivers
