"""The engine's memory on the bus, without a broker (`bus/state.py`): a place's memory in a
state store of bytes per key (as Quix's) goes on in another process; shared memory travels
as labels and is merged; bad labels are skipped, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.bus.conftest import LURES, message
from tests.bus.test_stages import KeyedBytes, parsed
from veilleur.bus.detect import DetectStage
from veilleur.bus.state import BusState, LabelError, label
from veilleur.deployment import Mode, Settings, assemble
from veilleur.taxonomy import Category


def findings(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for a in answers if "findings" in a for f in a["findings"]]


def targets(found: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(f["target"]["kind"], f["target"]["id"], f["category"]) for f in found}


def run(stage: DetectStage, events: list[dict[str, Any]], store: KeyedBytes | None
        ) -> list[dict[str, Any]]:
    out = []
    for e in events:
        m = e["message"]
        key = f"guild:{m['guild_id']}" if "guild_id" in m else f"dm:{m['channel_id']}"
        out += stage.answer(json.dumps(e), "", store.of(key) if store else None)
    return out


# One channel where two different sellers each post once: the channel is found from the
# two together (two different found posts, all of its talk), never from one.
FIRST = [message("a1", "g1", "c1", "s1", LURES[0], "2026-03-01T12:00:00Z")]
SECOND = [message("a2", "g1", "c1", "s2", LURES[1], "2026-03-01T12:01:00Z")]


def test_a_place_goes_on_in_the_process_that_takes_it_over() -> None:
    """What the first worker committed is what the next one restores (a changelog is the
    bytes per key): the channel is found from posts read by two processes."""
    scan = assemble(Settings(mode=Mode.DETECT)).engine
    expected = {(f.target.kind.value, f.target.id, f.category.value)
                for e in FIRST + SECOND for f in scan.process(parsed(e))}
    assert ("channel", "c1", "csam") in expected

    store = KeyedBytes()
    before = findings(run(DetectStage(worker="first", memory=True), FIRST, store))
    after = findings(run(DetectStage(worker="second", memory=True), SECOND, store))
    assert targets(before + after) == expected
    assert ("channel", "c1", "csam") in targets(after)

    # Without the store, the process taking over starts the place empty: no channel.
    alone = findings(run(DetectStage(worker="alone", memory=False), SECOND, None))
    assert ("channel", "c1", "csam") not in targets(alone)


def test_an_account_is_judged_from_every_place_it_writes_in() -> None:
    """Two workers, each with one server where the same account sells: neither sees two of
    its posts, the labels they exchange do."""
    in_g1 = [message("b1", "g1", "c1", "seller", LURES[0])]
    in_g2 = [message("b2", "g2", "c2", "seller", LURES[1])]
    scan = assemble(Settings(mode=Mode.DETECT)).engine
    account = {f.score for e in in_g1 + in_g2 for f in scan.process(parsed(e))
               if f.target.kind.value == "user" and f.target.id == "seller"}
    assert account, "the scan finds the account from its two posts"

    store = KeyedBytes()
    one, two = DetectStage(worker="one", memory=True), DetectStage(worker="two", memory=True)
    first = run(one, in_g1, store)
    second = run(two, in_g2, store)
    assert ("user", "seller", "csam") not in targets(findings(first + second))

    labels = one.due_labels() + two.due_labels()
    assert labels and all(lab["key"] == f"{lab['label']['ns']}\x1f{lab['label']['key']}"
                          for lab in labels)
    for lab in labels:  # every worker reads the whole topic, its own labels included
        for stage in (one, two):
            stage.inbox.put(json.dumps(lab["label"]).encode())
    made = findings(one.take_labels() + two.take_labels())
    assert ("user", "seller", "csam") in targets(made)
    assert max(f["score"] for f in made if f["target"]["id"] == "seller") >= max(account) - 1e-9
    # Read again (a worker restarting reads the topic again): nothing new.
    for lab in labels:
        two.inbox.put(json.dumps(lab["label"]).encode())
    assert findings(two.take_labels()) == []


def test_bad_labels_are_counted_and_skipped() -> None:
    stage = DetectStage(worker="w", memory=True)
    for bad in (b"\xff", b"[1", json.dumps({"v": 9}).encode(),
                json.dumps(label("text.talk", "g1", {}, "other")).encode(),
                json.dumps(label("graph.user", "u1", {"id": 3}, "other")).encode(),
                json.dumps(label("book.user", "nonsense", [], "other")).encode(),
                json.dumps({"v": 1, "ns": "casework", "key": "k", "worker": "x",
                            "value": {"target": {"kind": "guild", "id": "g"},
                                      "label": "removed:csam", "at": "yesterday"}}).encode()):
        stage.inbox.put(bad)
    assert stage.take_labels() == []
    assert stage.stats["bad_labels"] == 7 and stage.stats["labels_in"] == 0
    # ... and the stream goes on.
    assert findings(stage.answer(json.dumps(message("c1", "g3", "c3", "u3", LURES[0])), "",
                                 KeyedBytes().of("guild:g3")))
    # A stage keeping its memory in a store is never given an event without the key's state
    # (the place's memory would be lost to this process's scratch).
    with pytest.raises(ValueError, match="state store"):
        stage.answer(json.dumps(message("c2", "g3", "c3", "u3", LURES[0])))


def test_casework_labels_are_remembered() -> None:
    stage = DetectStage(worker="w", memory=True)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    stage.inbox.put(json.dumps({"v": 1, "ns": "casework", "key": "guild:g9", "worker": "sink",
                                "value": {"target": {"kind": "guild", "id": "g9"},
                                          "label": "removed:csam",
                                          "at": at.isoformat()}}).encode())
    stage.take_labels()
    network = next(d for d in stage.engine.detectors if hasattr(d, "fallen"))
    assert network.fallen["g9"][:2] == (Category.CSAM, at)  # type: ignore[attr-defined]
    assert stage.stats["labels_in"] == 1


def test_state_kept_with_a_place_is_bytes_and_read_back() -> None:
    store = KeyedBytes()
    state = BusState("w")
    state.bind(store.of("guild:g1"))
    state.put("rollup.seen", "m1\x1fcsam", True)
    state.put("text.guild_text", "g1", "Serveur")
    state.release()
    assert all(isinstance(v, bytes) for v in store.data.values()) and len(store.data) == 2
    again = BusState("v")
    again.bind(store.of("guild:g1"))
    assert again.get("text.guild_text", "g1") == "Serveur"
    assert again.get("rollup.seen", "m1\x1fcsam") is True
    again.release()
    # Another place's key holds nothing of this one.
    again.bind(store.of("guild:g2"))
    assert again.get("text.guild_text", "g1") is None
    again.release()
    with pytest.raises(KeyError, match="no codec"):
        again.get("nowhere", "x")
    with pytest.raises(LabelError):
        again.take(label("text.guild_text", "g1", "x", "other"))
