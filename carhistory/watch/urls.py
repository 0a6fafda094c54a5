from django.urls import path

from carhistory.watch import api, views

app_name = "watch"

urlpatterns = [
    path("api/v1/vehicles/<str:vin>/watch", api.WatchView.as_view(), name="api-watch"),
    path("vehicles/<str:vin>/watch", views.watch, name="watch"),
    path("watch/confirm/<str:token>", views.confirm, name="confirm"),
    path("watch/unsubscribe/<str:token>", views.unsubscribe, name="unsubscribe"),
]
