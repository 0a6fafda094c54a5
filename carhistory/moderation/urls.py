from django.urls import path

from carhistory.moderation import views

app_name = "moderation"

urlpatterns = [
    path("sources/apply", views.apply, name="apply"),
    path("sources/apply/thanks", views.apply_thanks, name="apply-thanks"),
    path(
        "vehicles/<str:vin>/entries/<int:index>/dispute",
        views.dispute_new,
        name="dispute-new",
    ),
    path("moderation/", views.queue, name="queue"),
    path(
        "moderation/applications/<int:pk>/approve",
        views.approve_application,
        name="approve-application",
    ),
    path(
        "moderation/applications/<int:pk>/reject",
        views.reject_application,
        name="reject-application",
    ),
    path("moderation/sources/<int:pk>/status", views.source_status, name="source-status"),
    path("moderation/sources/<int:pk>/profile", views.source_profile, name="source-profile"),
    path("moderation/disputes/<int:pk>", views.dispute_detail, name="dispute"),
    path("moderation/disputes/<int:pk>/accept", views.accept_dispute, name="dispute-accept"),
    path("moderation/erase", views.erase, name="erase"),
]
