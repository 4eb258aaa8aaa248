"""The stages' logic without a running worker: keys, the wire format, the detect stage's
answers (dead letters included), the one engine, the sink's de-duplication."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.bus.conftest import CHAT, LURES, message
from veilleur.bus import testbroker, topics, wire
from veilleur.bus.detect import DetectStage, is_dead
from veilleur.bus.sink import SinkStage
from veilleur.deployment import Mode, Settings, assemble
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.media import MediaReader
from veilleur.store.casework import snapshot
from veilleur.store.db import connect

T = "2026-03-01T12:00:00Z"


def parsed(raw: dict[str, Any]) -> Any:
    return parse_event(raw, Path("/nonexistent"), MediaReader(read_local=False))


class KeyedBytes:
    """What Quix's state store keeps: bytes under each message key (its `State` API)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], bytes] = {}

    def of(self, key: str) -> Any:
        data = self.data

        class State:
            def get_bytes(self, k: str, default: bytes | None = None) -> bytes | None:
                return data.get((key, k), default)

            def set_bytes(self, k: str, value: bytes) -> None:
                assert isinstance(value, bytes)
                data[key, k] = value

        return State()


@pytest.fixture(scope="module")
def stage() -> DetectStage:
    return DetectStage(worker="test", memory=False)


def test_the_key_is_the_place() -> None:
    cases = [
        ({"type": "guild_created", "ts": T, "guild": {"id": "g1"}}, "guild:g1"),
        ({"type": "guild_updated", "ts": T, "guild": {"id": "g1", "name": "x"}}, "guild:g1"),
        ({"type": "guild_deleted", "ts": T, "guild_id": "g1", "by": "owner"}, "guild:g1"),
        ({"type": "channel_created", "ts": T, "channel": {"id": "c1", "guild_id": "g1"}},
         "guild:g1"),
        ({"type": "channel_created", "ts": T, "channel": {"id": "d1", "guild_id": None}},
         "dm:d1"),
        ({"type": "member_joined", "ts": T, "guild_id": "g1", "user_id": "u1"}, "guild:g1"),
        ({"type": "member_left", "ts": T, "guild_id": "g1", "user_id": "u1"}, "guild:g1"),
        ({"type": "invite_created", "ts": T,
          "invite": {"code": "abc", "guild_id": "g1", "inviter_id": "u1"}}, "guild:g1"),
        (message("m1", "g1", "c1", "u1", "hi"), "guild:g1"),
        (message("m2", None, "d1", "u1", "hi"), "dm:d1"),
        ({"type": "user_seen", "ts": T, "user": {"id": "u1"}}, "user:u1"),
        ({"type": "message_deleted", "ts": T, "message_id": "m1", "by": "author"},
         "message:m1"),
    ]
    for raw, key in cases:
        assert topics.partition_key(parsed(raw)) == key, raw["type"]
    report = {"type": "report", "ts": T, "report": {
        "id": "r1", "source": "user", "target": {"kind": "message", "id": "m1"}}}
    with pytest.raises(ValueError, match="casework"):
        topics.partition_key(parsed(report))


def test_a_finding_crosses_the_wire_unchanged(stage: DetectStage) -> None:
    [answer] = stage.answer(json.dumps(message("w1", "g9", "c9", "u9", LURES[1])))
    assert answer["key"] == "guild:g9" and answer["event_id"] == "id:ev-w1"
    back = json.loads(json.dumps(answer))
    found = [wire.finding_from_json(f) for f in back["findings"]]
    assert [wire.finding_to_json(f) for f in found] == back["findings"]
    assert any(wire.finding_key(f) == "message:w1/csam" for f in found)


def test_bad_input_is_a_dead_letter_with_why(stage: DetectStage) -> None:
    dead = [stage.answer(b"\xff\xfe", "events[0]@1"),
            stage.answer(b"[1, 2", "events[0]@2"),
            stage.answer(json.dumps({"type": "message", "ts": T}), "events[0]@3"),
            stage.answer(json.dumps({"type": "complaint", "ts": T, "complaint": {
                "id": "c1", "target": {"kind": "message", "id": "m1"}, "by": "affected"}}),
                "events[0]@4"),
            stage.answer(None, "events[0]@5")]
    for answers, where in zip(dead, range(1, 6), strict=True):
        [letter] = answers
        assert is_dead(letter) and letter["where"] == f"events[0]@{where}"
        assert letter["stage"] == "detect"
    assert dead[0][0]["error"].startswith("not valid JSON")
    assert dead[0][0]["input"] == "\ufffd\ufffd"  # kept, as JSON
    assert "message" in dead[2][0]["error"]
    assert "casework's" in dead[3][0]["error"]
    # Ordinary chat makes nothing; the stage goes on after bad input.
    assert stage.answer(json.dumps(message("w2", "g9", "c9", "u8", CHAT[0]))) == []


def test_one_engine_the_embedded_one(stage: DetectStage) -> None:
    """The worker's engine is what `assemble` gives a scan: the same detectors, versions and
    policy, and the same findings on the same events."""
    scan = assemble(Settings(mode=Mode.DETECT)).engine
    mine = stage.engine
    assert [(d.id, d.version) for d in mine.detectors] == \
        [(d.id, d.version) for d in scan.detectors]
    assert mine.policy == scan.policy
    events = [message(f"e{i}", "g5", "c5", f"u{i % 3}", (LURES + CHAT)[i % 7])
              for i in range(14)]
    from_scan = [wire.finding_to_json(f) for e in events for f in scan.process(parsed(e))]
    assert from_scan
    # With its memory in this process, and in a state store (bytes per key, as Quix's).
    fresh = DetectStage(worker="fresh", memory=False)
    assert [f for e in events for a in fresh.answer(json.dumps(e))
            for f in a["findings"]] == from_scan
    store = KeyedBytes()
    stored = DetectStage(worker="stored", memory=True)
    assert [f for e in events for a in stored.answer(json.dumps(e), "", store.of("guild:g5"))
            if "findings" in a for f in a["findings"]] == from_scan


def test_a_failing_detector_does_not_stop_the_stream() -> None:
    stage = DetectStage(worker="flaky", memory=False)

    class Boom:
        id, version = "test.boom", "1"

        def detect(self, event: Any, ctx: Any) -> list[Any]:
            raise RuntimeError("boom")

    stage.engine.detectors.append(Boom())  # type: ignore[arg-type]
    [answer] = stage.answer(json.dumps(message("f1", "g1", "c1", "u1", LURES[0])))
    assert answer["findings"] and stage.stats["detector_failures"] == 1


def _sink(url: str, key: Path) -> SinkStage:
    return SinkStage(url, evidence_key=key,
                     clock=lambda: datetime(2026, 3, 1, 13, tzinfo=UTC))


def _finding_rows(url: str) -> list[tuple[str, str]]:
    engine = connect(url)
    try:
        return sorted((i.target.kind.value + ":" + i.target.id, str(i.category))
                      for i in snapshot(engine).intakes)
    finally:
        engine.dispose()


def test_the_sink_takes_a_finding_once(stage: DetectStage, db_url: str,
                                       tmp_path: Path) -> None:
    """On SQLite and on PostgreSQL (the production store)."""
    answers = [a for i, text in enumerate([LURES[0], LURES[1], CHAT[1]])
               for a in stage.answer(json.dumps(message(f"s{i}", "g7", "c7", "u7", text)))]
    assert len(answers) == 2
    key = tmp_path / "evidence.key"
    sink = _sink(db_url, key)
    for a in answers + answers:  # delivered twice
        sink.take(json.dumps(a).encode(), "findings[0]")
    sink.take(b"{not json", "findings[0]@9")
    sink.take(json.dumps({"findings": [{"target": {}}]}), "findings[0]@10")
    sink.checkpoint()
    assert sink.stats["bad"] == 2 and sink.stats["messages"] == 4
    first = _finding_rows(db_url)
    assert {"message:s0", "message:s1"} <= {t for t, _ in first}
    assert len(first) == len(set(first)) == sink.stats["new_intakes"]
    sink.close()
    # A sink started again (its casework read back from the database) adds nothing.
    again = _sink(db_url, key)
    for a in answers:
        again.take(a)
    again.close()
    assert again.stats["new_intakes"] == 0
    assert _finding_rows(db_url) == first


def test_the_stream_without_workers(broker: testbroker.Tansu, prefix: str,
                                    stage: DetectStage) -> None:
    """The Quix dataframe itself, fed by `StreamingDataFrame.test` (the broker only answers
    the topics' metadata)."""
    from quixstreams import Application
    from quixstreams.models import MessageContext

    from veilleur.bus.config import BusConfig
    from veilleur.bus.detect import dataframe

    config = BusConfig(broker=broker.address, group=f"{prefix}df", prefix=prefix,
                       partitions=2)
    app = Application(broker_address=broker.address, consumer_group=config.group,
                      loglevel="WARNING")
    sdf = dataframe(app, config, stage)
    events = prefix + topics.EVENTS

    def at(offset: int) -> MessageContext:
        return MessageContext(events, 1, offset, 0)

    # Each output is (value, key, timestamp, headers).
    [(found, *_)] = sdf.test(json.dumps(message("q1", "g3", "c3", "u3", LURES[0])).encode(),
                             key=b"guild:g3", ctx=at(7))
    assert found["event_id"] == "id:ev-q1" and found["key"] == "guild:g3"
    [(dead, *_)] = sdf.test(b"nope", key=b"x", ctx=at(8))
    assert is_dead(dead) and dead["where"] == f"{events}[1]@8"
    assert sdf.test(json.dumps(message("q2", "g3", "c3", "u3", CHAT[2])).encode(),
                    key=b"guild:g3", ctx=at(9)) == []


def test_partition_assignment_reaches_the_stage() -> None:
    """Quix 3.28 has no public hook for assignments: the application's `_on_assign` is
    wrapped (quixstreams is pinned; this fails if the method goes)."""
    from quixstreams import Application

    from veilleur.bus.config import BusConfig, application

    assert callable(getattr(Application, "_on_assign", None))
    called: list[int] = []
    app = application(BusConfig(broker="127.0.0.1:1", group="g"),
                      on_assign=lambda: called.append(1))
    app._on_assign(None, [])  # an empty assignment: Quix itself does nothing with it
    assert called == [1]
