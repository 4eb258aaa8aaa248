from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select, text

from veilleur.decide.policy import Finding
from veilleur.events import (
    Attachment,
    Channel,
    ChannelCreated,
    Event,
    Guild,
    GuildCreated,
    GuildDeleted,
    GuildUpdated,
    MemberJoined,
    Message,
    MessageDeleted,
    MessagePosted,
    User,
)
from veilleur.store.db import StoreError, connect, database_url
from veilleur.store.models import (
    AttachmentRow,
    Base,
    EventRow,
    FindingRow,
    GuildRow,
    MessageRow,
    UserRow,
)
from veilleur.store.writer import StoreWriter
from veilleur.taxonomy import Category, Target, TargetKind

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def events() -> list[Event]:
    msg = Message(id="m1", channel_id="c1", guild_id="g1", author_id="u1", content="hi",
                  attachments=(Attachment(id="a1", url="https://x/y.png"),))
    return [
        GuildCreated(ts=T0, guild=Guild(id="g1", name="srv", owner_id="u1")),
        ChannelCreated(ts=T0, channel=Channel(id="c1", guild_id="g1", name="general")),
        MessagePosted(ts=T0, message=msg, author=User(id="u1", name="alice")),
        MemberJoined(ts=T0, guild_id="g1", user_id="u2", invite_code="abc"),
    ]


def counts(db: Engine) -> dict[str, int]:
    with db.connect() as conn:
        return {t.__tablename__: conn.scalar(select(func.count()).select_from(t))
                for t in (GuildRow, MessageRow, AttachmentRow, UserRow, EventRow)}


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = connect(db_url)
    yield engine
    engine.dispose()


def test_writing_twice_duplicates_nothing(db: Engine) -> None:
    for _ in range(2):
        writer = StoreWriter(db, batch_size=2)
        for e in events():
            writer.add(e)
        writer.flush()
    assert counts(db) == {"guilds": 1, "messages": 1, "attachments": 1, "users": 1, "events": 1}


def test_messages_keep_their_first_version(db: Engine) -> None:
    writer = StoreWriter(db)
    for content in ("first", "second"):
        writer.add(MessagePosted(ts=T0, message=Message(id="m", channel_id="c", guild_id=None,
                                                        author_id="u", content=content)))
        writer.flush()
    with db.connect() as conn:
        assert conn.scalar(select(MessageRow.content)) == "first"


@pytest.mark.parametrize("batch", [1, 100])
def test_an_edit_replaces_the_text_only_when_newer(db: Engine, batch: int) -> None:
    """An edit (a newer `edited_at`) is what the message says now: a case preserves it and
    a reviewer reads it. A repeat without one, or an older edit arriving late, changes
    nothing. The same within one batch and across batches."""
    from datetime import timedelta

    writer = StoreWriter(db, batch_size=batch)

    def post(content: str, edited: int | None) -> None:
        writer.add(MessagePosted(ts=T0, message=Message(
            id="m", channel_id="c", guild_id=None, author_id="u", content=content,
            edited_at=None if edited is None else T0 + timedelta(minutes=edited))))

    for content, edited in (("hello", None), ("lure", 5), ("repeat", None), ("older", 2)):
        post(content, edited)
    writer.flush()
    with db.connect() as conn:
        row = conn.execute(select(MessageRow.content, MessageRow.edited_at)).one()
    assert row.content == "lure" and row.edited_at.replace(tzinfo=UTC) == T0 + timedelta(
        minutes=5)


def test_partial_guild_update_keeps_what_it_leaves_out(db: Engine) -> None:
    writer = StoreWriter(db)
    writer.add(GuildCreated(ts=T0, guild=Guild(id="g", name="old", owner_id="o")))
    writer.flush()
    writer.add(GuildUpdated(ts=T0, guild=Guild(id="g", description="d")))
    writer.add(GuildUpdated(ts=T0, guild=Guild(id="g", name="new")))
    writer.flush()
    with db.connect() as conn:
        row = conn.execute(select(GuildRow.name, GuildRow.owner_id, GuildRow.description)).one()
    assert tuple(row) == ("new", "o", "d")


def test_later_media_export_fills_in_digests(db: Engine) -> None:
    writer = StoreWriter(db)
    for att in (Attachment(id="a", url="https://x/y.png"),
                Attachment(id="a", url="f\\y.png", path="/e/f/y.png", md5="1" * 32,
                           sha256="2" * 64, size=10),
                Attachment(id="a", url="https://x/y.png")):
        writer.add(MessagePosted(ts=T0, message=Message(id="m", channel_id="c", guild_id=None,
                                                        author_id="u", content="",
                                                        attachments=(att,))))
        writer.flush()
    with db.connect() as conn:
        row = conn.execute(select(AttachmentRow.sha256, AttachmentRow.local_path)).one()
    assert tuple(row) == ("2" * 64, "/e/f/y.png")


def test_deletions_are_recorded_not_applied_as_deletes(db: Engine) -> None:
    writer = StoreWriter(db)
    for e in events():
        writer.add(e)
    writer.add(MessageDeleted(ts=T0, message_id="m1", by="author"))
    writer.add(GuildDeleted(ts=T0, guild_id="g1", by="owner"))
    writer.flush()
    with db.connect() as conn:
        msg = conn.execute(select(MessageRow.content, MessageRow.deleted_by)).one()
        guild = conn.execute(select(GuildRow.name, GuildRow.deleted_by)).one()
    assert tuple(msg) == ("hi", "author")  # the evidence stays
    assert tuple(guild) == ("srv", "owner")


def test_findings_upsert(db: Engine) -> None:
    writer = StoreWriter(db)
    f = Finding(target=Target(TargetKind.MESSAGE, "m1"), category=Category.CSAM, score=0.8,
                detectors=("text.lexicon",), evidence="e", context={"guild_id": "g"})
    writer.save_findings([f], "p1")
    writer.save_findings([f], "p2")
    with db.connect() as conn:
        rows = conn.execute(select(FindingRow.score, FindingRow.policy_version)).all()
    assert [tuple(r) for r in rows] == [(0.8, "p2")]


def test_migrations_match_the_models(db: Engine) -> None:
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    db = connect(database_url(str(tmp_path / "w.db")))
    with db.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_database_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEILLEUR_DB", raising=False)
    assert database_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
    assert database_url(":memory:") == "sqlite://"
    assert database_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    monkeypatch.setenv("VEILLEUR_DB", "sqlite:///env.db")
    assert database_url(None) == "sqlite:///env.db"


def test_bad_database_is_a_clear_error(tmp_path: Path) -> None:
    db = connect(database_url(str(tmp_path / "new" / "folder" / "x.db")))
    assert (tmp_path / "new" / "folder" / "x.db").is_file()
    db.dispose()
    (tmp_path / "afile").write_text("")
    with pytest.raises(StoreError, match="cannot create the database folder"):
        connect(database_url(str(tmp_path / "afile" / "x.db")))
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        connect("mysql://u@h/db")
    bad = tmp_path / "notadb.db"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        connect(database_url(str(bad)))


def test_a_deleted_channel_marks_its_stored_messages_gone(db: Engine) -> None:
    """An owner deleting a channel takes its messages with it: each stored one is marked
    gone (and by whom), so every case shows it; a message posted later, or elsewhere, is
    not."""
    from datetime import timedelta

    from veilleur.events import ChannelDeleted

    writer = StoreWriter(db)
    for mid, channel, minutes in (("m1", "c", 0), ("m2", "c", 1), ("m3", "other", 1)):
        writer.add(MessagePosted(ts=T0 + timedelta(minutes=minutes), message=Message(
            id=mid, channel_id=channel, guild_id="g", author_id="u", content="x")))
    writer.flush()
    writer.add(ChannelDeleted(ts=T0 + timedelta(minutes=5), channel_id="c", guild_id="g",
                              by="moderator"))
    writer.add(MessagePosted(ts=T0 + timedelta(minutes=9), message=Message(
        id="m4", channel_id="c", guild_id="g", author_id="u", content="recreated")))
    writer.flush()
    with db.connect() as conn:
        rows = dict(conn.execute(select(MessageRow.id, MessageRow.deleted_by)).all())
    assert rows == {"m1": "moderator", "m2": "moderator", "m3": None, "m4": None}
