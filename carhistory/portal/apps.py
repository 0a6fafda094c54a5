from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "carhistory.portal"
    verbose_name = "Source portal"
