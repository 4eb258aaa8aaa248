"""The published examples are what the service takes, and a bad item of a batch is named by
its index and field while the good ones are kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.service.conftest import Service
from veilleur.events import LEGAL_TYPES, PLATFORM_TYPES
from veilleur.service.api import FRONT_DOORS

EXAMPLES = Path(__file__).parents[2] / "examples" / "events"


def _examples() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(EXAMPLES.glob("*.json"))}


def test_every_platform_example_is_accepted_and_the_bad_item_named(service: Service) -> None:
    examples = _examples()
    platform = [examples[t] for t in sorted(PLATFORM_TYPES)]
    bad = {"type": "message", "ts": "2026-11-20T09:05:30Z", "message": {
        "id": "m-bad", "channel_id": "c", "author_id": "u",
        "attachments": [{"id": None, "path": "media/x.png"}]}}
    batch = [*platform[:3], bad, *platform[3:]]
    body = service.post("/v1/events", {"events": batch}).json()
    assert body["accepted"] == len(platform)
    assert body["rejected"] == [{"index": 3, "error": "'message.attachments[0].id' must be a "
                                 "non-empty string id, got null"}]
    service.drain()
    assert service.rt.stats["failed"] == 0


def test_legal_examples_enter_through_their_own_doors_only(service: Service) -> None:
    examples = _examples()
    legal = [examples[t] for t in sorted(LEGAL_TYPES)]
    body = service.post("/v1/events", {"events": legal}).json()
    assert body["accepted"] == 0
    for item, raw in zip(body["rejected"], legal, strict=True):
        assert FRONT_DOORS[raw["type"]] in item["error"]
    # Through the door each is taken as it stands (what the scoped endpoints hand in).
    for raw in legal:
        taken = service.rt.accept([raw], "api:test", kinds=(raw["type"],))
        assert len(taken.accepted) == 1 and not taken.rejected, raw["type"]
