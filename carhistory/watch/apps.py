from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WatchConfig(AppConfig):
    name = "carhistory.watch"
    verbose_name = _("Watched cars")

    def ready(self) -> None:
        from carhistory.watch import receivers  # noqa: F401 (connects the signal receivers)
