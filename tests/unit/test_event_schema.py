"""The event format's published schema: generated from the models that validate events,
committed, referenced by the OpenAPI document, with an example per type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.jsonschema_lite import ANNOTATIONS, ASSERTIONS, errors
from veilleur.cli import app
from veilleur.eventformat import MODELS, EventFormatError, validate
from veilleur.events import PLATFORM_TYPES
from veilleur.eventschema import SCHEMA_FILE, dumps, event_schema
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.fields import FieldError
from veilleur.ingest.media import MediaReader

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "events"
SCHEMA: dict[str, Any] = json.loads((ROOT / SCHEMA_FILE).read_text(encoding="utf-8"))
OPENAPI: dict[str, Any] = json.loads((ROOT / "docs" / "openapi.json").read_text("utf-8"))


def _examples() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(EXAMPLES.glob("*.json"))}


def _keywords(node: Any, out: set[str]) -> set[str]:
    """Every keyword used anywhere in a schema (property names and mappings are not)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("properties", "$defs"):
                for sub in v.values():
                    _keywords(sub, out)
            elif k != "discriminator":
                out.add(k)
                _keywords(v, out)
    elif isinstance(node, list):
        for item in node:
            _keywords(item, out)
    return out


def test_the_committed_schema_is_what_the_code_generates() -> None:
    """Regenerate with `veilleur schema events` (or `make schemas`)."""
    assert (ROOT / SCHEMA_FILE).read_text(encoding="utf-8") == dumps(event_schema())


def test_the_schema_is_2020_12_with_one_variant_per_type() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    mapping = SCHEMA["discriminator"]["mapping"]
    assert SCHEMA["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(MODELS)
    assert [v["$ref"] for v in SCHEMA["oneOf"]] == [
        f"#/$defs/{MODELS[t].__name__}" for t in MODELS]
    for tag, ref in mapping.items():
        variant = SCHEMA["$defs"][ref.removeprefix("#/$defs/")]
        assert variant["properties"]["type"]["const"] == tag
        assert {"type", "ts"} <= set(variant["required"])
    # The checker the other tests use knows every keyword the schema holds.
    assert _keywords(SCHEMA, set()) <= ASSERTIONS | ANNOTATIONS


def test_openapi_describes_event_items_with_the_same_definitions() -> None:
    body = OPENAPI["paths"]["/v1/events"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    items = body["properties"]["events"]["items"]
    assert items["discriminator"]["propertyName"] == "type"
    mapping = items["discriminator"]["mapping"]
    assert set(mapping) == PLATFORM_TYPES  # reports, orders, complaints have their doors
    components = OPENAPI["components"]["schemas"]
    for tag, ref in mapping.items():
        assert {"$ref": ref} in items["oneOf"]
        name = ref.removeprefix("#/components/schemas/")
        local = json.dumps(SCHEMA["$defs"][name]).replace("#/$defs/", "#/components/schemas/")
        assert components[name] == json.loads(local), name
        assert components[name]["properties"]["type"]["const"] == tag
    answer = OPENAPI["paths"]["/v1/events"]["post"]["responses"]["202"]["content"][
        "application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/BatchAnswer"}


def test_an_example_per_type_conforms_and_is_read(tmp_path: Path) -> None:
    examples = _examples()
    assert set(examples) == set(MODELS)
    for name, raw in examples.items():
        assert raw["type"] == name
        assert errors(SCHEMA, raw) == [], name
        event = parse_event(raw, tmp_path, MediaReader(), "example")
        assert event.type == name


@pytest.mark.parametrize(("raw", "said"), [
    ({"type": "message", "ts": "2026-11-20T10:00:00Z", "message": {
        "id": "m", "channel_id": "c", "author_id": "u", "attachments": [{"path": "x.png"}]}},
     "missing 'message.attachments[0].id'"),
    ({"type": "message", "ts": "2026-11-20T10:00:00Z", "message": {
        "id": "m", "channel_id": "c", "author_id": "u", "recipient_ids": ["a", 7]}},
     "'message.recipient_ids[1]' must be a string, got an integer"),
    ({"type": "channel_created", "ts": "2026-11-20T10:00:00Z", "channel": {
        "id": "", "name": "x"}}, "'channel.id' must be a non-empty string id, got a string ''"),
    ({"type": "guild_deleted", "ts": "2026-02-30T10:00:00Z", "guild_id": "g", "by": "owner"},
     "'ts' is not an ISO 8601 timestamp: '2026-02-30T10:00:00Z' (day is out of range"),
    ({"type": "member_left", "ts": "2026-11-20T10:00:00Z", "guild_id": "g",
      "user_id": "u"} | {"type": ["member_left"]}, "'type' must be a string, got an array"),
    ("message", "the event must be an object, got a string"),
    ({"type": "guild_updated", "ts": "2026-11-20T10:00:00Z", "guild": {
        "id": "g", "roles": ["Modo", "x" * 101]}},
     "'guild.roles[1]': String should have at most 100 characters"),
    ({"type": "guild_updated", "ts": "2026-11-20T10:00:00Z", "guild": {
        "id": "g", "roles": ["r"] * 251}}, "'guild.roles': List should have at most 250"),
    ({"type": "message", "ts": "2026-11-20T10:00:00Z", "message": {
        "id": "m", "channel_id": "c", "author_id": "u", "pinned": "yes"}},
     "'message.pinned' must be true or false, got a string"),
])
def test_a_bad_event_names_the_field_and_the_fault(raw: Any, said: str) -> None:
    with pytest.raises(EventFormatError) as caught:
        validate(raw)
    assert said in str(caught.value)
    assert isinstance(caught.value, FieldError)  # what every reader already reports


def test_the_command_writes_and_checks_the_schema(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "s" / "events.schema.json"
    assert runner.invoke(app, ["schema", "events", "--out", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == dumps(event_schema())
    assert runner.invoke(app, ["schema", "events", "--out", str(out), "--check"]
                         ).exit_code == 0
    out.write_text("{}\n", encoding="utf-8")
    stale = runner.invoke(app, ["schema", "events", "--out", str(out), "--check"])
    assert stale.exit_code == 1 and "differs from the code" in stale.output
    missing = runner.invoke(app, ["schema", "events", "--out", str(tmp_path / "no"),
                                  "--check"])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        here = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return here.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_every_reference_of_the_documents_resolves() -> None:
    components = OPENAPI["components"]["schemas"]
    for ref in _refs(OPENAPI):
        assert ref.removeprefix("#/components/schemas/") in components, ref
    for ref in _refs(SCHEMA):
        assert ref.removeprefix("#/$defs/") in SCHEMA["$defs"], ref
    verdict = OPENAPI["paths"]["/v1/verdict"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert {"$ref": "#/components/schemas/MessageEvent"} in verdict["anyOf"]
