"""The casework writer's outbox: actions and documents recorded with the transaction that
writes them, published once the broker acknowledges, kept when it does not."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.bus.conftest import read_topic
from veilleur.bus import outbox, testbroker, topics, wire
from veilleur.cases.models import Action
from veilleur.compliance.documents import Document
from veilleur.store import lease
from veilleur.store.casework import DatabaseSink
from veilleur.store.db import connect
from veilleur.taxonomy import Category, Target, TargetKind

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _items() -> tuple[Action, Document]:
    action = Action("A-1", NOW, "remove", Target(TargetKind.MESSAGE, "m1"), "C-1", False,
                    Category.CSAM, decision_id="D-1", reason="test")
    document = Document("DOC-1", "statement_of_reasons", NOW, {"role": "user", "id": "u1"},
                        language="fr", subject="décision", body="texte",
                        refs={"decision_id": "D-1", "case_id": "C-1"})
    return action, document


def _rows(db: object) -> list[tuple[str, str, str, bool]]:
    from sqlalchemy import select

    from veilleur.store.models import BusOutboxRow

    with db.connect() as conn:  # type: ignore[attr-defined]
        return [(r.topic, r.item_id, r.key, r.published_at is not None) for r in conn.execute(
            select(BusOutboxRow).order_by(BusOutboxRow.seq))]


def test_the_outbox_is_written_with_the_items_once_per_state(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'o.db'}")
    try:
        embedded = DatabaseSink(db)
        action, document = _items()
        embedded.action(action)
        embedded.flush()
        assert _rows(db) == []  # the embedded service has no bus: no outbox
        sink = DatabaseSink(db, outbox=True)
        sink.action(action)
        sink.document(document)
        sink.flush()
        sink.action(action)  # written again unchanged (a restart, a second checkpoint)
        sink.flush()
        assert _rows(db) == [("actions", "A-1", "message:m1", False),
                             ("documents", "DOC-1", "DOC-1", False)]
        action.reverted_at, action.reverted_by = NOW, "rita"  # changed: published again
        sink.action(action)
        sink.flush()
        assert [r[1] for r in _rows(db)] == ["A-1", "DOC-1", "A-1"]
        first, _, lifted = outbox.pending(db)
        assert first.rev != lifted.rev
        body = json.loads(outbox.message(lifted))
        assert body == wire.action_message("A-1", lifted.rev, action.to_json())
        assert body["action"]["reverted_by"] == "rita" and body["v"] == wire.VERSION
    finally:
        db.dispose()


def test_a_publish_the_broker_does_not_take_is_kept_for_later(
        broker: testbroker.Tansu, prefix: str, tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'o.db'}")
    try:
        sink = DatabaseSink(db, outbox=True)
        action, document = _items()
        sink.action(action)
        sink.document(document)
        sink.flush()
        # Nothing listens on this port: the publish fails, nothing is marked, no raise.
        dead = outbox.Publisher(db, f"127.0.0.1:{testbroker.free_port()}", prefix=prefix,
                                timeout=1.0)
        assert dead.publish() == 0
        assert dead.stats["failed_rounds"] == 1 and outbox.backlog(db) == 2
        from veilleur.bus.config import BusConfig, ensure_topics

        ensure_topics(BusConfig(broker=broker.address, group="", prefix=prefix,
                                partitions=2), (topics.ACTIONS, topics.DOCUMENTS))
        live = outbox.Publisher(db, broker.address, prefix=prefix,
                                options=dict(testbroker.PRODUCER_OPTIONS), timeout=10.0)
        assert live.publish() == 2 and outbox.backlog(db) == 0
        assert live.publish() == 0  # published once: marked
        names = topics.names(prefix)
        actions = read_topic(broker, names[topics.ACTIONS], until=lambda ms: len(ms) >= 1,
                             timeout=20)
        documents = read_topic(broker, names[topics.DOCUMENTS],
                               until=lambda ms: len(ms) >= 1, timeout=20)
        assert [m["id"] for m in actions] == ["A-1"]
        assert actions[0]["action"]["target"] == {"kind": "message", "id": "m1"}
        assert [m["id"] for m in documents] == ["DOC-1"]
        assert documents[0]["document"]["kind"] == "statement_of_reasons"
        # The row's copy of the body is dropped once the broker has it; the digest stays.
        from sqlalchemy import select

        from veilleur.store.models import BusOutboxRow

        with db.connect() as conn:
            kept = conn.execute(select(BusOutboxRow.published_at, BusOutboxRow.body,
                                       BusOutboxRow.rev)).all()
        assert len(kept) == 2 and all(at is not None and body is None and rev
                                      for at, body, rev in kept)
    finally:
        db.dispose()


def test_the_lease_names_the_other_casework_writer(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        lease.take(db, "service", NOW, role="serve --bus")
        with pytest.raises(lease.DatabaseHeld) as held:
            lease.take(db, "sink", NOW, role="sink")
        text = str(held.value)
        assert text.startswith("veilleur serve --bus (pid ")
        assert "takes the findings itself" in text and "worker --stage sink" in text
        lease.release(db, "service")
        lease.take(db, "sink", NOW, role="sink")
        with pytest.raises(lease.DatabaseHeld) as held:
            lease.take(db, "service", NOW, role="serve --bus")
        assert str(held.value).startswith("veilleur worker --stage sink (pid ")
        assert "stop the sink before starting the service" in str(held.value)
        with pytest.raises(lease.DatabaseHeld) as held:
            lease.refuse_if_held(db, NOW)  # a command that would write casework
        assert "stop the sink first" in str(held.value)
    finally:
        db.dispose()


def test_casework_labels_reach_the_detect_workers_through_the_outbox(tmp_path: Path) -> None:
    """A server removed is recorded for the bus with the label, and its message on `labels`
    is what a detect worker takes (it remembers the server as fallen)."""
    from veilleur.bus.detect import DetectStage
    from veilleur.store.models import BusOutboxRow

    db = connect(f"sqlite:///{tmp_path / 'o.db'}")
    try:
        sink = DatabaseSink(db, outbox=True)
        sink.label(Target(TargetKind.GUILD, "g9"), "removed:csam", NOW, "C-1")
        sink.flush()
        [row] = outbox.pending(db)
        assert (row.topic, row.key) == ("labels", "casework\x1fguild:g9\x1fremoved:csam")
        assert isinstance(row, BusOutboxRow)
        stage = DetectStage(worker="w", memory=True)
        stage.inbox.put(outbox.message(row))
        stage.take_labels()
        network = next(d for d in stage.engine.detectors if hasattr(d, "fallen"))
        assert network.fallen["g9"][:2] == (Category.CSAM, NOW)  # type: ignore[attr-defined]
        assert stage.stats["labels_in"] == 1 and stage.stats["bad_labels"] == 0
    finally:
        db.dispose()
