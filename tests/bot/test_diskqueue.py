"""The client-mode bot's queue on disk: in order, durable across a restart, owner-only,
bounded (refused past it, counted, nothing queued lost), and a damaged row or file is
skipped, never a crash."""

from __future__ import annotations

import logging
import sqlite3
import stat
from pathlib import Path

import pytest

from veilleur.bot.diskqueue import FILE, DiskQueue, QueueError

EV = "/v1/events"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_items_come_back_in_order_after_a_restart_and_go_once_removed(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q")
    assert q.put([(EV, {"n": i}) for i in range(5)]) == 5
    assert q.put([("/v1/reports", {"id": "r1", "text": "é"})]) == 1
    q.close()
    q = DiskQueue(tmp_path / "q")  # the bot restarted
    assert len(q) == 6
    head = q.head(3)
    assert [i.body for i in head] == [{"n": 0}, {"n": 1}, {"n": 2}]
    q.remove(head[:2])
    assert [i.body for i in q.head(10)] == [{"n": 2}, {"n": 3}, {"n": 4},
                                             {"id": "r1", "text": "é"}]
    assert q.head(10)[-1].path == "/v1/reports"
    q.remove(q.head(10))
    assert len(q) == 0 and q.bytes == 0 and q.head(10) == []
    q.close()


def test_the_queue_is_owner_only_and_one_bot_uses_it(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "state" / "q")
    q.put([(EV, {"content": "a message"})])
    assert mode(tmp_path / "state" / "q") == 0o700
    for name in (FILE, f"{FILE}-wal", f"{FILE}-shm", "queue.lock"):
        assert mode(tmp_path / "state" / "q" / name) == 0o600, name
    with pytest.raises(QueueError, match="in use by another bot"):
        DiskQueue(tmp_path / "state" / "q")
    q.close()
    DiskQueue(tmp_path / "state" / "q").close()  # free again


def test_past_the_bound_new_items_are_refused_and_counted_never_the_queued_ones(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    q = DiskQueue(tmp_path / "q", max_rows=3)
    assert q.put([(EV, {"n": 0}), (EV, {"n": 1})]) == 2
    with caplog.at_level(logging.ERROR, "veilleur.bot"):
        assert q.put([(EV, {"n": 2}), (EV, {"n": 3}), (EV, {"n": 4})]) == 1
        assert q.put([(EV, {"n": 5})]) == 0
    assert q.refused == 3
    assert "disk queue is full" in caplog.text and "2 item(s) refused so far" in caplog.text
    assert [i.body["n"] for i in q.head(10)] == [0, 1, 2]
    q.close()
    small = DiskQueue(tmp_path / "b", max_bytes=30)
    assert small.put([(EV, {"text": "x" * 10}), (EV, {"text": "y" * 10})]) == 1
    assert small.refused == 1 and small.bytes <= 30
    small.close()


def test_a_row_that_cannot_be_read_is_reported_and_skipped(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    q = DiskQueue(tmp_path / "q")
    q.put([(EV, {"n": 0})])
    q.close()
    db = sqlite3.connect(tmp_path / "q" / FILE)
    db.execute("INSERT INTO items (path, body, size) VALUES (?, ?, ?)", (EV, "{not json", 9))
    db.execute("INSERT INTO items (path, body, size) VALUES (?, ?, ?)", ("", "{}", 2))
    db.execute("INSERT INTO items (path, body, size) VALUES (?, ?, ?)", (EV, '{"n":3}', 7))
    db.commit()
    db.close()
    q = DiskQueue(tmp_path / "q")
    with caplog.at_level(logging.ERROR, "veilleur.bot"):
        assert [i.body for i in q.head(10)] == [{"n": 0}, {"n": 3}]
    assert q.skipped == 2 and len(q) == 2
    assert "cannot be read" in caplog.text and "skipped" in caplog.text
    q.close()


def test_a_file_that_is_not_a_queue_is_moved_aside_and_a_new_one_begun(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "q").mkdir(mode=0o700)
    (tmp_path / "q" / FILE).write_bytes(b"this is not an SQLite file, it is damaged" * 100)
    with caplog.at_level(logging.ERROR, "veilleur.bot"):
        q = DiskQueue(tmp_path / "q")
    assert len(q) == 0 and q.put([(EV, {"n": 1})]) == 1
    assert "cannot be read" in caplog.text
    aside = list((tmp_path / "q").glob(f"{FILE}.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    q.close()
