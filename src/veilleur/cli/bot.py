"""Command line for the Discord bot: `bot` (run it), `bot invite-link` (the install URL)."""

from __future__ import annotations

import os
import signal
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from veilleur.cli.common import DbOption, KeyOption, fail

if TYPE_CHECKING:
    from collections.abc import Mapping

    from veilleur.bot.casebook import Casebook
    from veilleur.bot.intake import Engine
    from veilleur.bot.policy import ServerPolicy

TOKEN_ENV = "VEILLEUR_DISCORD_TOKEN"
API_KEY_ENV = "VEILLEUR_API_KEY"

bot_app = typer.Typer(help="The Discord bot: the engine inside the servers that install it.")


def read_secret(file: Path | None, env: str, option: str, what: str) -> str:
    """A secret from `file`, else `$env`; never from the command line (other users of the
    machine can read it there) and never printed."""
    if file is not None:
        try:
            mode = file.stat().st_mode
            secret = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{option} {file}: cannot read it: "
                       f"{getattr(exc, 'strerror', None) or exc}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            Console(stderr=True).print(f"warning: {file} can be read by other users; "
                                       f"`chmod 600 {file}`", highlight=False)
        where = f"{option} {file}"
    else:
        secret = os.environ.get(env, "").strip()
        where = f"${env}"
    if not secret:
        raise fail(f"no {what}: give {option} FILE or set ${env}"
                   if file is None else f"{where} is empty")
    if any(c.isspace() for c in secret):
        raise fail(f"{where} does not hold {what} (it has spaces or several lines)")
    return secret


@bot_app.callback(invoke_without_command=True)
def bot(
    ctx: typer.Context,
    token_file: Annotated[Path | None, typer.Option(
        "--token-file", help=f"File holding the bot's token \\[default: ${TOKEN_ENV}]. "
        "Never given on the command line.")] = None,
    db: DbOption = None,
    evidence_key: KeyOption = None,
    policy: Annotated[list[Path] | None, typer.Option(
        "--policy", help="Repeatable: a server's policy file (TOML), or a folder of them. "
        "A server without one is watched and nothing is done automatically.")] = None,
    api: Annotated[str | None, typer.Option(
        "--api", help="A running `veilleur serve` (its https URL; http only to this "
        "machine) to be the client of, instead of an embedded engine; the API key needs the "
        "events, verdict and reports scopes, and for the moderators' buttons cases:read, "
        "cases:decide and appeals.")] = None,
    api_key_file: Annotated[Path | None, typer.Option(
        "--api-key-file", help=f"With --api: file holding the API key \\[default: "
                               f"${API_KEY_ENV}].")] = None,
    queue: Annotated[Path | None, typer.Option(
        "--queue", help="With --api: the folder (created owner-only) of the queue on disk "
        "where events wait, in order, while the service is unreachable; replayed when it "
        "answers again, and at the next start \\[default: ./veilleur-bot-queue]. One bot "
        "per folder.")] = None,
    queue_mb: Annotated[int, typer.Option(
        "--queue-mb", min=1, max=1_000_000, help="With --api: the queue holds at most this "
        "many MiB of events; past it, new ones are refused (and counted in the log), never "
        "what is already queued.")] = 512,
    state: Annotated[Path | None, typer.Option(
        "--state", help="The bot's own records (SQLite, owner-only): the servers' case "
        "numbers, their threads, the actions taken (for undo), notes, warnings, appeals, "
        "the shared watch list \\[default: beside the --db file, or in the --queue folder "
        "with --api].")] = None,
    fetch_mb: Annotated[int, typer.Option(
        "--fetch-mb", min=0, max=100, help="Attachments up to this many MiB, whatever "
        "their declared type, are downloaded and hashed (then not kept in clear); larger "
        "ones stay references. 0: none. With --api they are sent to the service with the "
        "message (POST /v1/verdict/message).")] = 8,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
) -> None:
    """Run the bot, with the engine embedded (the same runtime as `veilleur serve`, on
    --db) or as a client of a running service (--api): every event is journaled before it
    is handled, messages are judged, and the containment each server's policy makes
    automatic is carried out, evidence first."""
    if ctx.invoked_subcommand is not None:
        return
    import logging

    from veilleur.bot.policy import BotPolicyError, load_policies

    token = read_secret(token_file, TOKEN_ENV, "--token-file", "bot token")
    key = read_secret(api_key_file, API_KEY_ENV, "--api-key-file", "API key") if api else None
    try:
        policies = load_policies(policy or [])
    except BotPolicyError as exc:
        raise fail(str(exc)) from None
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if api is not None:
        check_api(api)  # before anything is made on disk
    book = open_records(state or default_state(db, api, queue))
    try:
        if api is not None and key is not None:
            run_client(token, api, key, policies, book, queue=queue, queue_mb=queue_mb,
                       fetch_cap=fetch_mb * 1024 * 1024)
        else:
            run_embedded(token, db, evidence_key, policies, book, fetch_mb * 1024 * 1024)
    finally:
        book.close()


def default_state(db: str | None, api: str | None, queue: Path | None) -> Path:
    """Beside the engine's SQLite file (`veilleur.db` -> `veilleur.bot.sqlite`), in the
    queue's folder in client mode, else in the current folder."""
    from veilleur.bot.diskqueue import DEFAULT_FOLDER

    if api is not None:
        return (queue or DEFAULT_FOLDER) / "records.sqlite"
    path = (db or "veilleur.db").removeprefix("sqlite:///")
    if "://" in path:  # PostgreSQL: no file to sit beside
        return Path("veilleur-bot.sqlite")
    return Path(path).with_suffix(".bot.sqlite")


def open_records(path: Path) -> Casebook:
    from veilleur.bot.casebook import Casebook, CasebookError

    try:
        return Casebook(path)
    except CasebookError as exc:
        raise fail(f"--state: {exc}") from None


def run_embedded(token: str, db: str | None, evidence_key: Path | None,
                 policies: Mapping[int, ServerPolicy], book: Casebook,
                 fetch_cap: int) -> None:
    from veilleur.bot.intake import EmbeddedEngine
    from veilleur.enforce.evidence import EvidenceError
    from veilleur.private import FileModeError
    from veilleur.service.runtime import Runtime, ServiceSettings
    from veilleur.store.db import StoreError

    try:
        runtime = Runtime(ServiceSettings(db=db, evidence_key=evidence_key))
        runtime.start()  # holds the database's lease: no `serve` on it at the same time
    except (StoreError, EvidenceError, FileModeError) as exc:
        raise fail(str(exc)) from None
    Console(stderr=True).print(f"veilleur bot: engine on {runtime.url.split('@')[-1]}, "
                               f"{len(policies)} server policies", highlight=False)
    try:
        run_bot(token, EmbeddedEngine(runtime), policies, book, fetch_cap)
    finally:
        runtime.stop()


def run_client(token: str, api: str, key: str, policies: Mapping[int, ServerPolicy],
               book: Casebook, *, queue: Path | None = None, queue_mb: int = 512,
               fetch_cap: int = 8 * 1024 * 1024) -> None:
    import asyncio

    from veilleur.bot.diskqueue import DEFAULT_FOLDER, DiskQueue, QueueError
    from veilleur.bot.remote import ServiceEngine
    from veilleur.private import FileModeError

    check_api(api)
    folder = queue or DEFAULT_FOLDER
    try:
        disk = DiskQueue(folder, max_bytes=queue_mb * 1024 * 1024)
    except (QueueError, FileModeError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"--queue {folder}: {exc.strerror or exc}") from None
    try:
        engine = ServiceEngine(api, key, queue=disk)  # fetched files: <queue>/spool
    except OSError as exc:
        disk.close()
        raise fail(f"--queue {folder}: its spool folder: {exc.strerror or exc}") from None
    Console(stderr=True).print(f"veilleur bot: client of {engine.url}, {len(policies)} "
                               f"server policies, queue on disk in {folder} "
                               f"({len(disk)} waiting)", highlight=False)
    try:
        run_bot(token, engine, policies, book, fetch_cap)
    finally:
        asyncio.run(engine.close())


def check_api(api: str) -> None:
    if not api.startswith(("http://", "https://")):
        raise fail(f"--api must be the service's http(s) URL, got {api!r}")
    if api.startswith("http://") and not loopback(api):
        raise fail(f"--api {api!r}: plain http would send the API key in clear; use https "
                   "(http is accepted only to this machine: localhost, 127.0.0.1, ::1)")


def loopback(url: str) -> bool:
    """Whether `url` names this machine (a loopback address or `localhost`)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_bot(token: str, engine: Engine, policies: Mapping[int, ServerPolicy],
            book: Casebook, fetch_cap: int) -> None:
    import discord

    from veilleur.bot.client import VeilleurBot

    client = VeilleurBot(engine, policies, fetch_cap=fetch_cap, book=book)
    # A service manager stops the bot with SIGTERM: it is taken as Ctrl-C (discord.py closes
    # the connection, then the engine stops cleanly: what is in memory is written).
    before = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        client.run(token, log_handler=None)
    except discord.LoginFailure:
        raise fail("Discord refused the token (check the file or the variable)") from None
    except discord.PrivilegedIntentsRequired:
        raise fail("Discord refused the intents: switch on Message Content and Server "
                   "Members in the developer portal (Bot page)") from None
    finally:
        signal.signal(signal.SIGTERM, before)
    if client.engine_failure is not None:
        raise fail(f"the engine stopped ({client.engine_failure}); what was accepted is in "
                   "the journal and is taken in again at the next start")


@bot_app.command("invite-link")
def invite_link(
    client_id: Annotated[str, typer.Option("--client-id", help="The application's id "
                                           "(developer portal, General Information).")],
) -> None:
    """Print the URL that installs the bot with exactly the permissions it needs (no
    Administrator), and the intents to switch on."""
    from veilleur.bot.permissions import INTENTS, NEEDED, invite_link, label

    try:
        url = invite_link(client_id)
    except ValueError as exc:
        raise fail(str(exc)) from None
    typer.echo(url)
    err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
    err.print("Permissions asked:")
    for need in NEEDED:
        err.print(f"  {label(need.name)} ({need.scope.value}): {need.why}")
    err.print("Intents (Bot page; privileged ones must be switched on there):")
    for name, what, privileged in INTENTS:
        err.print(f"  {name}: {what}" + (" [privileged]" if privileged else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(bot_app, name="bot")
