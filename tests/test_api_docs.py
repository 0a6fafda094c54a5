"""The OpenAPI schema documents the whole API, and its browsable docs need no CDN."""

import pytest

pytestmark = pytest.mark.django_db

DOCUMENTED_PATHS = [
    "/api/v1/events",
    "/api/v1/events/batch",
    "/api/v1/events/{submission_id}",
    "/api/v1/vins/{raw}/check",
    "/api/v1/log/proof/inclusion",
    "/api/v1/log/proof/consistency",
    "/api/v1/vehicles/{vin}/report",
    "/api/v1/vehicles/{vin}/evidence",
]


def test_the_schema_documents_every_public_api_path(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    missing = [path for path in DOCUMENTED_PATHS if path not in schema["paths"]]
    assert missing == []


def test_the_browsable_docs_load_swagger_ui_from_our_own_static_files(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn.jsdelivr.net" not in page


def test_the_schema_documents_each_event_types_facts_with_a_valid_example(client):
    from carhistory.sources.schemas import EVENT_SCHEMAS, validate_submission

    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    for event_type, rules in EVENT_SCHEMAS.items():
        assert set(components[f"Facts_{event_type}"]["properties"]) == set(rules.facts)
    post = schema["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]
    examples = post["application/json"]["examples"]
    assert set(examples) == set(EVENT_SCHEMAS)
    for example in examples.values():
        _event, errors = validate_submission(example["value"])
        assert errors == {}, (example, errors)


def test_the_schema_lists_the_log_endpoints(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in ("/log/checkpoint", "/log/key", "/log/vrf-key", "/log/tile/{tile_path}"):
        assert path in paths
    assert "/api/v1/log/proof/inclusion" in paths
