"""The log's public paths, spelled out in full (SPEC §4)."""

from django.urls import path, re_path

from . import mirror_views, views

urlpatterns = [
    path("log/checkpoint", views.checkpoint, name="log-checkpoint"),
    path("log/key", views.log_key, name="log-key"),
    path("log/vrf-key", views.vrf_key, name="log-vrf-key"),
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
    # Mirrors only (a token from `manage.py add_mirror`): entries are private.
    re_path(
        r"^api/v1/mirror/tile/entries/(?P<bundle_path>.*)$",
        mirror_views.EntryBundleView.as_view(),
        name="mirror-entry-bundle",
    ),
    path("api/v1/mirror/entries", mirror_views.EntryRangeView.as_view(), name="mirror-entries"),
    path(
        "api/v1/mirror/vrf-proofs", mirror_views.VrfProofsView.as_view(), name="mirror-vrf-proofs"
    ),
    path(
        "api/v1/mirror/cosignatures",
        mirror_views.MirrorCosignatureView.as_view(),
        name="mirror-cosignatures",
    ),
]
