"""The vehicles JSON API (SPEC §4), with full public paths; included by vehicles/urls.py."""

from django.urls import path

from carhistory.vehicles import api

urlpatterns = [
    path("api/v1/vehicles/<str:vin>/report", api.VehicleReportView.as_view(), name="api-report"),
    path(
        "api/v1/vehicles/<str:vin>/evidence",
        api.VehicleEvidenceView.as_view(),
        name="api-evidence",
    ),
    path("api/v1/vins/<str:raw>/check", api.VinCheckView.as_view(), name="api-vin-check"),
]
