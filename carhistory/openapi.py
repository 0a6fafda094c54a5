"""What drf-spectacular cannot see by itself, added to the OpenAPI schema (/api/schema/).

- The `facts` of a submission, one schema per event type, and an example submission of each
  type, generated from `sources.schemas` (the one place the event rules live), so the docs
  cannot drift from what the API accepts.
- The log's plain-text endpoints (SPEC §4), which are Django views, not DRF ones.
"""

from typing import Any

from carhistory_verifier.submit.records import fact_kinds

from carhistory.sources.schemas import (
    EVENT_SCHEMAS,
    FACT_EXAMPLES,
    ODOMETER_MAX_KM,
    TEXT_MAX_LENGTH,
    Odometer,
)

EXAMPLE_VIN = "LSVAU218XN2183294"  # passes its check digit (tests/test_docs_vins.py)
EXAMPLE_DATE = "2024-05-03"

_TEXT_PLAIN = {"text/plain": {"schema": {"type": "string"}}}
LOG_ENDPOINTS = {
    "/log/checkpoint": (
        "The latest signed checkpoint (C2SP tlog-checkpoint as a signed note), with every "
        "witness cosignature the log holds for it."
    ),
    "/log/key": "The log's verifier key line (name+keyid+base64), to pin in a verifier.",
    "/log/vrf-key": "The log's VRF public key (SPEC §7), standard base64 of 32 bytes.",
}


def _fact_schema(name: str, rule) -> dict[str, Any]:
    kind = fact_kinds()[name]
    if rule.choices:
        return {"type": "string", "enum": list(rule.choices)}
    if kind == "list":
        return {"type": "array", "items": {"type": "string", "maxLength": TEXT_MAX_LENGTH}}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "integer":
        return {"type": "integer"}
    return {"type": "string", "maxLength": TEXT_MAX_LENGTH}


def facts_schemas() -> dict[str, dict[str, Any]]:
    """Component schemas `Facts_<type>`: the public facts of each event type (SPEC §5)."""
    schemas = {}
    for event_type, schema in EVENT_SCHEMAS.items():
        event_type = str(event_type)
        facts = {
            "type": "object",
            "title": f"facts of a {event_type} event",
            "properties": {name: _fact_schema(name, rule) for name, rule in schema.facts.items()},
            "additionalProperties": False,
        }
        required = [name for name, rule in schema.facts.items() if rule.required]
        if required:  # OpenAPI 3.0 wants a non-empty list or none
            facts["required"] = required
        schemas[f"Facts_{event_type}"] = facts
    return schemas


def example_submissions() -> dict[str, dict[str, Any]]:
    """One valid submission body of each event type."""
    examples = {}
    for event_type, schema in EVENT_SCHEMAS.items():
        event_type = str(event_type)
        body: dict[str, Any] = {"vin": EXAMPLE_VIN, "type": event_type, "occurred_at": EXAMPLE_DATE}
        if schema.odometer != Odometer.ABSENT:
            body["odometer_km"] = 45210
        if schema.facts:
            body["facts"] = {name: FACT_EXAMPLES[name] for name in schema.facts}
        body["external_id"] = f"{event_type}-0001"
        examples[event_type] = {"summary": f"a {event_type} event", "value": body}
    return examples


def postprocess(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.update(facts_schemas())
    submission = components.get("EventSubmission", {}).get("properties", {})
    if "facts" in submission:
        submission["facts"] = {
            "description": submission["facts"].get("description", ""),
            "oneOf": [{"$ref": f"#/components/schemas/Facts_{name!s}"} for name in EVENT_SCHEMAS],
        }
    if "odometer_km" in submission:
        submission["odometer_km"]["maximum"] = ODOMETER_MAX_KM
    content = (
        result.get("paths", {})
        .get("/api/v1/events", {})
        .get("post", {})
        .get("requestBody", {})
        .get("content", {})
    )
    for media in content.values():
        media["examples"] = example_submissions()
    for path, description in LOG_ENDPOINTS.items():
        result["paths"][path] = {
            "get": {
                "operationId": path.strip("/").replace("/", "_").replace("-", "_"),
                "description": description,
                "tags": ["log"],
                "security": [],
                "responses": {"200": {"description": "OK", "content": _TEXT_PLAIN}},
            }
        }
    result["paths"]["/log/tile/{tile_path}"] = {
        "get": {
            "operationId": "log_tile",
            "description": (
                "C2SP tlog-tiles hash tiles of height 8: `<L>/<N>` or a partial "
                "`<L>/<N>.p/<W>`, N in the tlog-tiles x001/x234/067 form. Entry bundles are not "
                "public (entries carry VINs)."
            ),
            "tags": ["log"],
            "security": [],
            "parameters": [
                {"name": "tile_path", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "The tile's hashes, 32 bytes each, concatenated.",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "404": {"description": "No such tile (yet)."},
            },
        }
    }
    return result
