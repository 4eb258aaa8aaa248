"""Events through a real broker: the producer, a detect worker, dead letters, the sink."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.bus.conftest import CHAT, LURES, message, read_topic, start_worker, stop
from veilleur.bus import testbroker, topics
from veilleur.bus.producer import EventProducer
from veilleur.store.casework import snapshot
from veilleur.store.db import connect


@pytest.mark.slow
def test_events_become_findings_and_casework(broker: testbroker.Tansu, prefix: str,
                                             tmp_path: Path) -> None:
    names = topics.names(prefix)
    events = [{"type": "guild_created", "ts": "2026-03-01T11:00:00Z",
               "guild": {"id": "g1", "name": "jeux", "owner_id": "u0"}},
              message("m1", "g1", "c1", "u1", CHAT[0]),
              message("m2", "g1", "c1", "u2", LURES[0]),
              message("m3", None, "dm1", "u3", LURES[1])]
    producer = EventProducer(broker.address, prefix=prefix,
                             options=dict(testbroker.PRODUCER_OPTIONS), partitions=4)
    detect = start_worker(broker, "detect", prefix, tmp_path, name="detect")
    try:
        put = producer.put([*events, {"type": "message", "ts": "yesterday"},
                            {"type": "report", "ts": "2026-03-01T12:00:00Z"}])
        assert len(put.accepted) == 4
        assert [r["index"] for r in put.rejected] == [4, 5]
        # What a producer that does not check sends: the worker keeps it aside, never dies.
        raw = Producer({"bootstrap.servers": broker.address})
        raw.produce(names[topics.EVENTS], b"\xff not json", b"x")
        raw.produce(names[topics.EVENTS], json.dumps({"type": "nonsense"}).encode(), b"x")
        raw.produce(names[topics.EVENTS], json.dumps(
            {"type": "report", "ts": "2026-03-01T12:00:00Z", "report": {
                "id": "r1", "source": "user", "target": {"kind": "message", "id": "m1"}}}
        ).encode(), b"x")
        assert raw.flush(10) == 0
        found = read_topic(broker, names[topics.FINDINGS],
                           until=lambda ms: {m["event_id"] for m in ms} >= {"id:ev-m2",
                                                                             "id:ev-m3"})
        dead = read_topic(broker, names[topics.DEAD_LETTERS], until=lambda ms: len(ms) >= 3)
    finally:
        stop(detect)
    by_event = {m["event_id"]: m for m in found}
    assert set(by_event) == {"id:ev-m2", "id:ev-m3"}  # ordinary chat makes no findings
    m2 = by_event["id:ev-m2"]
    assert m2["event"]["message"]["id"] == "m2"
    assert {f["key"] for f in m2["findings"]} >= {"message:m2/csam"}
    assert {m["key"] for m in found} == {"guild:g1", "dm:dm1"}
    errors = sorted(d["error"] for d in dead)
    assert len(errors) == 3
    assert errors[0].startswith("'report' events are casework's")
    assert errors[1].startswith("not a valid event")
    assert errors[2].startswith("not valid JSON")
    assert detect.returncode == 0, (tmp_path / "detect.log").read_text()

    db = tmp_path / "cases.db"
    sink = start_worker(broker, "sink", prefix, tmp_path, name="sink",
                        extra=["--db", str(db)])
    try:
        taken = _wait_for_intakes(db, {"m2", "m3"})
    finally:
        stop(sink)
    assert sink.returncode == 0, (tmp_path / "sink.log").read_text()
    assert {i.target.id for i in taken if i.target.kind.value == "message"} == {"m2", "m3"}
    # What casework did on its own (evidence preserved) went out on `actions` after the
    # database had it, keyed by target, once each.
    actions = read_topic(broker, names[topics.ACTIONS], until=lambda ms: False, timeout=5)
    assert actions and len({m["id"] for m in actions}) == len(actions)
    assert {m["action"]["target"]["id"] for m in actions} >= {"m2", "m3"}
    assert all(m["v"] == 1 and m["action"]["automated"] for m in actions)


def _wait_for_intakes(db: Path, messages: set[str], timeout: float = 60.0) -> list:  # type: ignore[type-arg]
    import time

    end = time.monotonic() + timeout
    while True:
        intakes = []
        if db.exists():
            try:
                # Never migrate here: the sink is making this database (two migrations
                # racing fail one of them).
                engine = connect(f"sqlite:///{db}", migrate=False)
                try:
                    intakes = snapshot(engine).intakes
                finally:
                    engine.dispose()
            except Exception:  # the sink is still making the database
                intakes = []
        done = {i.target.id for i in intakes if i.target.kind.value == "message"}
        if done >= messages or time.monotonic() > end:
            return intakes
        time.sleep(0.5)
