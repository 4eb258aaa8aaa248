"""The event format's JSON Schema, generated from `eventformat`'s models (never written by hand).

- `event_schema()`: one event of an event log (every type), JSON Schema 2020-12, committed as
  `schemas/events.schema.json` (`veilleur schema events` writes it).
- `openapi_components()`: the same definitions for the OpenAPI document, where
  `POST /v1/events` takes the platform's types only (`batch_schema()`).

Tests fail when a committed copy differs from what the code generates.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import CoreSchema

from veilleur.eventformat import ANY_EVENT, PLATFORM_EVENT

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILE = "schemas/events.schema.json"
OPENAPI_REF = "#/components/schemas/{model}"


class _Generator(GenerateJsonSchema):
    # "Ts", "Event Id"...: a title per property repeats its name and adds nothing.
    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


def _generate(adapter: TypeAdapter[Any], ref_template: str) -> dict[str, Any]:
    return adapter.json_schema(ref_template=ref_template, schema_generator=_Generator)


def event_schema() -> dict[str, Any]:
    """One event of an event log (JSON Lines: one such object a line)."""
    body = _generate(ANY_EVENT, "#/$defs/{model}")
    return {
        "$schema": DIALECT,
        "$id": "events.schema.json",
        "title": "Veilleur platform event",
        "description": (
            "One event, as a line of an event log (veilleur scan, veilleur replay) or an item "
            "of POST /v1/events. `type` names the variant (`discriminator`). Unknown keys are "
            "ignored. Reports, order updates and complaints carry legal weight: the service "
            "takes them only through their own endpoints, never in /v1/events. Generated "
            "from src/veilleur/eventformat.py by `veilleur schema events`; do not edit."),
        **body,
    }


def openapi_components() -> dict[str, dict[str, Any]]:
    """Every definition the platform's event types use, keyed by component name (the types
    of legal weight have their own endpoints and bodies)."""
    defs: dict[str, dict[str, Any]] = _generate(PLATFORM_EVENT, OPENAPI_REF).get("$defs", {})
    return defs


def batch_schema(max_items: int) -> dict[str, Any]:
    """The body of `POST /v1/events`: the platform's event types, each a component."""
    union = _generate(PLATFORM_EVENT, OPENAPI_REF)
    union.pop("$defs", None)
    return {
        "type": "object", "title": "EventBatch", "additionalProperties": False,
        "required": ["events"],
        "description": (
            "Platform events, each validated on its own: a bad one is listed in `rejected` "
            "with its index and what is wrong, the others are kept."),
        "properties": {"events": {"type": "array", "maxItems": max_items, "items": union}},
    }


def verdict_schema() -> dict[str, Any]:
    """The body of `POST /v1/verdict`: a `message` event, or its `message` alone (the type
    and the time are then the service's)."""
    ref = OPENAPI_REF.format(model="Message")
    return {"anyOf": [
        {"$ref": OPENAPI_REF.format(model="MessageEvent")},
        {"type": "object", "required": ["message"], "properties": {"message": {"$ref": ref}},
         "title": "Message now"}]}


def add_components(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` (an OpenAPI document) with the event components added. A name already taken by
    another schema is an error, not an overwrite: both would be wrong."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in openapi_components().items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"the OpenAPI component {name!r} is both an API body and an "
                             "event definition: rename one")
        schemas[name] = schema
    doc["components"]["schemas"] = dict(sorted(schemas.items()))
    return doc


def dumps(schema: dict[str, Any]) -> str:
    """The committed text: stable, so a diff shows only what changed."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
