from django.contrib.auth import views as auth_views
from django.urls import include, path

from carhistory.portal import views
from carhistory.rate_limits import rate_limited

portal_patterns = [
    path("accounts/start", views.start, name="start"),
    path("portal/", views.dashboard, name="dashboard"),
    path("portal/events/new", views.event_new, name="event-new"),
    path("portal/submissions/<uuid:public_id>", views.submission, name="submission"),
    path("portal/csv/", views.csv_upload, name="csv-upload"),
    path("portal/csv/<int:pk>/", views.csv_detail, name="csv-detail"),
    path("portal/csv/<int:pk>/progress.json", views.csv_progress, name="csv-progress"),
    path("portal/csv/<int:pk>/errors.csv", views.csv_errors, name="csv-errors"),
    path("portal/csv/template/<str:kind>.csv", views.csv_template, name="csv-template"),
    path("portal/keys/", views.keys, name="keys"),
    path("portal/disputes/", views.disputes, name="disputes"),
    path("portal/keys/api/<int:pk>/revoke", views.revoke_api_key, name="revoke-api-key"),
]

urlpatterns = [
    # Django's sign-in pages keep their un-namespaced names ("login", "logout"), which its own
    # views and LOGIN_URL refer to.
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(next_page="portal:start"),
        name="login",
    ),
    # Each reset request sends an e-mail: limited per client address (carhistory/rate_limits.py).
    path(
        "accounts/password_reset/",
        rate_limited("password_reset")(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include((portal_patterns, "portal"))),
]
