"""What the command modules share: exit codes, the `--db` and `--evidence-key` options,
failing with a clear message, opening the database, turning a refusing database into a
message, the evidence key, and writing outputs owner-only.

Command modules import from here, never from one another (`banks.py` also reads its pure
report, `bank_report.py`); `root.py` alone imports the command modules, to register them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from veilleur.private import write_private
from veilleur.store.db import StoreError, database_url

if TYPE_CHECKING:
    from sqlalchemy import Engine as Database

    from veilleur.enforce.evidence import EvidenceKey

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DB_HELP = "Database URL or SQLite file path \\[default: $VEILLEUR_DB or ./veilleur.db]."
KEY_HELP = ("Evidence key file (base64 of 32 bytes) \\[default: $VEILLEUR_EVIDENCE_KEY, else "
            "DB.evidence-key beside a SQLite file, created on first use].")
DbOption = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
KeyOption = Annotated[Path | None, typer.Option("--evidence-key", help=KEY_HELP)]


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print `error: MESSAGE` on standard error; the exit to raise (`raise fail(...)`)."""
    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def database_errors(command: Callable[..., None]) -> Callable[..., None]:
    """A database that refuses (locked, unreachable, a concurrent writer) is an error message,
    never a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        from sqlalchemy.exc import IntegrityError, SQLAlchemyError

        try:
            command(*args, **kwargs)
        except StoreError as exc:  # a running service holds the database, ...
            raise fail(str(exc)) from None
        except IntegrityError:
            raise fail("another process wrote casework to the database at the same moment; "
                       "this command's changes were not kept: run it again") from None
        except SQLAlchemyError as exc:
            raise fail(f"database error: {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0]}") from None

    return run


def open_db(db: str | None, *, create: bool = False) -> tuple[str, Database]:
    """`create`: only commands that write a first record (replay, accounts, keys, banks) may
    make a new database; the others read what a scan stored, and refuse a missing file."""
    from veilleur.store.db import connect

    url = database_url(db)
    try:
        return url, connect(url, create=create)
    except StoreError as exc:
        raise fail(str(exc)) from None


def evidence_key_for(url: str, key_file: Path | None) -> EvidenceKey:
    """The evidence key for a database (see `enforce.evidence.key_for_database`)."""
    from veilleur.enforce.evidence import EvidenceError, key_for_database

    try:
        return key_for_database(url, key_file)
    except EvidenceError as exc:
        raise fail(str(exc)) from None


def write_atomic(path: Path, text: str) -> None:
    """Write an output file owner-only, replacing the old one only once fully written."""
    # Findings quote the messages they are about: owner-only, like the database.
    write_private(path, text)
