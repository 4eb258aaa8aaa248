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


def _guild(gid: str, name: str, owner: str, ts: str) -> dict[str, Any]:
    return {"type": "guild_created", "ts": ts, "event_id": f"g-{gid}",
            "guild": {"id": gid, "name": name, "owner_id": owner}}


def _casework(gid: str, at: datetime) -> bytes:
    return json.dumps({"v": 1, "ns": "casework", "key": f"guild:{gid}", "worker": "casework",
                       "value": {"target": {"kind": "guild", "id": gid},
                                 "label": "removed:csam", "at": at.isoformat()}}).encode()


def _key(e: dict[str, Any]) -> str:
    if "guild" in e:
        return f"guild:{e['guild']['id']}"
    if "invite" in e:
        return f"guild:{e['invite']['guild_id']}"
    return f"guild:{e['message']['guild_id']}"


def _exchange(*stages: DetectStage) -> None:
    """Every worker reads the whole labels topic (its own labels included)."""
    labels = [lab for s in stages for lab in s.due_labels()]
    for lab in labels:
        for s in stages:
            s.inbox.put(json.dumps(lab["label"]).encode())
    for s in stages:
        s.take_labels()


def test_a_successor_found_by_one_worker_is_known_to_the_others() -> None:
    """Server F is removed; worker a reads its successor T (same owner, the name echoed)
    and T's invite; worker b reads a message in another server inviting to T: the invite is
    a finding there too, as in one engine."""
    at = datetime(2026, 3, 3, tzinfo=UTC)
    before = [_guild("F", "Pack Club", "boss", "2026-03-01T10:00:00Z")]
    on_a = [_guild("T", "Pack Club 2", "boss", "2026-03-04T10:00:00Z"),
            {"type": "invite_created", "ts": "2026-03-04T10:01:00Z", "event_id": "inv",
             "invite": {"code": "AbCdEf", "guild_id": "T", "inviter_id": "boss"}}]
    on_b = [message("m1", "G", "c9", "rec", "venez ici https://discord.gg/AbCdEf",
                    "2026-03-05T10:00:00Z")]
    from veilleur.taxonomy import Target

    scan = assemble(Settings(mode=Mode.DETECT)).engine
    for e in before:
        scan.process(parsed(e))
    scan.label(Target.of("guild", "F"), "removed:csam", at)
    expected = {(f.target.kind.value, f.target.id, f.category.value)
                for e in on_a + on_b for f in scan.process(parsed(e))}
    assert ("message", "m1", "csam") in expected

    store = KeyedBytes()
    a, b = DetectStage(worker="a", memory=True), DetectStage(worker="b", memory=True)
    for e in before:
        a.answer(json.dumps(e), "", store.of(_key(e)))
    _exchange(a, b)
    for s in (a, b):
        s.inbox.put(_casework("F", at))
    got = set()
    for e in on_a:
        got |= targets(findings(a.answer(json.dumps(e), "", store.of(_key(e)))))
    _exchange(a, b)
    for e in on_b:
        got |= targets(findings(b.answer(json.dumps(e), "", store.of(_key(e)))))
    assert ("message", "m1", "csam") in got


def test_a_starting_worker_does_not_send_old_findings_again() -> None:
    """A worker reading the topic it missed merges what it reads without judging (what it
    made was sent when it was new); from then on, labels judge."""
    store = KeyedBytes()
    one, two = DetectStage(worker="one", memory=True), DetectStage(worker="two", memory=True)
    run(one, [message("b1", "g1", "c1", "seller", LURES[0])], store)
    run(two, [message("b2", "g2", "c2", "seller", LURES[1])], store)
    labels = one.due_labels() + two.due_labels()
    for lab in labels:
        for s in (one, two):
            s.inbox.put(json.dumps(lab["label"]).encode())
    assert ("user", "seller", "csam") in targets(findings(one.take_labels()
                                                          + two.take_labels()))
    topic = labels + one.due_labels() + two.due_labels()
    topic.sort(key=lambda lab: lab["label"]["ns"] != "rollup.account")  # any order
    three = DetectStage(worker="three", memory=True)
    three.judging = False  # what `run` sets until the reader has caught up
    for lab in topic:
        three.inbox.put(json.dumps(lab["label"]).encode())
    assert findings(three.take_labels()) == []
    assert three.stats["labels_in"] == len(topic)


def test_hostile_labels_change_nothing() -> None:
    """Labels are checked as events are: a made-up signal on an account, a strength out of
    range, a number that is no number, text no UTF-8 can hold: skipped and counted."""
    stage = DetectStage(worker="w", memory=True)
    run(stage, [message("h1", "g1", "c1", "u1", LURES[0]),
                message("h2", "g1", "c1", "u1", LURES[1])], KeyedBytes())
    [entry] = [lab["label"] for lab in stage.due_labels()
               if lab["label"]["ns"] == "book.user"]
    signal = entry["value"]["signals"][0][1]

    def forged(**change: Any) -> bytes:
        value = json.loads(json.dumps(entry["value"]))
        value["signals"][0][1] = {**signal, **change}
        return json.dumps({**entry, "value": value, "worker": "x"}).encode()

    other = DetectStage(worker="o", memory=True)
    for bad in (forged(target={"kind": "user", "id": "victim"}),
                forged(strength=7.0),
                forged(strength=float("nan")),
                forged(evidence="\ud800")):
        other.inbox.put(bad)
    assert other.take_labels() == []
    assert other.stats["bad_labels"] == 4 and other.memory is not None
    assert other.memory.replica == {}


def test_text_no_utf8_can_hold_is_a_dead_letter() -> None:
    stage = DetectStage(worker="w", memory=True)
    store = KeyedBytes()
    body = json.dumps(message("s1", "g1", "c1", "u1", "salut"))  # ensure_ascii: "\ud800"
    bad = body.replace("salut", "sal\\ud800ut").encode()
    [dead] = stage.answer(bad, "events[0]@1", store.of("guild:g1"))
    assert "surrogate" in dead["error"] and stage.stats["dead"] == 1
    pair = body.replace("salut", "sal\\ud83d\\ude00ut").encode()  # an emoji: a whole pair
    assert all("error" not in a for a in stage.answer(pair, "events[0]@2",
                                                       store.of("guild:g1")))


def test_workers_started_alike_are_told_apart() -> None:
    """A container restarted in place has the same host and pid: its labels must not be
    taken for the new process's own."""
    assert DetectStage().worker != DetectStage().worker


def test_a_label_too_large_for_a_broker_is_not_sent_and_the_commit_goes_on() -> None:
    """A server's members in one label can pass what a broker takes (1 MB by default): the
    label is left out, said and counted, and the flush before the commit does not fail (it
    would fail at every start: the worker would never get past that server)."""
    from veilleur.bus.config import BusConfig
    from veilleur.bus.labels import MAX_LABEL_BYTES, LabelPublisher
    from veilleur.detect.network.graph import GuildNode

    stage = DetectStage(worker="w", memory=True)
    assert stage.memory is not None
    at = datetime(2026, 3, 1, tzinfo=UTC)
    stage.memory.put("graph.guild", "big", GuildNode(
        "big", "big", None, None, {f"member-{i:06d}": at for i in range(30_000)}))
    publisher = LabelPublisher(BusConfig(broker="127.0.0.1:1", group="g"), stage, timeout=1)
    publisher.flush()
    assert stage.stats["labels_too_large"] == 1 and MAX_LABEL_BYTES < 2**20
