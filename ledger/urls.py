"""The log's public paths, spelled out in full (SPEC §4)."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("log/checkpoint", views.checkpoint, name="log-checkpoint"),
    path("log/key", views.log_key, name="log-key"),
    # tlog-tiles paths have a variable number of segments; parse_tile_path judges them.
    re_path(r"^log/tile/(?P<tile_path>.*)$", views.tile, name="log-tile"),
    path(
        "api/v1/log/proof/inclusion",
        views.InclusionProofView.as_view(),
        name="log-inclusion-proof",
    ),
    path(
        "api/v1/log/proof/consistency",
        views.ConsistencyProofView.as_view(),
        name="log-consistency-proof",
    ),
    path("api/v1/log/cosignatures", views.CosignatureView.as_view(), name="log-cosignatures"),
]
