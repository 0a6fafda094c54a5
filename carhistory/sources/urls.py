"""The submissions API (SPEC §4)."""

from django.urls import path

from carhistory.sources import api

urlpatterns = [
    path("api/v1/events", api.EventView.as_view(), name="api-events"),
    path("api/v1/events/batch", api.EventBatchView.as_view(), name="api-events-batch"),
    path(
        "api/v1/imports/repair-records",
        api.RepairRecordsView.as_view(),
        name="api-repair-records",
    ),
    path("api/v1/signing-keys", api.SigningKeyView.as_view(), name="api-signing-keys"),
    path(
        "api/v1/events/<uuid:submission_id>",
        api.EventStatusView.as_view(),
        name="api-event-status",
    ),
]
