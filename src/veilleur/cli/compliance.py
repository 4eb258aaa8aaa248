"""Command line for the documents the law asks for: `documents`, `tdb submit`,
`ncmec submit`, `report transparency`."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from veilleur.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    KeyOption,
    database_errors,
    evidence_key_for,
    fail,
    open_db,
)
from veilleur.private import write_private

documents_app = typer.Typer(help="Documents written for decisions: letters, TDB statements, "
                            "CyberTipline reports, referrals.", no_args_is_help=True)
tdb_app = typer.Typer(help="The DSA Transparency Database (Art. 24(5)).", no_args_is_help=True)
ncmec_app = typer.Typer(help="NCMEC CyberTipline reports (18 USC 2258A).",
                        no_args_is_help=True)
report_app = typer.Typer(help="Reports the law asks for.", no_args_is_help=True)


@documents_app.command("list")
@database_errors
def documents_list(
    db: DbOption = None,
    kind: Annotated[str | None, typer.Option("--kind", help="e.g. statement_of_reasons, "
                                             "tdb_statement, ncmec_report, referral")] = None,
    status: Annotated[str | None, typer.Option("--status", help="ready, invalid, submitted, "
                                               "failed")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored documents, oldest first."""
    from veilleur.store.casework import documents

    _, database = open_db(db)
    try:
        docs = documents(database, kind=kind, status=status)
    finally:
        database.dispose()
    if as_json:
        sys.stdout.write(json.dumps([d.to_json() for d in docs], ensure_ascii=False,
                                    indent=1) + "\n")
        return
    table = Table("id", "kind", "created", "to", "lang", "status", "about")
    for d in docs:
        to = f"{d.recipient.get('role')}:{d.recipient.get('id') or d.recipient.get('address')}"
        about = d.refs.get("decision_id") or d.refs.get("notice_id") or \
            d.refs.get("complaint") or ""
        table.add_row(d.id, d.kind, d.created_at.isoformat(timespec="minutes"), to,
                      d.language or "", d.status, str(about))
    Console().print(table)


@documents_app.command("show")
@database_errors
def documents_show(
    document: Annotated[str, typer.Argument(help="Document id.")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print one document: a letter as text, a payload as JSON or XML."""
    from veilleur.store.casework import documents

    _, database = open_db(db)
    try:
        found = documents(database, doc_id=document)
    finally:
        database.dispose()
    if not found:
        raise fail(f"no document {document!r}", EXIT_BAD_INPUT)
    d = found[0]
    if as_json:
        sys.stdout.write(json.dumps(d.to_json(), ensure_ascii=False, indent=1) + "\n")
    elif d.body:
        sys.stdout.write(f"{d.subject}\n\n{d.body}")
    elif isinstance(d.payload, dict) and "xml" in d.payload:
        sys.stdout.write(d.payload["xml"] + "\n")
    else:
        sys.stdout.write(json.dumps(d.payload, ensure_ascii=False, indent=1) + "\n")
    for e in d.errors:
        Console(stderr=True).print(f"[red]invalid:[/] {e}", highlight=False)


def _secret(env: str) -> str:
    value = os.environ.get(env)
    if not value:
        raise fail(f"${env} is empty: put the credential in that environment variable")
    return value


@tdb_app.command("submit")
@database_errors
def tdb_submit(
    url: Annotated[str, typer.Option("--url", help="API base, e.g. https://transparency.dsa."
                                     "ec.europa.eu/api/v1/ (or the sandbox's).")],
    token_env: Annotated[str, typer.Option("--token-env", help="Environment variable holding "
                                           "the API token.")] = "VEILLEUR_TDB_TOKEN",
    db: DbOption = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1)] = 30.0,
) -> None:
    """Send every statement not yet stored, in batches of 100, idempotent by puid."""
    import httpx

    from veilleur.compliance.tdb_client import TdbAuthError, TdbSubmitter
    from veilleur.store.casework import documents, save_document

    _, database = open_db(db)
    try:
        docs = documents(database, kind="tdb_statement")
        known = {d.refs["puid"] for d in docs if d.status == "submitted"}
        ready = [d for d in docs if d.status in ("ready", "failed")]
        by_puid = {d.refs["puid"]: d for d in ready}
        with httpx.Client(timeout=timeout) as client:
            try:
                out = TdbSubmitter(client, _secret(token_env), base_url=url).submit(
                    [d.payload for d in ready], known=known)
            except TdbAuthError as exc:
                raise fail(str(exc)) from None
        for puid, uuid in out.submitted.items():
            d = by_puid[puid]
            d.status = "submitted"
            d.refs["tdb_uuid"] = uuid
            save_document(database, d)
        for puid in out.already:
            by_puid[puid].status = "submitted"
            save_document(database, by_puid[puid])
        for puid, reasons in out.rejected.items():
            by_puid[puid].status, by_puid[puid].errors = "invalid", list(reasons)
            save_document(database, by_puid[puid])
        for puid, last in out.failed.items():
            by_puid[puid].status, by_puid[puid].errors = "failed", [last]
            save_document(database, by_puid[puid])
    finally:
        database.dispose()
    Console().print(f"submitted {len(out.submitted)}, already there {len(out.already)}, "
                    f"rejected {len(out.rejected)}, failed {len(out.failed)} "
                    f"({out.requests} requests, {out.retries} retries)", highlight=False)
    if out.failed or out.rejected:
        raise typer.Exit(1)


@ncmec_app.command("submit")
@database_errors
def ncmec_submit(
    url: Annotated[str, typer.Option("--url", help="ispws base: https://exttest.cybertip.org/"
                                     "ispws (test) or https://report.cybertip.org/ispws.")],
    user_env: Annotated[str, typer.Option("--user-env")] = "VEILLEUR_NCMEC_USER",
    password_env: Annotated[str, typer.Option("--password-env")] = "VEILLEUR_NCMEC_PASSWORD",
    actor: Annotated[str, typer.Option("--actor", help="Who files (audited).")] = "ncmec-filer",
    db: DbOption = None,
    evidence_key: KeyOption = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1)] = 60.0,
) -> None:
    """File every ready CyberTipline report: the report, its files from the sealed evidence
    (each opening audited), the chat context; then keep the evidence a year from filing."""
    import httpx

    from veilleur.compliance.ncmec_client import (
        CyberTiplineClient,
        NcmecError,
        evidence_bytes,
        packaged_files,
    )
    from veilleur.store.casework import (
        documents,
        extend_retention,
        open_evidence,
        save_document,
    )

    url_db, database = open_db(db)
    filed = failed = 0
    try:
        key = evidence_key_for(url_db, evidence_key)
        ready = [d for d in documents(database, kind="ncmec_report")
                 if d.status in ("ready", "failed")]
        with httpx.Client(timeout=timeout) as http:
            client = CyberTiplineClient(http, _secret(user_env), _secret(password_env),
                                        base_url=url)
            for d in ready:
                now = datetime.now(UTC)
                files: dict[str, bytes] = {}
                for rid in d.payload.get("evidence", []):
                    files |= evidence_bytes(open_evidence(
                        database, rid, key, actor=actor, purpose=f"CyberTipline report {d.id}",
                        at=now))
                try:
                    result = client.file(d.payload["xml"], packaged_files(d.payload, files))
                except NcmecError as exc:
                    d.status, d.errors = "failed", [str(exc)]
                    save_document(database, d)
                    failed += 1
                    continue
                d.status = "submitted"
                d.refs |= {"ncmec_report_id": result.report_id, "file_ids": result.file_ids,
                           "filed_at": now.isoformat(), "request_ids": result.request_ids}
                save_document(database, d)
                extend_retention(database, d.payload.get("evidence", []),
                                 now + timedelta(days=365),
                                 f"CyberTipline report {result.report_id} filed "
                                 "(18 USC 2258A(h))", actor=actor, at=now)
                filed += 1
    finally:
        database.dispose()
    Console().print(f"filed {filed}, failed {failed}", highlight=False)
    if failed:
        raise typer.Exit(1)


@report_app.command("transparency")
@database_errors
def report_transparency(
    year: Annotated[int, typer.Option("--year", min=2024, max=2100)],
    out: Annotated[Path, typer.Option("--out", help="Folder for the CSV parts and the HTML.")
                   ] = Path("transparency"),
    db: DbOption = None,
) -> None:
    """IR (EU) 2024/2835 parts 4 to 8 as CSV (RFC 4180, UTF-8) and a readable HTML page."""
    from veilleur.compliance import transparency as tr
    from veilleur.compliance.config import load_compliance_policy
    from veilleur.store.casework import snapshot

    _, database = open_db(db)
    try:
        snap = snapshot(database)
    finally:
        database.dispose()
    policy = load_compliance_policy()
    period = tr.Period.year(year)
    tables = tr.report(tr.Records(snap.intakes, snap.decisions, snap.documents), period,
                       policy)
    # Written owner-only like every export: publishing them is a deliberate step.
    written: list[Any] = []
    for t in tables:
        written.append(write_private(out / f"{t.name}.csv", t.csv()))
    page = write_private(out / "transparency.html", tr.html(tables, period, policy))
    for path in (*written, page):
        Console().print(str(path), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(documents_app, name="documents")
    app.add_typer(tdb_app, name="tdb")
    app.add_typer(ncmec_app, name="ncmec")
    app.add_typer(report_app, name="report")
