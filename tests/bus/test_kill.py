"""The kill test (issue 21): two detect workers share the partitions of `events`; one is
killed with SIGKILL mid-stream; the other takes its partitions over and reads again what
the dead one had not committed. After the sink's de-duplication every event's findings
exist exactly once, and the count per key is exact."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.bus.conftest import CHAT, LURES, message, read_topic, start_worker, stop
from veilleur.bus import testbroker, topics
from veilleur.bus.producer import EventProducer

GUILDS = 8
DMS = 3


def place(i: int) -> tuple[str | None, str, str]:
    """(guild, channel, partition key) of place i: servers first, then DMs."""
    if i < GUILDS:
        return f"g{i}", f"g{i}-c0", f"guild:g{i}"
    return None, f"dm{i}", f"dm:dm{i}"


def round_of(n: int, *, chat: int = 4) -> tuple[list[dict[str, Any]], Counter[str]]:
    """One round of traffic: in every place a little chat and a number of lures that
    differs by place (so a count lost or doubled on any key shows); the lures expected per
    key."""
    events: list[dict[str, Any]] = []
    lures: Counter[str] = Counter()
    for i in range(GUILDS + DMS):
        guild, channel, key = place(i)
        for j in range(chat):
            events.append(message(f"r{n}-p{i}-chat{j}", guild, channel, f"u{i}-{j}",
                                  CHAT[(i + j) % len(CHAT)]))
        for j in range(1 + (i + n) % 3):
            events.append(message(f"r{n}-p{i}-lure{j}", guild, channel, f"s{i}",
                                  LURES[(i + j) % len(LURES)]))
            lures[key] += 1
    return events, lures


def lure_ids(events: list[dict[str, Any]]) -> set[str]:
    return {"id:" + e["event_id"] for e in events if "-lure" in e["event_id"]}


@pytest.mark.slow
def test_a_killed_worker_loses_nothing_and_nothing_is_doubled(
        broker: testbroker.Tansu, prefix: str, tmp_path: Path) -> None:
    names = topics.names(prefix)
    producer = EventProducer(broker.address, prefix=prefix,
                             options=dict(testbroker.PRODUCER_OPTIONS), partitions=4)
    setup = [{"type": "guild_created", "ts": "2026-03-01T11:00:00Z",
              "guild": {"id": f"g{i}", "name": f"serveur {i}", "owner_id": f"o{i}"}}
             for i in range(GUILDS)]
    producer.put(setup)
    # A long commit interval: what the victim answers is not committed when it dies, so
    # its successor reads it again (the at-least-once path under test).
    victim = start_worker(broker, "detect", prefix, tmp_path, name="victim",
                          commit_interval=60)
    survivor = start_worker(broker, "detect", prefix, tmp_path, name="survivor",
                            commit_interval=60)
    expected: Counter[str] = Counter()
    sent: set[str] = set()
    sink = None
    try:
        # Rounds until both workers answer within one round (both hold partitions, the
        # group has settled), then one more round that the victim answers uncommitted.
        workers: dict[str, int] = {}
        for n in range(20):
            events, lures = round_of(n)
            producer.put(events)
            expected += lures
            sent |= lure_ids(events)
            want = lure_ids(events)
            answers = read_topic(broker, names[topics.FINDINGS],
                                 until=lambda ms, w=want: {m["event_id"] for m in ms} >= w)
            round_workers = {m["worker"] for m in answers if m["event_id"] in want}
            if len(round_workers) == 2:
                workers = {w: int(w.split(":")[1]) for w in round_workers}
                break
        assert len(workers) == 2, "the two workers never shared the partitions"
        victim_id = next(w for w, pid in workers.items() if pid == victim.pid)

        # Mid-stream: the next rounds are being produced when the victim is killed.
        late: list[list[dict[str, Any]]] = []
        for n in range(20, 26):
            events, lures = round_of(n)
            late.append(events)
            expected += lures
            sent |= lure_ids(events)

        def produce() -> None:
            for events in late:
                producer.put(events)
                time.sleep(0.3)

        feeder = threading.Thread(target=produce)
        feeder.start()
        time.sleep(0.5)
        stop(victim, signal.SIGKILL)
        feeder.join()
        assert victim.returncode == -signal.SIGKILL

        answers = read_topic(broker, names[topics.FINDINGS],
                             until=lambda ms: {m["event_id"] for m in ms} >= sent,
                             timeout=120)
        answered = Counter(m["event_id"] for m in answers)
        assert set(answered) >= sent, f"never answered: {sorted(sent - set(answered))[:5]}"
        # The survivor read again what the victim had answered and not committed.
        doubled = [e for e, c in answered.items() if c > 1]
        assert doubled, "nothing was read twice: the kill did not exercise the failover"
        assert any(m["worker"] == victim_id for m in answers if m["event_id"] in doubled)

        db = tmp_path / "cases.db"
        sink = start_worker(broker, "sink", prefix, tmp_path, name="sink",
                            extra=["--db", str(db)])
        wanted = {e.removeprefix("id:ev-") for e in sent}
        assert _wait(db, lambda rows: {r[1] for r in rows if r[0] == "message"} >= wanted)
        stop(sink)
        assert sink.returncode == 0, (tmp_path / "sink.log").read_text()[-2000:]
        # A sink started again from the first offset (another group) takes everything in
        # a second time: casework already holds every finding, so nothing is added.
        before = _rows(db)
        sink = start_worker(broker, "sink", prefix, tmp_path, name="sink-again",
                            extra=["--db", str(db), "--group", f"{prefix}sink-again"])
        again = tmp_path / "sink-again.log"
        done = f"messages={len(answers)} "
        assert _wait_for(lambda: again.exists() and done in again.read_text()), \
            again.read_text()[-2000:]
        stop(sink)
        assert sink.returncode == 0, again.read_text()[-2000:]
        assert f"messages={len(answers)} findings=" in again.read_text()
        assert "new_intakes=0 bad=0" in again.read_text()
        assert _rows(db) == before
    finally:
        for p in (victim, survivor, sink):
            if p is not None:
                stop(p)
    assert survivor.returncode == 0, (tmp_path / "survivor.log").read_text()[-2000:]

    rows = _rows(db)
    per_finding = Counter((kind, target, cat) for kind, target, cat in rows)
    assert max(per_finding.values()) == 1, "a finding was taken in twice"
    messages = {target for kind, target, _ in rows if kind == "message"}
    assert messages == {e.removeprefix("id:ev-") for e in sent}  # no chat, no lure missing
    per_key: Counter[str] = Counter()
    for mid in messages:
        i = int(mid.split("-p")[1].split("-")[0])
        per_key[place(i)[2]] += 1
    assert per_key == expected


def _rows(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as con:
        return sorted(con.execute("SELECT target_kind, target_id, category FROM intakes "
                                  "WHERE kind = 'finding'").fetchall())


def _wait_for(done: Any, timeout: float = 90.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if done():
            return True
        time.sleep(0.5)
    return False


def _wait(db: Path, done: Any, timeout: float = 90.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if db.exists() and done(_rows(db)):
                return True
        except sqlite3.OperationalError:  # the sink is still making its tables
            pass
        time.sleep(0.5)
    return False


@pytest.mark.slow
def test_a_killed_sink_loses_nothing_and_nothing_is_doubled(
        broker: testbroker.Tansu, prefix: str, tmp_path: Path) -> None:
    """The sink killed with SIGKILL while findings keep coming; a new sink in the same group
    takes the database's lease (the dead process's is given up with it) and the findings
    from the last committed offset, and casework holds each once, none missing.

    Quix commits right after the sink's write, so a kill seldom falls between the two; a
    sink reading everything again is the other test's (`sink-again`)."""
    from confluent_kafka import Producer

    from veilleur.bus.config import BusConfig, ensure_topics
    from veilleur.bus.detect import DetectStage

    names = topics.names(prefix)
    ensure_topics(BusConfig(broker=broker.address, group="", prefix=prefix, partitions=4))
    stage = DetectStage(worker="in-test", memory=False)
    producer = Producer({"bootstrap.servers": broker.address,
                         **testbroker.PRODUCER_OPTIONS})
    expected: Counter[str] = Counter()
    sent: set[str] = set()

    def findings_of(rounds: range) -> None:
        nonlocal expected
        for n in rounds:
            events, lures = round_of(n)
            expected += lures
            sent.update(lure_ids(events))
            for e in events:
                for answer in stage.answer(json.dumps(e)):
                    producer.produce(names[topics.FINDINGS], json.dumps(answer).encode(),
                                     answer["key"].encode())
            assert producer.flush(10) == 0

    db = tmp_path / "cases.db"
    findings_of(range(0, 6))
    first = start_worker(broker, "sink", prefix, tmp_path, name="sink-1",
                         extra=["--db", str(db)])
    try:
        assert _wait(db, lambda rows: len(rows) > 0)
        feeder = threading.Thread(target=findings_of, args=(range(6, 12),))
        feeder.start()
        time.sleep(0.3)
        stop(first, signal.SIGKILL)
        feeder.join()
    finally:
        stop(first)
    taken_before = len(_rows(db))
    second = start_worker(broker, "sink", prefix, tmp_path, name="sink-2",
                          extra=["--db", str(db)])
    try:
        wanted = {e.removeprefix("id:ev-") for e in sent}
        assert _wait(db, lambda rows: {r[1] for r in rows if r[0] == "message"} >= wanted), \
            (tmp_path / "sink-2.log").read_text()[-2000:]
    finally:
        stop(second)
    assert second.returncode == 0, (tmp_path / "sink-2.log").read_text()[-2000:]
    rows = _rows(db)
    assert len(rows) == len(set(rows)) > taken_before
    per_key: Counter[str] = Counter()
    for kind, mid, _ in rows:
        if kind == "message":
            per_key[place(int(mid.split("-p")[1].split("-")[0]))[2]] += 1
    assert per_key == expected
