"""The published JSON Schema and the validator say the same thing: on generated events (good
ones, and ones with a field missing, of the wrong type, out of its range, or extra), what
`eventformat.validate` accepts conforms to schemas/events.schema.json, and what conforms is
accepted. The one difference is stated in the schema: its timestamp pattern does not know
month lengths (2026-02-30 matches it; the validator refuses it), so the timestamps generated
here are real dates or plainly not dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.jsonschema_lite import errors
from veilleur.eventformat import MODELS, Build, EventFormatError, parse
from veilleur.ingest.media import MediaReader
from veilleur.taxonomy import TargetKind

SCHEMA: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "schemas" / "events.schema.json").read_text("utf-8"))

scalar = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
          | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1.0, -3.0, 2.5])
          | st.text(max_size=6))
anything = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                        max_leaves=6)


def sometimes(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a good value (so that whole events are often good), now and then anything."""
    return or_rarely(good, anything)


def or_rarely(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]
              ) -> st.SearchStrategy[Any]:
    # A plain `good | bad` draws `bad` half the time: nearly every event would be refused.
    return st.integers(0, 24).flatmap(lambda i: bad if i == 0 else good)


ident = sometimes(or_rarely(st.text(min_size=1, max_size=6) | st.integers(), st.just("")))
opt_ident = sometimes(ident | st.none() | st.just(""))
text = sometimes(st.text(max_size=8))
opt_text = sometimes(st.text(max_size=8) | st.none())
ZONES = [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    when = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                             timezones=st.sampled_from(ZONES)))
    style = draw(st.sampled_from(["iso", "z", "space", "minutes", "micro"]))
    if style == "z" and when.tzinfo is not None:
        return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    if style == "space":
        return when.isoformat(sep=" ", timespec="seconds")
    if style == "minutes":
        return when.isoformat(timespec="minutes")
    if style == "micro":
        return when.isoformat(timespec="microseconds")
    return when.isoformat()


ts = sometimes(or_rarely(timestamps(), st.sampled_from([
    "yesterday", "2026-13-01T00:00:00Z", "2026-11-20", "2026-11-20T25:00:00Z",
    "2026-11-20T10:00:00+24:00", "20261120T100000Z", "2026-11-20t10:00:00Z",
    "2026-11-20T10:00:00Z\n", "0000-01-01T00:00:00Z", "２０２６-11-20T10:00:00Z"])))
opt_ts = sometimes(ts | st.none())


def choice(values: list[str], optional: bool = False) -> st.SearchStrategy[Any]:
    good = or_rarely(st.sampled_from(values), st.sampled_from(["bogus", "", values[0].upper()]))
    return sometimes(good | st.none() if optional else good)


@st.composite
def obj(draw: st.DrawFn, required: dict[str, st.SearchStrategy[Any]],
        optional: dict[str, st.SearchStrategy[Any]] | None = None) -> Any:
    """An object with its required keys (one may be dropped), some optional ones, maybe an
    unknown one; or, now and then, not an object at all."""
    if draw(st.integers(0, 49)) == 0:
        return draw(anything)
    out = {k: draw(s) for k, s in required.items()}
    out |= draw(st.fixed_dictionaries({}, optional=optional or {}))
    if required and draw(st.integers(0, 29)) == 0:
        out.pop(draw(st.sampled_from(sorted(required))))
    if draw(st.integers(0, 4)) == 0:
        out[draw(st.sampled_from(["extra", "received_by", "filename"]))] = draw(anything)
    return out


target = obj({"kind": choice([k.value for k in TargetKind]), "id": ident})
user = obj({"id": ident}, {"name": opt_text, "created_at": opt_ts,
                           "age_band": choice(["under_13", "13_15", "16_17", "adult"], True)})
guild = obj({"id": ident}, {"name": opt_text, "owner_id": opt_ident, "description": opt_text})
channel = obj({"id": ident}, {"guild_id": opt_ident, "name": opt_text, "topic": opt_text,
                              "kind": sometimes(st.sampled_from(["text", "dm", "stage"])
                                                | st.none()), "parent_id": opt_ident})
attachment = obj({"id": ident}, {"path": opt_text, "content_type": opt_text})
message = obj({"id": ident, "channel_id": ident, "author_id": ident}, {
    "guild_id": opt_ident, "content": opt_text,
    "recipient_ids": sometimes(st.lists(text, max_size=3) | st.none()),
    "attachments": sometimes(st.lists(attachment, max_size=2) | st.none()),
    "edited_at": sometimes(timestamps() | st.none())})
report = obj({"id": ident, "source": choice(["user", "dsa_notice", "trusted_flagger",
                                             "authority"]), "target": target}, {
    "category_claimed": opt_text, "explanation": opt_text, "reporter_id": opt_ident,
    "notifier": sometimes(st.dictionaries(st.text(max_size=4), opt_text, max_size=3)
                          | st.none()),
    "flagger": opt_text, "notice_id": opt_text, "locator": opt_text,
    "bona_fide": sometimes(st.booleans() | st.none())})
complaint = obj({"id": ident, "target": target, "by": choice(["affected", "notifier"])}, {
    "complainant_id": opt_ident, "decision_id": opt_text, "report_id": opt_ident,
    "explanation": opt_text, "email": opt_text})

FIELDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "user_seen": ({"user": user}, {}),
    "guild_created": ({"guild": guild}, {}),
    "guild_updated": ({"guild": guild}, {}),
    "guild_deleted": ({"guild_id": ident, "by": choice(["owner", "platform"])}, {}),
    "channel_created": ({"channel": channel}, {}),
    "channel_deleted": ({"channel_id": ident, "by": choice(["author", "moderator",
                                                            "platform"])},
                        {"guild_id": opt_ident}),
    "member_joined": ({"guild_id": ident, "user_id": ident}, {"invite_code": opt_text}),
    "member_left": ({"guild_id": ident, "user_id": ident}, {}),
    "invite_created": ({"invite": obj({"code": text, "guild_id": ident,
                                       "inviter_id": ident})}, {}),
    "message": ({"message": message}, {}),
    "message_deleted": ({"message_id": ident,
                         "by": choice(["author", "moderator", "platform"])}, {}),
    "report": ({"report": report}, {}),
    "order_update": ({"report_id": ident, "status": choice([
        "force_majeure", "obstacle_cleared", "clarification_requested",
        "clarification_received"])}, {"note": opt_text}),
    "complaint": ({"complaint": complaint}, {}),
}
types = st.sampled_from([*MODELS, "teleport"])


@st.composite
def events(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(sorted(FIELDS)))
    required, optional = FIELDS[kind]
    raw = draw(obj({"type": sometimes(or_rarely(st.just(kind), types)), "ts": ts, **required},
                   {"event_id": opt_text, **optional}))
    # What a JSON decoder would hand over (NaN and Infinity too: Python's decoder reads them).
    return json.loads(json.dumps(raw))


def test_the_generator_covers_every_type() -> None:
    assert set(FIELDS) == set(MODELS)


@settings(max_examples=600, deadline=None)
@given(raw=events())
def test_the_validator_accepts_exactly_what_the_schema_allows(raw: Any) -> None:
    try:
        event = parse(raw, Build(Path("/nonexistent"), MediaReader(read_local=False), "t"))
    except EventFormatError as exc:
        accepted, why = False, str(exc)
    else:
        accepted, why = True, ""
        assert event.type == raw["type"]
    assert accepted == (not errors(SCHEMA, raw)), (why, errors(SCHEMA, raw))
