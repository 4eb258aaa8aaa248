"""The engine's memory on a real broker: a place's memory survives its worker's `kill -9`
(Quix's state store, restored from its changelog topic by the worker taking over), and an
account writing in servers read by different workers is judged from all of them (labels)."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from tests.bus.conftest import CHAT, LURES, message, read_topic, start_worker, stop
from tests.bus.test_kill import lure_ids, round_of
from veilleur.bus import testbroker, topics
from veilleur.bus.producer import EventProducer

GUILDS = 6


def _producer(broker: testbroker.Tansu, prefix: str) -> EventProducer:
    return EventProducer(broker.address, prefix=prefix,
                         options=dict(testbroker.PRODUCER_OPTIONS), partitions=4)


def _found(messages: list[dict[str, Any]], kind: str) -> set[str]:
    return {f["target"]["id"] for m in messages for f in m["findings"]
            if f["target"]["kind"] == kind}


def _log(tmp_path: Any, name: str) -> str:
    return (tmp_path / f"{name}.log").read_text()[-3000:]


@pytest.mark.slow
def test_a_place_memory_survives_its_worker_killed(
        broker: testbroker.Tansu, prefix: str, tmp_path: Any) -> None:
    """In every server one seller posts, the worker commits and is killed; a second worker
    takes the partitions over and reads a second seller's post in each: each channel is
    found from the two (it takes two different found posts), which only the restored
    memory holds together."""
    names = topics.names(prefix)
    producer = _producer(broker, prefix)
    first: list[dict[str, Any]] = []
    for i in range(GUILDS):
        first.append(message(f"m{i}-a", f"g{i}", f"c{i}", f"a{i}", LURES[0]))
        first += [message(f"m{i}-chat{j}", f"g{i}", f"c{i}", f"u{i}{j}", CHAT[j])
                  for j in range(2)]
    second = [message(f"m{i}-b", f"g{i}", f"c{i}", f"b{i}", LURES[1]) for i in range(GUILDS)]
    channels = {f"c{i}" for i in range(GUILDS)}

    victim = start_worker(broker, "detect", prefix, tmp_path, name="victim",
                          commit_interval=0.3)
    heir = None
    try:
        producer.put(first)
        want = {f"m{i}-a" for i in range(GUILDS)}
        answers = read_topic(broker, names[topics.FINDINGS],
                             until=lambda ms: _found(ms, "message") >= want)
        assert _found(answers, "message") >= want, _log(tmp_path, "victim")
        assert not _found(answers, "channel") & channels  # one post never makes a channel
        time.sleep(3)  # several commits: the state is in the changelog, the offsets too
        stop(victim, signal.SIGKILL)
        heir = start_worker(broker, "detect", prefix, tmp_path, name="heir")
        producer.put(second)
        answers = read_topic(broker, names[topics.FINDINGS],
                             until=lambda ms: _found(ms, "channel") >= channels, timeout=120)
        assert _found(answers, "channel") >= channels, _log(tmp_path, "heir")
        heir_id = f":{heir.pid}:"
        assert all(heir_id in m["worker"] for m in answers
                   if any(f["target"]["kind"] == "channel" for f in m["findings"]))
    finally:
        stop(victim)
        if heir is not None:
            stop(heir)
    assert heir.returncode == 0, _log(tmp_path, "heir")


@pytest.mark.slow
def test_an_account_is_judged_across_workers(
        broker: testbroker.Tansu, prefix: str, tmp_path: Any) -> None:
    """Eight sellers each post once in two servers; two workers share the servers: every
    seller's account is found, whichever worker read which post."""
    names = topics.names(prefix)
    producer = _producer(broker, prefix)
    one = start_worker(broker, "detect", prefix, tmp_path, name="one")
    two = start_worker(broker, "detect", prefix, tmp_path, name="two")
    try:
        workers: set[str] = set()
        for n in range(20):  # until both hold partitions
            events, _ = round_of(n)
            producer.put(events)
            want = lure_ids(events)
            answers = read_topic(broker, names[topics.FINDINGS],
                                 until=lambda ms, w=want: {m["event_id"] for m in ms} >= w)
            workers = {m["worker"] for m in answers if m["event_id"] in want}
            if len(workers) == 2:
                break
        assert len(workers) == 2, "the two workers never shared the partitions"
        sellers = {f"x{i}" for i in range(8)}
        producer.put([message(f"x{i}-{k}", f"h{i}-{k}", f"hc{i}-{k}", f"x{i}", LURES[k])
                      for i in range(8) for k in range(2)])
        answers = read_topic(broker, names[topics.FINDINGS],
                             until=lambda ms: _found(ms, "user") >= sellers, timeout=120)
        assert _found(answers, "user") >= sellers, _log(tmp_path, "one") + _log(tmp_path, "two")
    finally:
        stop(one)
        stop(two)
    assert one.returncode == 0 and two.returncode == 0
