"""Command line for the service: `serve`, `keys` (API keys), `accounts` (reviewers)."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from veilleur.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    KeyOption,
    database_errors,
    fail,
    open_db,
)

keys_app = typer.Typer(help="API keys for platforms and trusted flaggers.",
                       no_args_is_help=True)
accounts_app = typer.Typer(help="Reviewer accounts of the console.", no_args_is_help=True)


def serve(
    db: DbOption = None,
    evidence_key: KeyOption = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
    media_root: Annotated[Path | None, typer.Option(
        "--media-root", help="Folder under which events' attachment paths are read.")] = None,
    max_backlog: Annotated[int, typer.Option(
        "--max-backlog", min=1000, help="Accepted events waiting for the engine before "
        "new batches get 429.")] = 200_000,
    secure_cookies: Annotated[bool, typer.Option(
        "--secure-cookies/--no-secure-cookies", help="Mark console cookies Secure (behind "
        "HTTPS).")] = False,
    openapi: Annotated[Path | None, typer.Option(
        "--openapi", help="Write the OpenAPI document here and exit.")] = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "warning",
    max_body: Annotated[str, typer.Option(
        "--max-body", help="Largest request body of the JSON routes (a verdict, a notice...); "
        "larger ones get 413.")] = "1MiB",
    max_batch_body: Annotated[str, typer.Option(
        "--max-batch-body", help="Largest body of POST /v1/events.")] = "8MiB",
    max_bank_body: Annotated[str, typer.Option(
        "--max-bank-body", help="Largest body of POST /v1/banks/NAME/entries.")] = "32MiB",
    max_upload: Annotated[str, typer.Option(
        "--max-upload", help="Largest body of POST /v1/verdict/upload (the file and its "
        "fields), and of each file of POST /v1/verdict/message.")] = "64MiB",
    max_message_upload: Annotated[str, typer.Option(
        "--max-message-upload", help="Largest body of POST /v1/verdict/message (a message "
        "event and its files, at most 10).")] = "128MiB",
    max_form_body: Annotated[str, typer.Option(
        "--max-form-body", help="Largest console or notice form.")] = "512KiB",
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        "--trusted-proxy", help="Repeatable: a reverse proxy's address or CIDR. Only from "
        "these peers is X-Forwarded-For believed (default: from none).")] = None,
    metrics_from: Annotated[list[str] | None, typer.Option(
        "--metrics-from", help="Repeatable: an address or CIDR that may read /metrics "
        "without a key (default: a key with the 'metrics' scope is needed).")] = None,
    break_after: Annotated[int, typer.Option(
        "--break-after", min=1, help="Remind a reviewer to take a break after this many "
        "revealed files in a day (and at each multiple).")] = 20,
    bus: Annotated[str | None, typer.Option(
        "--bus", help="kafka://HOST:PORT: put accepted platform events on the bus's "
        "'events' topic (detected by `veilleur worker --stage detect`) and take their "
        "'findings' into this service's casework; actions and documents go out on "
        "'actions' and 'documents'.")] = None,
    topic_prefix: Annotated[str, typer.Option(
        "--topic-prefix", help="With --bus: put in front of every topic's name (as the "
        "workers' --topic-prefix).")] = "",
    bus_group: Annotated[str, typer.Option(
        "--bus-group", help="With --bus: the service's consumer group on 'findings'.")
    ] = "veilleur-serve",
    bus_partitions: Annotated[int, typer.Option(
        "--bus-partitions", min=1, help="With --bus: partitions of the topics the service "
        "creates if missing.")] = 12,
    bus_replication: Annotated[int, typer.Option(
        "--bus-replication", min=1, help="With --bus: replication of the topics the "
        "service creates (3 on a real cluster).")] = 1,
    bus_timeout: Annotated[float, typer.Option(
        "--bus-timeout", min=0.5, help="With --bus: seconds a request waits for the "
        "broker's acknowledgement before it is refused with 503.")] = 10.0,
    session_timeout_ms: Annotated[int, typer.Option(
        "--session-timeout-ms", min=1000, help="With --bus: the findings consumer's "
        "session timeout.")] = 10_000,
    producer_option: Annotated[list[str] | None, typer.Option(
        "--producer-option", help="With --bus, repeatable: NAME=VALUE, a librdkafka "
        "producer setting.")] = None,
    consumer_option: Annotated[list[str] | None, typer.Option(
        "--consumer-option", help="With --bus, repeatable: NAME=VALUE, a librdkafka "
        "consumer setting.")] = None,
) -> None:
    """The engine as an HTTP service: the API (/v1), the console (/console), the public
    notice form (/notice), /health and /metrics."""
    import logging

    import uvicorn

    from veilleur.enforce.evidence import EvidenceError
    from veilleur.private import FileModeError
    from veilleur.service.app import create_app
    from veilleur.service.clientaddr import parse_networks
    from veilleur.service.runtime import Runtime, ServiceSettings
    from veilleur.store.db import StoreError

    try:
        parse_networks(trusted_proxy or ())
        parse_networks(metrics_from or (), "--metrics-from")
    except ValueError as exc:
        raise fail(str(exc)) from None
    bus_settings = None
    if bus is not None:
        try:
            from veilleur.bus.serve import BusSettings, broker_of
        except ImportError as exc:
            raise fail(f"--bus needs the bus extra: pip install 'veilleur[bus]' ({exc})"
                       ) from None
        from veilleur.cli.worker import options

        try:
            broker_of(bus)
        except ValueError as exc:
            raise fail(str(exc), EXIT_BAD_INPUT) from None
        bus_settings = BusSettings(
            url=bus, prefix=topic_prefix, group=bus_group, partitions=bus_partitions,
            replication=bus_replication, timeout=bus_timeout,
            session_timeout_ms=session_timeout_ms,
            producer=options(producer_option, "--producer-option"),
            consumer=options(consumer_option, "--consumer-option"))
    elif producer_option or consumer_option or topic_prefix:
        raise fail("--topic-prefix, --producer-option and --consumer-option go with --bus",
                   EXIT_BAD_INPUT)
    secret = os.environ.get("VEILLEUR_SECRET")
    settings = ServiceSettings(db=db, evidence_key=evidence_key, media_root=media_root,
                               max_backlog=max_backlog, secure_cookies=secure_cookies,
                               max_body_bytes=_size("--max-body", max_body),
                               max_batch_bytes=_size("--max-batch-body", max_batch_body),
                               max_bank_bytes=_size("--max-bank-body", max_bank_body),
                               max_upload_bytes=_size("--max-upload", max_upload),
                               max_message_bytes=_size("--max-message-upload",
                                                       max_message_upload),
                               max_form_bytes=_size("--max-form-body", max_form_body),
                               trusted_proxies=tuple(trusted_proxy or ()),
                               metrics_from=tuple(metrics_from or ()),
                               break_after_reveals=break_after, bus=bus_settings)
    if secret:
        settings.secret = secret.encode()
    if openapi is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:  # the document needs no real database
            settings.db, settings.evidence_key = f"{tmp}/openapi.db", None
            settings.bus = None
            runtime = Runtime(settings)
            doc = create_app(runtime=runtime, start=False).openapi()
            runtime.db.dispose()
        openapi.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
                           encoding="utf-8")
        Console().print(str(openapi), highlight=False)
        return
    try:
        runtime = Runtime(settings)
    except (StoreError, EvidenceError, FileModeError) as exc:
        raise fail(str(exc)) from None
    except RuntimeError as exc:  # --bus: the broker does not answer
        raise fail(str(exc)) from None
    try:
        runtime.hold()  # a second service (or a sink) on this database is refused, by name
    except StoreError as exc:
        if runtime.bus is not None:
            runtime.bus.close()
        runtime.db.dispose()
        raise fail(str(exc)) from None
    app = create_app(runtime=runtime)
    import gc

    # A long-lived process with a large, stable heap: what was loaded at start (policies,
    # stored casework) is frozen out of the collector, and collections are rarer, so a
    # verdict is not held up by a full collection; a shorter switch interval lets a verdict's
    # thread in sooner while batches are being parsed.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    sys.setswitchinterval(0.001)
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Console(stderr=True).print(f"veilleur serving on http://{host}:{port}/ "
                               f"(database {runtime.url.split('@')[-1]})", highlight=False)
    # uvicorn's own X-Forwarded-For handling believes any loopback peer; the app decides
    # instead, from --trusted-proxy only (service/clientaddr.py).
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                proxy_headers=False)


def _size(option: str, text: str) -> int:
    """A `--max-*` size in bytes; a bad one is named."""
    from veilleur.service.limits import parse_size

    try:
        size = parse_size(text)
    except ValueError as exc:
        raise fail(f"{option}: {exc}") from None
    if size < 1024:
        raise fail(f"{option}: {text} is too small (at least 1KiB)")
    return size


@keys_app.command("create")
@database_errors
def keys_create(
    name: Annotated[str, typer.Argument(help="Who the key is for (e.g. the platform).")],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="Repeatable: events, verdict, reports, notices, orders, appeals, "
        "cases:read, cases:decide, banks, banks:override (allow entries that silence deny "
        "lists), metrics.")] = None,
    flagger: Annotated[str | None, typer.Option(
        "--flagger", help="A trusted flagger's key, under this flagger id (flaggers.toml).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create a key; its secret is printed once, never stored."""
    from veilleur.service.auth import AuthError, create_key

    _, database = open_db(db, create=True)
    try:
        key, secret = create_key(database, name, scope or [], datetime.now(UTC),
                                 flagger=flagger)
    except AuthError as exc:
        raise fail(str(exc)) from None
    finally:
        database.dispose()
    Console(stderr=True).print(f"key {key.id} ({', '.join(key.scopes)}); keep the secret, "
                               "it is not shown again:", highlight=False)
    print(secret)


@keys_app.command("list")
@database_errors
def keys_list(db: DbOption = None) -> None:
    from veilleur.service.auth import list_keys

    _, database = open_db(db)
    try:
        rows = list_keys(database)
    finally:
        database.dispose()
    table = Table("id", "name", "kind", "scopes", "created", "revoked")
    for r in rows:
        table.add_row(r["id"], r["name"], r["kind"] + (f" ({r['flagger']})" if r["flagger"]
                                                       else ""), ", ".join(r["scopes"]),
                      str(r["created_at"])[:19], str(r["revoked_at"] or "")[:19])
    Console().print(table)


@keys_app.command("revoke")
@database_errors
def keys_revoke(key_id: str, db: DbOption = None) -> None:
    from veilleur.service.auth import revoke_key

    _, database = open_db(db)
    try:
        if not revoke_key(database, key_id, datetime.now(UTC)):
            raise fail(f"no active key {key_id}")
    finally:
        database.dispose()
    Console().print(f"key {key_id} revoked", highlight=False)


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise fail(f"cannot read {password_file}: {exc.strerror or exc}") from None
    if os.environ.get("VEILLEUR_PASSWORD"):
        return os.environ["VEILLEUR_PASSWORD"]
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


PasswordFile = Annotated[Path | None, typer.Option(
    "--password-file", help="Read the password from this file (else $VEILLEUR_PASSWORD, "
    "else a prompt).")]


@accounts_app.command("add")
@database_errors
def accounts_add(
    username: str,
    role: Annotated[str, typer.Option("--role", help="reviewer, specialist (alone sees "
                                      "child sexual abuse cases) or admin")] = "reviewer",
    language: Annotated[str, typer.Option("--language")] = "fr",
    password_file: PasswordFile = None,
    db: DbOption = None,
) -> None:
    from veilleur.service.auth import AuthError, add_account

    password = _password(password_file)
    _, database = open_db(db, create=True)
    try:
        add_account(database, username, password, role, datetime.now(UTC), language=language)
    except AuthError as exc:
        raise fail(str(exc)) from None
    finally:
        database.dispose()
    Console().print(f"account {username} ({role}) created", highlight=False)


@accounts_app.command("list")
@database_errors
def accounts_list(db: DbOption = None) -> None:
    from veilleur.service.auth import list_accounts

    _, database = open_db(db)
    try:
        rows = list_accounts(database)
    finally:
        database.dispose()
    table = Table("username", "role", "language", "created", "disabled")
    for r in rows:
        table.add_row(r["username"], r["role"], r["language"], str(r["created_at"])[:19],
                      str(r["disabled_at"] or "")[:19])
    Console().print(table)


@accounts_app.command("password")
@database_errors
def accounts_password(username: str, password_file: PasswordFile = None,
                      db: DbOption = None) -> None:
    """Set a new password (and close the account's sessions)."""
    from veilleur.service.auth import AuthError, set_password

    password = _password(password_file)
    _, database = open_db(db)
    try:
        set_password(database, username, password)
    except AuthError as exc:
        raise fail(str(exc)) from None
    finally:
        database.dispose()
    Console().print(f"password of {username} changed", highlight=False)


@accounts_app.command("disable")
@database_errors
def accounts_disable(username: str, db: DbOption = None) -> None:
    from veilleur.service.auth import AuthError, disable_account

    _, database = open_db(db)
    try:
        disable_account(database, username, datetime.now(UTC))
    except AuthError as exc:
        raise fail(str(exc)) from None
    finally:
        database.dispose()
    Console().print(f"account {username} disabled", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(database_errors(serve))
    app.add_typer(keys_app, name="keys")
    app.add_typer(accounts_app, name="accounts")
