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

# Each route's literal beginning, as a request path starts: the session, user and message
# middleware pass these on (carhistory/browser_middleware.py), so a route added here is covered.
PATH_PREFIXES = tuple("/" + str(pattern.pattern).split("<", 1)[0] for pattern in urlpatterns)
