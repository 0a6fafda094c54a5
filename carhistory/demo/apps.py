from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """Demonstration data and the `load_demo` command. Nothing in the site imports this app;
    it offers its cars to the search page through `vehicles.showcase` instead."""

    name = "carhistory.demo"
    verbose_name = _("Demo")

    def ready(self) -> None:
        from carhistory.demo.data import DEMO_VINS
        from carhistory.vehicles.showcase import offer_examples

        offer_examples(DEMO_VINS)
