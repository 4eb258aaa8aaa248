"""media-hashes and the retroactive replay on a real broker: a detect worker writes each
hashed attachment's sighting; bank entries are added later; a retro run reads the topic up
to where it ended when the run began, finds exactly the past media the new entries match,
skips hostile messages with their reason, and ends; run twice, the sink still takes each
finding once. A run given its name again goes on from where it committed (here: nothing
left)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from tests.bus.conftest import SRC, read_topic, start_worker, stop
from tests.bus.pictures import HASHED, NEW_MATCHES, traffic, write_banks, write_pictures
from veilleur.bus import testbroker, topics
from veilleur.bus.producer import EventProducer
from veilleur.store.casework import snapshot
from veilleur.store.db import connect
from veilleur.taxonomy import TargetKind


def retro_run(broker: testbroker.Tansu, prefix: str, entries: Path, run: str
              ) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "veilleur", "worker", "--stage", "retro", "--json",
           "--broker", broker.address, "--topic-prefix", prefix, "--partitions", "4",
           "--session-timeout-ms", str(testbroker.SESSION_TIMEOUT_MS),
           "--entries", str(entries), "--run", run]
    for k, v in testbroker.PRODUCER_OPTIONS.items():
        cmd += ["--producer-option", f"{k}={v}"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(cmd, capture_output=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def attachment_intakes(db: Path) -> list[str]:
    if not db.exists():
        return []
    try:
        engine = connect(f"sqlite:///{db}")
        try:
            intakes = snapshot(engine).intakes
        finally:
            engine.dispose()
    except Exception:  # the sink is still making the database
        return []
    return sorted(i.target.id for i in intakes if i.target.kind is TargetKind.ATTACHMENT)


@pytest.mark.slow
def test_a_retro_replay_finds_the_past_media_the_new_entries_match(
        broker: testbroker.Tansu, prefix: str, tmp_path: Path) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource

    names = topics.names(prefix)
    folder = tmp_path / "media"
    folder.mkdir()
    new, old = write_banks(tmp_path, write_pictures(folder))
    producer = EventProducer(broker.address, prefix=prefix,
                             options=dict(testbroker.PRODUCER_OPTIONS), partitions=4)
    detect = start_worker(broker, "detect", prefix, tmp_path, name="detect",
                          extra=["--media-root", str(folder), "--bank", str(old)])
    try:
        assert len(producer.put(traffic()).accepted) == 6
        seen = read_topic(broker, names[topics.MEDIA_HASHES],
                          until=lambda ms: {m["attachment_id"] for m in ms} >= HASHED)
    finally:
        stop(detect)
    assert detect.returncode == 0, (tmp_path / "detect.log").read_text()
    assert sorted(m["attachment_id"] for m in seen) == sorted(HASHED)  # once each
    admin = AdminClient({"bootstrap.servers": broker.address})
    [described] = admin.describe_configs(
        [ConfigResource("topic", names[topics.MEDIA_HASHES])]).values()
    assert described.result(10)["cleanup.policy"].value == "compact"

    # What another tool (or an attacker) put on the topic: skipped with why, never a crash.
    raw = Producer({"bootstrap.servers": broker.address, **testbroker.PRODUCER_OPTIONS})
    good = next(m for m in seen if m["attachment_id"] == "a3")
    for key, value in [(b"x1", b"\xff not json"),
                       (b"x2", json.dumps({**good, "v": 2}).encode()),
                       (b"x3", json.dumps({**good, "sha256": "00", "md5": None}).encode()),
                       (b"gone", None)]:
        raw.produce(names[topics.MEDIA_HASHES], value, key)
    assert raw.flush(10) == 0

    started = time.monotonic()
    first = retro_run(broker, prefix, new, "first")
    assert time.monotonic() - started < 60
    expected = {"read": 11, "checked": 7, "bad": 3, "deleted": 1, "matched_media": 4,
                "findings": 4, "messages_written": 4, "entries": 4, "resumed": False,
                "group": "veilleur-retro-first"}
    assert {k: first[k] for k in expected} == expected, first
    reasons = sorted(first["bad_reasons"])
    assert len(reasons) == 3 and reasons[0].startswith("not valid JSON")
    assert reasons[1:] == ["sha256 '00' is not a sha256 hash (64 hex characters)",
                           "version 2 is not the version read here (1)"]
    second = retro_run(broker, prefix, new, "second")  # run again: a new group, all again
    assert {k: second[k] for k in expected if k != "group"} == \
        {k: v for k, v in expected.items() if k != "group"}
    again = retro_run(broker, prefix, new, "first")  # the same run: it had finished
    assert (again["read"], again["resumed"]) == (0, True)

    found = read_topic(broker, names[topics.FINDINGS], until=lambda ms: sum(
        m["worker"].startswith("retro:") for m in ms) >= 8)
    retro_targets = sorted(f["target"]["id"] for m in found if m["worker"].startswith("retro:")
                           for f in m["findings"])
    assert retro_targets == sorted(list(NEW_MATCHES) * 2)  # each delivered twice

    db = tmp_path / "cases.db"
    sink = start_worker(broker, "sink", prefix, tmp_path, name="sink",
                        extra=["--db", str(db)])
    want = sorted(NEW_MATCHES | {"a5"})  # a5: the old bank's, found when it was posted
    try:
        end = time.monotonic() + 60
        while attachment_intakes(db) != want and time.monotonic() < end:
            time.sleep(0.5)
        time.sleep(2)  # a second look: nothing more arrives
        taken = attachment_intakes(db)
    finally:
        stop(sink)
    assert sink.returncode == 0, (tmp_path / "sink.log").read_text()
    assert taken == want  # once each, though the retro findings came twice


@pytest.mark.slow
def test_a_retro_run_killed_halfway_goes_on_when_run_again(
        broker: testbroker.Tansu, prefix: str, tmp_path: Path) -> None:
    """SIGKILL after its first commit; the same --run again reads only what was not
    committed, and between them every planted match is found (at least once: the sink
    takes a finding once)."""
    import re
    import signal

    from bench.bus_retro import entries, put, sightings

    from veilleur.bus.config import BusConfig, ensure_topics

    n = 30_000
    items, codes, shas = sightings(n, seed=3)
    bank = tmp_path / "new.csv"
    want = entries(bank, 200, codes, shas, seed=3)
    ensure_topics(BusConfig(broker=broker.address, group="", prefix=prefix, partitions=4),
                  (topics.MEDIA_HASHES, topics.FINDINGS))
    put(broker.address, prefix + topics.MEDIA_HASHES, items, dict(testbroker.PRODUCER_OPTIONS))
    del items
    cmd = [sys.executable, "-m", "veilleur", "worker", "--stage", "retro", "--json",
           "--broker", broker.address, "--topic-prefix", prefix,
           "--session-timeout-ms", str(testbroker.SESSION_TIMEOUT_MS),
           "--entries", str(bank), "--run", "halfway"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    log = tmp_path / "halfway.log"
    with open(log, "wb") as out:
        victim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=out, env=env,
                                  stdin=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 60
        while "committed: read=" not in log.read_text() and time.monotonic() < end \
                and victim.poll() is None:
            time.sleep(0.02)
    finally:
        if victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL, log.read_text()[-2000:]
    committed = [int(r) for r in re.findall(r"committed: read=(\d+)", log.read_text())]
    assert committed and committed[-1] < n

    rest = retro_run(broker, prefix, bank, "halfway")
    assert rest["resumed"] and rest["bad"] == 0
    # From where it had committed (a commit between the last line logged and the kill
    # would leave even less): nothing committed is read again.
    assert 0 < rest["read"] <= n - committed[-1]
    found = read_topic(broker, prefix + topics.FINDINGS, until=lambda ms: {
        f["target"]["id"] for m in ms for f in m["findings"]} >= want, timeout=30)
    assert {f["target"]["id"] for m in found for f in m["findings"]} == want


def test_a_retro_run_without_media_hashes_says_so(broker: testbroker.Tansu, prefix: str,
                                                  tmp_path: Path) -> None:
    from tests.bus.test_cli import run as cli

    bank = tmp_path / "b.csv"
    bank.write_text("signal_type,signal,category\n" f"md5,{'a' * 32},csam\n")
    code, out = cli("--stage", "retro", "--broker", broker.address, "--topic-prefix", prefix,
                    "--entries", str(bank), "--run", "nothing")
    assert code == 1 and "no topic" in out and "media-hashes" in out, out
