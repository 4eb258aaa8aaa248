"""Opening the database: SQLite by default (WAL), PostgreSQL through a URL; always migrated."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from veilleur.private import make_dir, private_file, tighten

DEFAULT_DB = "veilleur.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreError(RuntimeError):
    pass


def database_url(value: str | None = None) -> str:
    """A SQLAlchemy URL from `--db`, `$VEILLEUR_DB`, or the default file `./veilleur.db`.

    A bare path means a SQLite file; `postgresql://` uses the psycopg 3 driver.
    """
    value = value or os.environ.get("VEILLEUR_DB") or DEFAULT_DB
    if value in (":memory:", "sqlite://"):
        return "sqlite://"
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix):]
    return value


def private_sqlite(url: str) -> None:
    """A SQLite file owner-only before SQLite opens it. SQLite gives the -wal, -shm and
    -journal files it creates the mode of the database file, so they follow; ones left by an
    earlier version, open to others, are tightened here too."""
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    try:
        make_dir(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot create the database folder {path.parent}: "
                         f"{exc.strerror or exc}") from None
    try:
        private_file(path)
        for suffix in ("-wal", "-shm", "-journal"):
            tighten(path.with_name(path.name + suffix))
    except OSError as exc:
        raise StoreError(f"cannot use the database file {path}: "
                         f"{exc.strerror or exc}") from None


def connect(url: str, *, migrate: bool = True, create: bool = True) -> Engine:
    """Open (and migrate) a database. `create=False` is for commands that only read what
    an earlier run stored: a SQLite file that does not exist is an error, not a new empty
    database that would answer "nothing here" about the wrong file."""
    if not create and url.startswith("sqlite:///"):
        file = Path(url.removeprefix("sqlite:///"))
        if not file.exists():
            raise StoreError(f"no database at {file}: pass --db or run `veilleur scan` first")
    private_sqlite(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL or file path: {url!r}") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported database {parsed.get_backend_name()!r} in {shown}: "
                         "use SQLite or PostgreSQL")
    try:
        engine = create_engine(parsed)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"cannot use database {shown}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    if migrate:
        try:
            upgrade(engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open database {shown}: {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0]}") from None
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "head")


WRITE_LOCK = 0x7665696C  # "veil": the advisory lock key of `locked_transaction` on PostgreSQL


@contextmanager
def locked_transaction(db: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock from its first statement, so what
    it reads (the audit chain's head, the service lease) cannot change before it writes,
    whichever process writes next. SQLite: `BEGIN IMMEDIATE` (one writer per file; others
    wait in the busy handler). PostgreSQL: a transaction-scoped advisory lock that every
    such transaction takes first; it is released at commit or rollback."""
    with db.begin() as conn:
        if db.dialect.name == "sqlite":
            # pysqlite begins lazily (before the first write): this is the first statement.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif db.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
        yield conn


def as_utc(ts: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones; all are UTC)."""
    if ts is None:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (a console, a second scan) work while a scan writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
