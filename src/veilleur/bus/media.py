"""What travels on `media-hashes`: one attachment's hashes and where it was posted.

The detect stage writes one *sighting* per attachment that has a hash (its MD5 and SHA-256,
its PDQ and every PDQ worth looking up: orientations, trimmed borders, video frames), keyed
by the attachment's id on a compacted topic: the log keeps each attachment's last sighting
for good, as the embedded store keeps `media_hashes` rows, so that a bank learning an entry
later can look back at everything seen before (`retro.py`). What the message said is not
kept here (the topic is kept forever; it holds hashes and places only).

Reading is the hostile side: anything on the topic may have been written by another tool or
by an attacker with write access, so `read_sighting` checks every field and says what is
wrong (`SightingError`) instead of raising anything else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from veilleur.bus import topics
from veilleur.detect.media.hashing import MediaHashes
from veilleur.detect.media.pdq import PdqHash
from veilleur.events import Attachment, Event, Message, MessagePosted

VERSION = 1
MAX_LOOKUPS = 4096
"""PDQs kept per attachment (a still picture has at most 19; a long video's sampled frames
more): bounds a message at ~300 KB and a replay's memory per message."""
MAX_ID = 200
_HEX = {"md5": re.compile(r"[0-9a-f]{32}"), "sha256": re.compile(r"[0-9a-f]{64}"),
        "pdq": re.compile(r"[0-9a-f]{64}")}
_KINDS = frozenset({"image", "video"})


class SightingError(ValueError):
    """A media-hashes message that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class Sighting:
    attachment_id: str
    filename: str | None
    message: Message
    """Where it was posted (the message's text is not carried: empty)."""
    ts: datetime
    event_id: str
    """The idempotency key of the event that posted it (`service.inbox.event_key`)."""
    hashes: MediaHashes

    @property
    def place(self) -> str:
        """The partition key of the place it was posted (`topics.partition_key`)."""
        return topics.partition_key(MessagePosted(ts=self.ts, message=self.message))


def sightings(event: Event, event_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(key, value) for each attachment of `event` that has a hash; none for other events."""
    if not isinstance(event, MessagePosted):
        return []
    out = []
    for att in event.message.attachments:
        value = sighting_json(att, event.message, event.ts, event_id)
        if value is not None:
            out.append((att.id, value))
    return out


def answers(event: Event, event_id: str) -> list[dict[str, Any]]:
    """The detect stage's answers for media-hashes: `sightings` wrapped so the stage's
    stream tells them from findings and dead letters (`is_sighting`, `unwrap`)."""
    return [{"sighting": value, "key": key} for key, value in sightings(event, event_id)]


def is_sighting(answer: dict[str, Any]) -> bool:
    return "sighting" in answer


def unwrap(answer: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = answer["sighting"]
    return value


def sighting_json(att: Attachment, message: Message, ts: datetime, event_id: str
                  ) -> dict[str, Any] | None:
    h = att.media
    md5 = att.md5 or (h.md5 if h is not None else None)
    sha256 = att.sha256 or (h.sha256 if h is not None else None)
    lookups = list(h.lookups[:MAX_LOOKUPS]) if h is not None else []
    if not (md5 or sha256 or lookups):
        return None
    pdq = h.pdq if h is not None else None
    labels = list(h.lookup_labels[:len(lookups)]) if h is not None else []
    return {
        "v": VERSION, "attachment_id": att.id, "filename": att.filename,
        "kind": h.kind if h is not None else None, "md5": md5, "sha256": sha256,
        "pdq": pdq.hex if pdq is not None else None,
        "pdq_quality": pdq.quality if pdq is not None else None,
        "lookups": [b.hex() for b in lookups], "lookup_labels": labels,
        "message_id": message.id, "channel_id": message.channel_id,
        "guild_id": message.guild_id, "author_id": message.author_id,
        "event_id": event_id, "ts": ts.astimezone(UTC).isoformat(),
    }


def read_sighting(value: bytes | str | None) -> Sighting:
    """A media-hashes message read back, every field checked (`SightingError` says which)."""
    if value is None:
        raise SightingError("no value (a deleted key)")
    try:
        # decoded here: json's own detection of the encoding of bytes costs as much again
        raw = json.loads(value.decode("utf-8") if isinstance(value, bytes) else value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SightingError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise SightingError("not valid JSON: nested too deeply") from None
    if not isinstance(raw, dict):
        raise SightingError(f"not a JSON object but {type(raw).__name__}")
    if raw.get("v") != VERSION:
        raise SightingError(f"version {_shown(raw.get('v'))} is not the version read here "
                          f"({VERSION})")
    att = _id(raw, "attachment_id")
    message = Message(id=_id(raw, "message_id"), channel_id=_id(raw, "channel_id"),
                      guild_id=_id(raw, "guild_id", optional=True),
                      author_id=_id(raw, "author_id"), content="")
    event_id = _id(raw, "event_id")
    ts = _time(raw.get("ts"))
    filename = _text(raw, "filename", 300)
    kind = raw.get("kind")
    if kind is not None and kind not in _KINDS:
        raise SightingError(f"kind {_shown(kind)} is neither 'image' nor 'video'")
    md5, sha256, pdq_hex = (_hex(raw, k) for k in ("md5", "sha256", "pdq"))
    quality = raw.get("pdq_quality")
    if pdq_hex is not None and (type(quality) is not int or not 0 <= quality <= 100):
        raise SightingError(f"pdq_quality {_shown(quality)} is not a whole number 0-100")
    lookups = raw.get("lookups") or []
    labels = raw.get("lookup_labels") or []
    if not isinstance(lookups, list) or len(lookups) > MAX_LOOKUPS:
        raise SightingError(f"lookups must be a list of at most {MAX_LOOKUPS} PDQ hashes")
    codes = _codes(lookups)
    if not isinstance(labels, list) or not all(isinstance(x, str) and len(x) <= 100
                                               for x in labels):
        raise SightingError("lookup_labels must be a list of short texts")
    if not (md5 or sha256 or codes):
        raise SightingError("no hash: md5, sha256 and lookups are all empty")
    pdq = PdqHash.from_hex(pdq_hex, int(quality or 0)) if pdq_hex is not None else None
    hashes = MediaHashes(file=filename or att, md5=md5, sha256=sha256, kind=kind, pdq=pdq,
                         lookups=codes, lookup_labels=tuple(labels[:len(codes)]))
    return Sighting(att, filename, message, ts, event_id, hashes)


def _codes(lookups: list[Any]) -> tuple[bytes, ...]:
    """The lookups as 32-byte codes. All at once when they are well formed (the common
    case, and most of a replay's reading), else one by one to name the first bad one."""
    if all(isinstance(c, str) and len(c) == 64 for c in lookups):
        try:
            # 64 characters per code making 32 bytes each are all hex digits (fromhex would
            # skip spaces, which then make fewer bytes)
            joined = bytes.fromhex("".join(lookups))
            if len(joined) == 32 * len(lookups):
                return tuple(joined[i:i + 32] for i in range(0, len(joined), 32))
        except ValueError:
            pass
    codes = []
    for i, code in enumerate(lookups):
        try:
            # 64 characters that make 32 bytes are 64 hex digits (fromhex skips spaces)
            raw_code = bytes.fromhex(code) if isinstance(code, str) and len(code) == 64 \
                else b""
        except ValueError:
            raw_code = b""
        if len(raw_code) != 32:
            raise SightingError(f"lookups[{i}] {_shown(code)} is not a PDQ hash (64 hex "
                                "characters)")
        codes.append(raw_code)
    return tuple(codes)  # not reached: the all-at-once reading failed for a reason


def message_event(sighting: Sighting) -> dict[str, Any]:
    """The posting event as far as media-hashes knows it (no text), for the sink: casework
    learns where the attachment lives. A message the sink already holds keeps its first
    version (casework's rule for a repeated message)."""
    m = sighting.message
    raw: dict[str, Any] = {
        "type": "message", "ts": sighting.ts.isoformat(),
        "message": {"id": m.id, "channel_id": m.channel_id, "guild_id": m.guild_id,
                    "author_id": m.author_id, "content": "",
                    "attachments": [{"id": sighting.attachment_id}]}}
    if sighting.event_id.startswith("id:"):
        raw["event_id"] = sighting.event_id.removeprefix("id:")
    return raw


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _id(raw: dict[str, Any], name: str, *, optional: bool = False) -> Any:
    value = raw.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise SightingError(f"{name} {_shown(value)} is not an id (a text of 1-{MAX_ID} "
                          "characters)")
    return value


def _text(raw: dict[str, Any], name: str, limit: int) -> str | None:
    value = raw.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise SightingError(f"{name} {_shown(value)} is not a text of at most {limit} "
                          "characters")
    return value


def _hex(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _HEX[name].fullmatch(value.lower()):
        raise SightingError(f"{name} {_shown(value)} is not a {name} hash "
                          f"({_HEX[name].pattern.split('{')[1].rstrip('}')} hex characters)")
    return value.lower()


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise SightingError(f"ts {_shown(value)} is not a time (ISO 8601)")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise SightingError(f"ts {_shown(value)} is not a time (ISO 8601)") from None
    if ts.tzinfo is None:
        raise SightingError(f"ts {_shown(value)} has no time zone")
    return ts
