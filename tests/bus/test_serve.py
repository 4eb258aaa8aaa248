"""`veilleur serve --bus`: platform events on the bus, the detect workers' findings in the
service's casework, actions and documents out, with a real broker (Tansu) and a detect
worker as its own process; and the front door's answers without a broker (a stand-in link
that acknowledges or fails)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.bus.conftest import CHAT, LURES, SRC, message, read_topic, start_worker, stop
from tests.service.conftest import Service, open_service
from veilleur.bus import testbroker, topics
from veilleur.bus.producer import Put
from veilleur.bus.serve import BusSettings, broker_of
from veilleur.service.runtime import BusDown


class Link:
    """Stands in for `BusLink` at the front door: acknowledges, or fails like a broker that
    does not answer."""

    def __init__(self) -> None:
        self.put_raws: list[Any] = []
        self.down = False
        self._seen: set[str] = set()

        class Taker:
            def applied(self, _key: str) -> None:
                pass

        self.taker = Taker()

    def seen(self, key: str) -> bool:
        return key in self._seen

    def put(self, raws: list[Any], keys: list[str]) -> Put:
        if self.down:
            raise BusDown("the bus (kafka://test) did not take the events: timed out. "
                          "Nothing in this request is accepted; send it again", 7)
        self.put_raws += raws
        self._seen |= set(keys)
        return Put(accepted=list(keys))

    def poll(self, _most: int, timeout: float) -> list[Any]:
        time.sleep(timeout)
        return []

    def commit(self, **_: Any) -> None:
        pass

    def offsets(self) -> dict[Any, int]:
        return {}

    def written(self, _offsets: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"events_put": len(self.put_raws)}


@pytest.fixture
def door(tmp_path: Path) -> Iterator[tuple[Service, Link]]:
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path):
        link = Link()
        s.rt.bus = link
        yield s, link


def test_bus_urls_are_checked() -> None:
    assert broker_of("kafka://k1:9092") == "k1:9092"
    assert broker_of("kafka://k1:9092,k2:9092/") == "k1:9092,k2:9092"
    for bad in ("k1:9092", "kafka://k1", "kafka://k1:x", "kafka://:9092", "kafka://k:0"):
        with pytest.raises(ValueError, match=r"kafka://HOST:PORT|is not HOST:PORT"):
            broker_of(bad)


def test_platform_events_go_on_the_bus_and_casework_s_stay_here(
        door: tuple[Service, Link]) -> None:
    s, link = door
    report = {"type": "report", "ts": "2026-03-01T12:00:00Z", "report": {
        "id": "r1", "source": "user", "target": {"kind": "message", "id": "m1"}}}
    events = [message("m1", "g1", "c1", "u1", CHAT[0]), report,
              message("m2", "g1", "c1", "u2", LURES[0])]
    r = s.post("/v1/events", {"events": events})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    [refused] = body["rejected"]
    assert refused["index"] == 1 and "POST /v1/reports" in refused["error"]
    assert [i["index"] for i in body["items"]] == [0, 2]
    assert all("seq" not in i for i in body["items"])  # on the log, not in a journal
    assert link.put_raws == [events[0], events[2]]
    assert s.rt.inbox.backlog == 0  # nothing for the in-process engine
    again = s.post("/v1/events", {"events": [events[2]]}).json()
    assert again["accepted"] == 0 and again["duplicates"] == 1 and len(link.put_raws) == 2
    # The report's own door still takes it into casework, through the journal.
    r = s.post("/v1/reports", {"id": "r1", "target": {"kind": "message", "id": "m1"}})
    assert r.status_code == 202 and s.rt.inbox.backlog + s.rt.stats["processed"] >= 1
    assert s.get("/health").json()["bus"] == {"events_put": 2}


def test_a_broker_that_does_not_acknowledge_gets_503_and_nothing_is_accepted(
        door: tuple[Service, Link]) -> None:
    s, link = door
    link.down = True
    r = s.post("/v1/events", {"events": [message("m3", "g1", "c1", "u1", LURES[1])]})
    assert r.status_code == 503 and r.headers["retry-after"] == "7"
    assert "Nothing in this request is accepted" in r.json()["detail"]
    assert link.put_raws == [] and s.rt.inbox.backlog == 0
    v = s.post("/v1/verdict", {"message": {"id": "v1", "channel_id": "c2",
                                           "author_id": "u7", "content": CHAT[1]}})
    assert v.status_code == 503 and "retry-after" in v.headers
    assert s.rt.verdict_log.find("id:v1") is None and s.rt.stats["verdicts"] == 0
    # Casework's own doors do not need the bus.
    r = s.post("/v1/reports", {"id": "r2", "target": {"kind": "message", "id": "m3"}})
    assert r.status_code == 202, r.text
    link.down = False
    r = s.post("/v1/events", {"events": [message("m3", "g1", "c1", "u1", LURES[1])]})
    assert r.status_code == 202 and r.json()["accepted"] == 1


def test_a_verdict_is_judged_here_and_put_on_the_bus(door: tuple[Service, Link]) -> None:
    s, link = door
    held = s.post("/v1/verdict", message("v2", "g1", "g1-c1", "u8", LURES[0])).json()
    assert held["verdict"] == "review" and held["case_id"]
    assert [m["message"]["id"] for m in link.put_raws] == ["v2"]
    again = s.post("/v1/verdict", message("v2", "g1", "g1-c1", "u8", LURES[0])).json()
    assert again["duplicate"] is True and len(link.put_raws) == 1


# --- with a broker and a detect worker ---------------------------------------------------


def bus_settings(broker: testbroker.Tansu, prefix: str, **kw: Any) -> BusSettings:
    return BusSettings(url=f"kafka://{broker.address}", prefix=prefix, group=f"{prefix}serve",
                       partitions=4, session_timeout_ms=testbroker.SESSION_TIMEOUT_MS,
                       producer=dict(testbroker.PRODUCER_OPTIONS), **kw)


serving = contextmanager(open_service)


def wait_for(done: Any, timeout: float = 90.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = done()
        if value:
            return value
        time.sleep(0.3)
    return done()


def reopen(db: str, tmp_path: Path, secret: str, **settings: Any) -> Iterator[Service]:
    """The service started again on its database (keys and accounts already there)."""
    from fastapi.testclient import TestClient

    from veilleur.service.app import create_app
    from veilleur.service.runtime import Runtime, ServiceSettings

    rt = Runtime(ServiceSettings(db=db, evidence_key=tmp_path / "evidence.key",
                                 media_root=tmp_path / "media", **settings))
    with TestClient(create_app(runtime=rt), client=("testclient", 50000)) as client:
        yield Service(rt, client, secret, {"Authorization": f"Bearer {secret}"})


def intakes(s: Service) -> Counter[tuple[str, str]]:
    with s.rt.lock:
        return Counter((i.target.kind.value + ":" + i.target.id, str(i.category))
                       for i in s.rt.casework.intakes.values() if i.kind.value == "finding")


@pytest.mark.slow
def test_events_through_the_bus_become_the_service_s_cases_once(
        broker: testbroker.Tansu, prefix: str, tmp_path: Path) -> None:
    names = topics.names(prefix)
    (tmp_path / "media").mkdir()
    detect = start_worker(broker, "detect", prefix, tmp_path, name="detect")
    db = str(tmp_path / "v.db")
    try:
        with serving(db, tmp_path, bus=bus_settings(broker, prefix)) as s:
            events = [{"type": "guild_created", "ts": "2026-03-01T11:00:00Z",
                       "guild": {"id": "g1", "name": "jeux", "owner_id": "u0"}},
                      message("m1", "g1", "c1", "u1", CHAT[0]),
                      message("m2", "g1", "c1", "u2", LURES[0]),
                      message("m3", None, "dm1", "u3", LURES[1])]
            r = s.post("/v1/events", {"events": events})
            assert r.status_code == 202 and r.json()["accepted"] == 4, r.text
            on_log = read_topic(broker, names[topics.EVENTS], until=lambda ms: len(ms) >= 4)
            assert sorted(m.get("event_id", "") for m in on_log) == \
                ["", "ev-m1", "ev-m2", "ev-m3"]
            first = wait_for(lambda: s.get("/v1/cases").json()["cases"])
            assert first, (tmp_path / "detect.log").read_text()[-2000:]
            assert wait_for(lambda: {"message:m2", "message:m3"} <= {t for t, _ in intakes(s)})
            # Read once both findings are in: the two places' cases may open seconds apart
            # (a worker's first reading by meaning loads the encoder).
            cases = s.get("/v1/cases").json()["cases"]
            taken = intakes(s)
            # The same findings delivered again (a worker killed before it committed, read
            # again by another): nothing is added.
            found = read_topic(broker, names[topics.FINDINGS], until=lambda ms: len(ms) >= 2)
            from confluent_kafka import Producer

            again = Producer({"bootstrap.servers": broker.address,
                              **testbroker.PRODUCER_OPTIONS})
            for m in found:
                again.produce(names[topics.FINDINGS], json.dumps(m).encode(), m["key"].encode())
            assert again.flush(10) == 0
            assert wait_for(lambda: s.rt.bus.stats["findings_messages"] >= 2 * len(found))
            assert intakes(s) == taken and max(taken.values()) == 1
            assert len(s.get("/v1/cases").json()["cases"]) == len(cases)
            # A decision by the API: its actions and documents go out, once each.
            case_id = next(c["id"] for c in s.get("/v1/cases").json()["cases"]
                           if any(t["id"] == "m2" for t in s.get(f"/v1/cases/{c['id']}")
                                  .json()["targets"]))
            view = s.get(f"/v1/cases/{case_id}").json()
            d = s.post(f"/v1/cases/{case_id}/decision", {"reviewer": "rita", "verdicts": [
                {"target": t, "category": "csam"} for t in view["targets"]
                if t["kind"] == "message"]})
            assert d.status_code == 200, d.text
            decision = d.json()
            doc_ids = {doc["id"] for doc in decision["documents"]}
            assert doc_ids
            with s.rt.lock:
                action_ids = {a.id for a in s.rt.casework.enforcement.actions.values()
                              if a.decision_id == decision["id"]}
            assert action_ids
            actions = read_topic(broker, names[topics.ACTIONS],
                                 until=lambda ms: {m["id"] for m in ms} >= action_ids)
            documents = read_topic(broker, names[topics.DOCUMENTS],
                                   until=lambda ms: {m["id"] for m in ms} >= doc_ids)
            assert {m["id"] for m in actions} >= action_ids
            assert {m["id"] for m in documents} >= doc_ids
            secret = s.key
        # The service stopped (as on SIGTERM); started again on the same database and
        # topics, it publishes nothing twice and takes no finding twice.
        with contextmanager(reopen)(db, tmp_path, secret,
                                    bus=bus_settings(broker, prefix)) as s:
            assert intakes(s) == taken
            r = s.post("/v1/events", {"events": [message("m4", "g1", "c1", "u4",
                                                          LURES[1])]})
            assert r.status_code == 202
            assert wait_for(lambda: "message:m4" in {t for t, _ in intakes(s)})
            assert all(n == 1 for n in intakes(s).values())
    finally:
        stop(detect)
    assert detect.returncode == 0, (tmp_path / "detect.log").read_text()[-2000:]
    actions = read_topic(broker, names[topics.ACTIONS], until=lambda ms: False, timeout=8)
    documents = read_topic(broker, names[topics.DOCUMENTS], until=lambda ms: False, timeout=4)
    for kind, ms in (("action", actions), ("document", documents)):
        per_id = Counter(m["id"] for m in ms)
        assert per_id and max(per_id.values()) == 1, f"a {kind} published twice: {per_id}"
        assert all(m["v"] == 1 and m["rev"] for m in ms)
    assert {m["id"] for m in actions} >= action_ids


@pytest.mark.slow
def test_a_sink_on_the_service_s_database_is_refused_by_name(
        broker: testbroker.Tansu, prefix: str, tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    db = tmp_path / "v.db"
    with serving(str(db), tmp_path, bus=bus_settings(broker, prefix)):
        sink = start_worker(broker, "sink", prefix, tmp_path, name="sink",
                            extra=["--db", str(db), "--evidence-key",
                                   str(tmp_path / "evidence.key")])
        try:
            sink.wait(timeout=60)
        finally:
            stop(sink)
    out = (tmp_path / "sink.log").read_text()
    assert sink.returncode not in (0, None), out
    assert "veilleur serve --bus (pid" in out and "takes the findings itself" in out, out


@pytest.mark.slow
def test_a_broker_gone_gets_503_and_nothing_said_accepted(tmp_path: Path) -> None:
    """A real broker stopped under a running service: the batch waits at most --bus-timeout
    for an acknowledgement, then 503 with Retry-After; casework's doors keep working."""
    own = testbroker.start(tmp_path / "tansu.log")
    (tmp_path / "media").mkdir()
    try:
        with serving(str(tmp_path / "v.db"), tmp_path,
                     bus=bus_settings(own, "gone.", timeout=2.0)) as s:
            ok = s.post("/v1/events", {"events": [message("m1", "g1", "c1", "u1", CHAT[0])]})
            assert ok.status_code == 202 and ok.json()["accepted"] == 1
            own.stop()
            started = time.monotonic()
            r = s.post("/v1/events", {"events": [message("m2", "g1", "c1", "u2", LURES[0])]})
            assert r.status_code == 503, r.text
            assert time.monotonic() - started < 30
            assert r.headers["retry-after"].isdigit()
            assert "did not take the events" in r.json()["detail"]
            assert "Nothing in this request is accepted" in r.json()["detail"]
            assert s.rt.bus.stats["events_put"] == 1 and s.rt.bus.stats["put_failures"] == 1
            r = s.post("/v1/reports", {"id": "r1", "target": {"kind": "message", "id": "m1"}})
            assert r.status_code == 202, r.text
            assert s.get("/health").status_code == 200
    finally:
        own.stop()


@pytest.mark.slow
def test_the_command_survives_kill_9_and_stops_on_sigterm(
        broker: testbroker.Tansu, prefix: str, tmp_path: Path) -> None:
    """`veilleur serve --bus` as a process: killed with SIGKILL right after it has taken
    findings (before its checkpoint may have written them and committed their offsets),
    started again, it reads them again and holds each once, none missing; then SIGTERM
    stops it cleanly (lease given back)."""
    import signal
    import sqlite3

    import httpx

    from veilleur.store import lease
    from veilleur.store.db import connect

    db = tmp_path / "v.db"
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    made = subprocess.run([sys.executable, "-m", "veilleur", "keys", "create", "platform",
                           "--scope", "events", "--scope", "cases:read", "--db", str(db)],
                          capture_output=True, text=True, env=env, check=True)
    secret = made.stdout.strip().splitlines()[-1]
    port = testbroker.free_port()
    cmd = [sys.executable, "-m", "veilleur", "serve", "--db", str(db), "--port", str(port),
           "--evidence-key", str(tmp_path / "evidence.key"),
           "--bus", f"kafka://{broker.address}", "--topic-prefix", prefix,
           "--bus-group", f"{prefix}serve", "--bus-partitions", "4",
           "--session-timeout-ms", str(testbroker.SESSION_TIMEOUT_MS)]
    for k, v in testbroker.PRODUCER_OPTIONS.items():
        cmd += ["--producer-option", f"{k}={v}"]
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {secret}"}

    def start(name: str) -> subprocess.Popen[bytes]:
        with open(tmp_path / f"{name}.log", "wb") as log:
            process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       stdin=subprocess.DEVNULL)

        def up() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(up, 90), (tmp_path / f"{name}.log").read_text()[-2000:]
        return process

    def taken() -> int:
        return int(httpx.get(f"{url}/health", timeout=5).json()["bus"]["findings_messages"])

    lures = [message(f"k{i}", f"g{i % 3}", f"c{i % 3}", f"u{i}", LURES[i % 2])
             for i in range(6)]
    detect = start_worker(broker, "detect", prefix, tmp_path, name="detect")
    serve = first = start("serve-1")
    try:
        r = httpx.post(f"{url}/v1/events", headers=headers, timeout=30,
                       json={"events": lures})
        assert r.status_code == 202 and r.json()["accepted"] == len(lures), r.text
        assert wait_for(lambda: taken() >= 1, 90), (tmp_path / "detect.log").read_text()[-2000:]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        serve = start("serve-2")

        def held() -> set[str]:
            with sqlite3.connect(db) as con:
                return {r[0] for r in con.execute(
                    "SELECT target_id FROM intakes WHERE kind = 'finding' AND "
                    "target_kind = 'message'")}

        want = {m["message"]["id"] for m in lures}
        assert wait_for(lambda: held() >= want, 90), \
            (tmp_path / "serve-2.log").read_text()[-2000:]
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    finally:
        stop(serve)
        stop(detect)
    assert first.returncode == -signal.SIGKILL
    # uvicorn shuts down, then raises the signal it caught again: -SIGTERM after a clean
    # stop; the lease given back says the service's own stop ran.
    text = (tmp_path / "serve-2.log").read_text()
    assert serve.returncode in (0, -signal.SIGTERM), text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT target_kind, target_id, category FROM intakes WHERE "
                           "kind = 'finding'").fetchall()
    assert len(rows) == len(set(rows))  # taken again after the kill, held once
    assert {t for k, t, _ in rows if k == "message"} == want
    engine = connect(f"sqlite:///{db}")
    try:
        from datetime import UTC, datetime

        from sqlalchemy import func, select

        from veilleur.store.models import LeaseRow

        assert lease.holder(engine, datetime.now(UTC)) is None
        with engine.connect() as conn:  # given back by the stop, not lapsed with the pid
            assert conn.execute(select(func.count()).select_from(LeaseRow)).scalar_one() == 0
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_decision_s_items_wait_in_the_outbox_while_the_broker_does_not_take_them(
        broker: testbroker.Tansu, prefix: str, tmp_path: Path) -> None:
    """A verdict (judged by the service's own engine) opens a case; its decision's actions
    and documents are written while the publisher's broker does not answer: they stay in
    the outbox, nothing on the topics; once it answers, they go out, each once."""
    from confluent_kafka import Producer

    from veilleur.bus import outbox

    names = topics.names(prefix)
    (tmp_path / "media").mkdir()
    with serving(str(tmp_path / "v.db"), tmp_path, bus=bus_settings(broker, prefix)) as s:
        held = s.post("/v1/verdict", message("v1", "g1", "g1-c1", "u8", LURES[0])).json()
        assert held["verdict"] == "review" and held["case_id"], held
        on_log = read_topic(broker, names[topics.EVENTS], until=lambda ms: len(ms) >= 1)
        assert [m["message"]["id"] for m in on_log] == ["v1"]
        publisher = s.rt.bus.publisher
        working = publisher._producer
        publisher._producer = Producer({"bootstrap.servers":
                                        f"127.0.0.1:{testbroker.free_port()}",
                                        "message.timeout.ms": 1000})
        publisher.timeout = 1.0
        case = s.get(f"/v1/cases/{held['case_id']}").json()
        d = s.post(f"/v1/cases/{held['case_id']}/decision", {"reviewer": "rita", "verdicts": [
            {"target": t, "category": "csam"} for t in case["targets"]]})
        assert d.status_code == 200, d.text
        doc_ids = {doc["id"] for doc in d.json()["documents"]}
        assert doc_ids
        assert wait_for(lambda: publisher.stats["failed_rounds"] >= 1, 30)
        waiting = outbox.backlog(s.rt.db)
        assert waiting >= len(doc_ids) + 1  # the documents and at least one action
        publisher._producer, publisher.timeout = working, 10.0
        s.rt.bus.wake_outbox()
        assert wait_for(lambda: outbox.backlog(s.rt.db) == 0, 30)
    documents = read_topic(broker, names[topics.DOCUMENTS],
                           until=lambda ms: {m["id"] for m in ms} >= doc_ids, timeout=30)
    actions = read_topic(broker, names[topics.ACTIONS], until=lambda ms: False, timeout=5)
    assert Counter(m["id"] for m in documents) == Counter(doc_ids)
    assert actions and max(Counter(m["id"] for m in actions).values()) == 1
    decided = [m for m in actions if m["action"]["decision_id"] == d.json()["id"]]
    assert decided and all(not m["action"]["automated"] for m in decided)
    # The rest are the engine's own (evidence preserved at the verdict), published before.
    assert all(m["action"]["automated"] for m in actions if m not in decided)
