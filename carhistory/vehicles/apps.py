from django.apps import AppConfig


class VehiclesConfig(AppConfig):
    name = "carhistory.vehicles"
