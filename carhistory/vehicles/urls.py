"""Buyer-facing pages, plus the vehicles JSON API (SPEC.md §4)."""

from django.urls import include, path

from carhistory.vehicles import dispute, views

app_name = "vehicles"

urlpatterns = [
    path("", include("carhistory.vehicles.api_urls")),
    path("", views.search, name="search"),
    path("vehicles/<str:vin>/", views.report, name="report"),
    path("vehicles/<str:vin>/print", views.print_report, name="print"),
    path("vehicles/<str:vin>/qr.svg", views.report_qr, name="qr"),
    path("vehicles/<str:vin>/evidence.json", views.evidence_download, name="evidence-download"),
    path(
        "vehicles/<str:vin>/entries/<int:index>/dispute",
        dispute.dispute_new,
        name="dispute-new",
    ),
    path("verify/words.json", views.verify_words, name="verify-words"),
]
