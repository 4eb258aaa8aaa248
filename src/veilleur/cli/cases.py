"""Command line for casework: `replay`, `cases`, `review`, `audit verify`, `evidence ...`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from veilleur.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    DbOption,
    KeyOption,
    database_errors,
    evidence_key_for,
    fail,
    open_db,
    write_atomic,
)
from veilleur.store.db import StoreError

if TYPE_CHECKING:
    from veilleur.cases.casework import Casework
    from veilleur.service.auth import Account

cases_app = typer.Typer(help="Cases: list them, with breached and at-risk clocks first.",
                        no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
review_app = typer.Typer(help="Review stored cases: take the next, see it in context, decide.",
                         no_args_is_help=True)
evidence_app = typer.Typer(help="Preserved evidence: list, open (logged), legal holds, purge.",
                           no_args_is_help=True)


def _now(at: str | None) -> datetime:
    from veilleur.cases.models import parse_iso
    from veilleur.store.db import as_utc

    if at is None:
        return datetime.now(UTC)
    try:
        ts = as_utc(parse_iso(at))
    except ValueError:
        raise fail(f"--at must be an ISO 8601 time, got {at!r}") from None
    assert ts is not None
    return ts


@database_errors
def replay(
    events: Annotated[Path, typer.Argument(help="Event log (JSON Lines, contracts §5).")],
    oracle: Annotated[Path, typer.Option("--oracle", help="ORACLE.jsonl: the truth the "
                                         "simulated reviewers answer from.")],
    reviewers: Annotated[int, typer.Option("--reviewers", min=1, help="Simulated reviewers.")
                         ] = 2,
    review_seconds: Annotated[float, typer.Option(
        "--review-seconds", min=1, help="Simulated seconds a reviewer spends on a case.")] = 300,
    bank: Annotated[list[Path] | None, typer.Option(
        "--bank", help="Hash bank file (any format `bank import` reads); repeatable.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Write RESULT.json here.")
                   ] = Path("RESULT.json"),
    db: Annotated[str | None, typer.Option(
        "--db", help="Also keep the casework (cases, actions, evidence, audit) in this "
        "database. Without it the run is held in memory.")] = None,
    evidence_key: KeyOption = None,
    baseline: Annotated[bool, typer.Option(
        "--baseline/--no-baseline", help="Run the FIFO, reports-only baseline side by side."
    )] = True,
    drain_hours: Annotated[float, typer.Option(
        "--drain-hours", min=0, help="Keep reviewing after the last event for at most this "
        "long, until the queues are empty.")] = 72.0,
    milestones: Annotated[Path | None, typer.Option(
        "--milestones", help="When each story's harm showed itself (JSON Lines: sextortion, "
        "grooming, successor, returning; see the README): scores how soon each was stopped. "
        "Never read by the engine.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run the whole loop under simulated time and write RESULT.json (contracts §6)."""
    from veilleur.detect.base import PolicyDataError
    from veilleur.sim.replay import run_replay

    err = Console(stderr=True)
    for path, what in ((events, "event log"), (oracle, "oracle"), (milestones, "milestones")):
        if path is not None and not path.is_file():
            raise fail(f"{what} {path} is not a readable file")
    database = url = key = None
    if db is not None:
        url, database = open_db(db, create=True)
        key = evidence_key_for(url, evidence_key)

    progress = Progress(TextColumn("replaying"), BarColumn(), DownloadColumn(),
                        TimeRemainingColumn(), console=err, transient=True,
                        disable=quiet or not err.is_terminal)
    try:
        with progress:
            task = progress.add_task("replay", total=events.stat().st_size)
            result = run_replay(events, oracle, reviewers=reviewers,
                                review_seconds=review_seconds, bank_paths=bank or (),
                                baseline=baseline, drain_hours=drain_hours,
                                db=database, db_url=url, evidence_key=key,
                                milestones_path=milestones,
                                on_bytes=lambda n: progress.advance(task, n))
    except (StoreError, PolicyDataError, ValueError) as exc:
        raise fail(str(exc)) from None
    finally:
        if database is not None:
            database.dispose()
    for problem in result.problems:
        err.print(f"[red]error:[/] {problem}", highlight=False, soft_wrap=True)
    write_atomic(out, json.dumps(result.document, ensure_ascii=False, indent=1))
    if not quiet:
        _replay_summary(Console(), result.document["metrics"], result.events, result.seconds)
        Console().print(f"RESULT.json: {out}", highlight=False)
    fatal = any(p.fatal for p in result.problems)
    raise typer.Exit(EXIT_FAILED if fatal else EXIT_BAD_INPUT if result.problems else EXIT_OK)


def _fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v / 60:.1f} min" if v < 7200 else f"{v / 3600:.1f} h"


def _replay_summary(out: Console, metrics: dict[str, Any], events: int, seconds: float
                    ) -> None:
    systems = [k for k in ("engine", "baseline_fifo") if k in metrics]
    table = Table(title=f"Replay: {events:,} events in {seconds:.1f} s", header_style="bold")
    table.add_column("")
    for s in systems:
        table.add_column(s, justify="right")

    def row(label: str, get: Any) -> None:
        table.add_row(label, *[str(get(metrics[s])) for s in systems])

    row("harmful items", lambda m: m["harmful_items"])
    row("  removed or prevented", lambda m: m["outcomes"].get("removed", 0)
        + m["outcomes"].get("prevented", 0))
    row("  gone before action (owner)", lambda m: m["outcomes"].get("gone_before_action", 0))
    row("  never removed", lambda m: m["outcomes"].get("not_removed", 0))
    for q in ("median", "p90", "max"):
        row(f"time to removal, {q}", lambda m, q=q: _fmt_s(m["time_to_removal_s"][q]))
    row("reported harm removed ≤ 1 h of report",
        lambda m: f'{m["removed_within_1h_of_report"]}/{m["reported_harmful"]}')
    row("engine-found CSAM removed ≤ 1 h",
        lambda m: f'{m["engine_detected_csam_removed_within_1h"]}/{m["engine_detected_csam"]}')
    row("legal deadlines met",
        lambda m: f'{m["legal_deadlines_met"]}/{m["legal_orders"]["total"]}')
    row("evidence kept before owner deletion",
        lambda m: f'{m["evidence_preserved_before_deletion"]}/{m["owner_deletions_after_flag"]}')
    row("actions on innocent targets", lambda m: m["actions_on_innocent_targets"])
    row("reports pending at the end",
        lambda m: f'{m["reports"]["pending_at_end"]}/{m["reports"]["total"]}')
    row("cases", lambda m: m["cases"])
    follow = [(k, label) for k, label in _FOLLOW if any(
        k in metrics[s].get("follow_through", {}) for s in systems)]
    for kind, label in follow:
        row(f"{label} ≤ 1 h of its first sign", lambda m, k=kind: _follow(m, k, "within_1h"))
        row(f"{label}, median time to stop", lambda m, k=kind: _fmt_s(
            m.get("follow_through", {}).get(k, {}).get("seconds", {}).get("median")))
        if kind == "grooming":
            row("groomer stopped before a picture request was answered",
                lambda m: _follow(m, "grooming", "before_answer", "with_answer"))
    out.print(table)


_FOLLOW = (("sextortion", "extorter stopped"), ("grooming", "groomer stopped"),
           ("successor", "successor server removed"), ("returning", "returning account stopped"))


def _follow(m: dict[str, Any], kind: str, key: str, of: str = "n") -> str:
    section = m.get("follow_through", {}).get(kind)
    if not section:
        return "-"
    return f"{section.get(key, 0)}/{section.get(of, 0)}"


@cases_app.command("list")
@database_errors
def cases_list(
    db: DbOption = None,
    clocks: Annotated[str | None, typer.Option(
        "--clocks", help="Only cases whose clocks are 'breached', 'at-risk', or 'late' "
        "(breached or at risk).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Closed cases too.")] = False,
    at: Annotated[str | None, typer.Option("--at", help="Judge clocks at this time "
                                           "(ISO 8601) \\[default: now].")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="JSON on standard output.")] = False,
) -> None:
    """Open cases, breached first, then at risk, then by priority. Nothing sits unseen."""
    from veilleur.cases.config import load_case_policy
    from veilleur.store.casework import clock_status, list_cases

    if clocks not in (None, "breached", "at-risk", "late"):
        raise fail("--clocks takes breached, at-risk or late")
    now = _now(at)
    share = load_case_policy().at_risk_share
    _, database = open_db(db)
    rows = list_cases(database)
    database.dispose()
    for r in rows:
        r["clock_status"] = clock_status(r, now, share) if r["status"] != "closed" else "stopped"
    if not all_:
        rows = [r for r in rows if r["status"] != "closed"]
    wanted = {"breached": {"breached"}, "at-risk": {"at_risk"},
              "late": {"breached", "at_risk"}}.get(clocks or "")
    if wanted:
        rows = [r for r in rows if r["clock_status"] in wanted]
    order = {"breached": 0, "at_risk": 1}
    rows.sort(key=lambda r: (order.get(r["clock_status"], 2), not r["escalated"],
                             -r["priority"], r["opened_at"]))
    if json_out:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
        return
    table = Table(title=f"Cases ({len(rows)})", header_style="bold")
    for col in ("case", "status", "clock", "next due", "priority", "category", "queue",
                "targets", "why"):
        table.add_column(col, overflow="fold")
    for r in rows[:200]:
        top = max(r.get("priority_explained", []), key=lambda f: f["contribution"],
                  default=None)
        table.add_row(r["id"], r["status"], r["clock_status"], r.get("next_due") or "-",
                      f'{r["priority"]:.2f}', r.get("category") or "-",
                      "senior" if r["escalated"] else "standard", str(len(r["targets"])),
                      f'{top["factor"]}: {top["why"]}' if top else "")
    Console().print(table)


@cases_app.command("flaggers")
@database_errors
def cases_flaggers(db: DbOption = None,
                   json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Trusted flaggers' notices and accuracy (upheld / decided), for DSA 22(6) follow-up."""
    from veilleur.cases.config import load_case_policy
    from veilleur.cases.priority import flagger_statistics
    from veilleur.store.casework import flagger_notices

    _, database = open_db(db)
    stats = flagger_statistics(flagger_notices(database), load_case_policy())
    database.dispose()
    if json_out:
        sys.stdout.write(json.dumps(stats, ensure_ascii=False, indent=1) + "\n")
        return
    table = Table(title="Trusted flaggers", header_style="bold")
    for col in ("flagger", "name", "notices", "upheld", "rejected", "pending", "accuracy"):
        table.add_column(col)
    for fid, row in sorted(stats.items()):
        acc = row["accuracy"]
        table.add_row(fid, str(row["name"] or "unregistered"), str(row["notices"]),
                      str(row["upheld"]), str(row["rejected"]), str(row["pending"]),
                      "-" if acc is None else f"{acc:.0%}")
    Console().print(table)


@audit_app.command("verify")
@database_errors
def audit_verify(
    db: DbOption = None,
    anchor: Annotated[list[str] | None, typer.Option(
        "--anchor", help="SEQ:HASH printed earlier by `audit head` and kept outside the "
        "database; repeatable. Catches a log rewritten from its first entry.")] = None,
) -> None:
    """Recompute the hash chain; exit 1 naming the first broken link if it was tampered with."""
    from veilleur.store.casework import verify_audit

    anchors: dict[int, str] = {}
    for a in anchor or ():
        seq, _, digest = a.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise fail(f"--anchor {a!r}: write SEQ:HASH as `veilleur audit head` prints it")
        anchors[int(seq)] = digest.lower()
    _, database = open_db(db)
    result = verify_audit(database, anchors)
    database.dispose()
    if result.ok:
        Console().print(f"audit log intact: {result.entries:,} entries, head {result.head}"
                        + (f" ({len(anchors)} anchor(s) matched)" if anchors else ""),
                        highlight=False)
        return
    raise fail(f"audit log broken at entry {result.broken_at}: {result.problem} "
                f"({result.entries:,} entries verified before it)")


@audit_app.command("head")
@database_errors
def audit_head_cmd(db: DbOption = None
                   ) -> None:
    """Print the latest entry as SEQ:HASH, to publish or keep outside the database (a
    notary, a ticket, an e-mail to legal); `audit verify --anchor` checks against it."""
    from veilleur.store.casework import audit_head

    _, database = open_db(db)
    seq, digest = audit_head(database)
    database.dispose()
    sys.stdout.write(f"{seq}:{digest}\n")


@evidence_app.command("list")
@database_errors
def evidence_list(
    db: DbOption = None,
    case: Annotated[str | None, typer.Option("--case", help="Only this case's records.")
                    ] = None,
) -> None:
    """Preserved records (metadata only: nothing is decrypted, nothing is logged)."""
    from veilleur.store.casework import evidence_rows

    _, database = open_db(db)
    rows = evidence_rows(database, case)
    database.dispose()
    table = Table(title=f"Evidence ({len(rows)})", header_style="bold")
    for col in ("id", "case", "target", "preserved", "expires", "hold", "sha256"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r.id, r.case_id, f"{r.target.kind.value}:{r.target.id}",
                      r.preserved_at.isoformat(), r.expires_at.isoformat(),
                      r.legal_hold or ("purged" if r.purged_at else "-"), r.sha256[:16])
    Console().print(table)


@evidence_app.command("show")
@database_errors
def evidence_show(
    record: Annotated[str, typer.Argument(help="Evidence record id.")],
    actor: Annotated[str, typer.Option("--actor", help="Who is looking (audited).")],
    purpose: Annotated[str, typer.Option("--purpose", help="Why (audited).")],
    db: DbOption = None,
    evidence_key: KeyOption = None,
    export_media: Annotated[Path | None, typer.Option(
        "--export-media", help="Write preserved files into this folder (never printed).")
                            ] = None,
) -> None:
    """Decrypt one record and print it as JSON; the access is audited first."""
    import base64

    from veilleur.confine import RefusedPathError, safe_name, write_inside
    from veilleur.enforce.evidence import EvidenceError
    from veilleur.store.casework import open_evidence

    url, database = open_db(db)
    try:
        doc = open_evidence(database, record, evidence_key_for(url, evidence_key), actor=actor,
                            purpose=purpose, at=datetime.now(UTC))
    except EvidenceError as exc:
        raise fail(str(exc)) from None
    finally:
        database.dispose()
    for att in doc.get("attachments", ()):
        raw = att.pop("bytes_b64", None)
        if raw and export_media is not None:
            # The id and the file name came from a platform: they make one plain name,
            # written in the folder and nowhere else (no `../`, no link followed), owner-only
            # (decrypted evidence).
            name = safe_name(f"{att.get('id')}-{att.get('filename') or 'file'}")
            try:
                written = write_inside(export_media, name, base64.b64decode(raw),
                                       "export folder")
            except (RefusedPathError, OSError) as exc:
                raise fail(f"cannot write attachment {att.get('id')!r}: {exc}") from None
            att["exported_to"] = str(written)
        elif raw:
            att["bytes"] = "preserved (use --export-media DIR to write the file)"
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")


@evidence_app.command("hold")
@database_errors
def evidence_hold(
    record: Annotated[str, typer.Argument(help="Evidence record id.")],
    reason: Annotated[str | None, typer.Option(
        "--reason", help="The legal hold (a case number, a request). Omit with --release.")
                      ] = None,
    release: Annotated[bool, typer.Option("--release", help="Lift the hold.")] = False,
    actor: Annotated[str, typer.Option("--actor", help="Who (audited).")] = "cli",
    db: DbOption = None,
) -> None:
    """Put a legal hold on a record (it outlives its retention) or lift it."""
    from veilleur.store.casework import set_hold

    if not release and not reason:
        raise fail("a hold needs --reason (or --release to lift one)")
    _, database = open_db(db)
    found = set_hold(database, record, None if release else reason, actor=actor,
                     at=datetime.now(UTC))
    database.dispose()
    if not found:
        raise fail(f"no evidence record {record!r}")
    Console().print(f"{'released' if release else 'held'}: {record}", highlight=False)


@evidence_app.command("purge")
@database_errors
def evidence_purge(
    actor: Annotated[str, typer.Option("--actor", help="Who (audited).")] = "cli",
    db: DbOption = None,
    at: Annotated[str | None, typer.Option("--at", help="As if now were this time.")] = None,
) -> None:
    """Empty records whose retention ended and that no legal hold keeps (audited)."""
    from veilleur.store.casework import purge_expired

    _, database = open_db(db)
    ids = purge_expired(database, actor=actor, at=_now(at))
    database.dispose()
    Console().print(f"purged {len(ids)} record(s)", highlight=False)


def _casework(db: str | None, evidence_key: Path | None, reviewer: str, *,
              read_only: bool = False) -> tuple[Casework, Account]:
    """Stored casework and the reviewer's account, checked before any case is loaded: the
    CLI admits the same people as the console (an account that reviews), nobody by name.
    Commands that change casework are refused while a running service holds the database
    (it holds the cases in memory and would write over them); `read_only` ones (a look,
    audited through the shared chain) go ahead."""
    from veilleur.deployment import stored_casework
    from veilleur.detect.base import PolicyDataError
    from veilleur.service.auth import AuthError, reviewer_account

    url, database = open_db(db)
    try:
        account = reviewer_account(database, reviewer)
    except AuthError as exc:
        database.dispose()
        raise fail(str(exc)) from None
    try:
        return stored_casework(database, evidence_key_for(url, evidence_key),
                               read_only=read_only), account
    except (PolicyDataError, StoreError) as exc:
        database.dispose()
        raise fail(str(exc)) from None


def _visible_case(cw: Casework, account: Account, case_id: str) -> None:
    """Refuse a case the account may not see (child sexual abuse: specialists only)."""
    from veilleur.service.casepage import visible_to

    case = cw.cases.get(case_id)
    if case is None:
        raise fail(f"no case {case_id}")
    if not visible_to(account, cw, case):
        raise fail(f"case {case_id} is reserved to child-safety specialists; account "
                    f"{account.username!r} has the {account.role} role")


def _show_case(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(view, ensure_ascii=False, indent=1) + "\n")
        return
    out = Console()
    out.print(f"[bold]{view['id']}[/]  priority {view['priority']:.2f}  "
              f"{view['category'] or 'unclassified'}  {view['queue']} queue  "
              f"status {view['status']}", highlight=False)
    for c in view["clocks"]:
        out.print(f"  clock: {c['name']} — due {c['due'] or '-'} — {c['status']}",
                  highlight=False)
    why = Table(title="Why this priority", header_style="bold")
    for col in ("factor", "value", "weight", "why"):
        why.add_column(col, overflow="fold")
    for f in view["priority_explained"]:
        why.add_row(f["factor"], f"{f['value']:.2f}", f"{f['weight']:.2f}", f["why"])
    out.print(why)
    targets = Table(title="Targets (decide each one)", header_style="bold")
    for col in ("target", "in context", "labels"):
        targets.add_column(col, overflow="fold")
    for t in view["targets_in_context"]:
        bits = []
        if "message" in t:
            m = t["message"]
            bits.append(f"\"{m['content']}\" by {m['author_id']} in #{t.get('channel_name')}"
                        f" at {m['ts']}" + (f" (deleted by {m['deleted_by']})"
                                            if m.get("deleted_by") else ""))
        if "user" in t:
            u = t["user"]
            bits.append(f"account {u['name'] or '(name unknown)'}"
                        + (f", age band {u['age_band']}" if u["age_band"] else ""))
        if "guild" in t:
            g = t["guild"]
            bits.append(f"server {g['name']!r} ({g['members']} members)")
        if "gone" in t:
            bits.append(f"gone at {t['gone']['at']} ({t['gone']['by']}); evidence preserved")
        targets.add_row(f"{t['target']['kind']}:{t['target']['id']}", "; ".join(bits) or "-",
                        ", ".join(t["labels"]) or "-")
    out.print(targets)
    items = Table(title="Reports and findings", header_style="bold")
    for col in ("item", "source", "on", "category", "received", "said / found"):
        items.add_column(col, overflow="fold")
    for i in view["items"]:
        items.add_row(i["id"], i["source"] + (f" ({i['flagger']})" if i.get("flagger") else ""),
                      f"{i['target']['kind']}:{i['target']['id']}", i["category"] or "-",
                      i["received_at"], i.get("evidence") or i.get("explanation") or "-")
    out.print(items)
    out.print("Media is never shown here; `veilleur evidence show` opens preserved files "
              "(audited).", highlight=False)


@review_app.command("next")
@database_errors
def review_next(
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who takes the case (audited).")],
    db: DbOption = None,
    evidence_key: KeyOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="The case as JSON.")] = False,
) -> None:
    """Take the next case (escalated first, then by priority) under an exclusive lock."""
    from veilleur.service.casepage import visible_to

    cw, account = _casework(db, evidence_key, reviewer)
    now = datetime.now(UTC)
    # As the console does: the first case this account may see.
    case = cw.take_first(reviewer, now, lambda c: visible_to(account, cw, c))
    if case is None:
        cw.sink.flush()
        Console().print("no case is waiting", highlight=False)
        return
    view = cw.view(case.id, now, viewer=reviewer)
    cw.sink.flush()
    _show_case(view, json_out)


@review_app.command("show")
@database_errors
def review_show(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who looks (audited).")],
    db: DbOption = None,
    evidence_key: KeyOption = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    media: Annotated[bool, typer.Option(
        "--media", help="Record that you opened the case's files (in the evidence viewer): "
        "a CyberTipline report says truthfully whether a person viewed each file.")] = False,
) -> None:
    """See a case in context without taking it."""
    from veilleur.cases.review import ReviewError

    cw, account = _casework(db, evidence_key, reviewer, read_only=True)
    _visible_case(cw, account, case_id)
    now = datetime.now(UTC)
    try:
        view = cw.view(case_id, now, viewer=reviewer)
        if media:
            view["media_viewed"] = cw.view_media(case_id, reviewer, now)
    except ReviewError as exc:
        raise fail(str(exc)) from None
    cw.sink.flush()
    _show_case(view, json_out)


def _verdicts(specs: list[str], others: str | None, targets: list[Any], *, ground: str,
              duration: int | None, scope: tuple[str, ...] | None,
              explanation: str | None) -> dict[Any, Any]:
    from veilleur.cases.review import Verdict
    from veilleur.taxonomy import Category, Target

    def category(text: str, where: str) -> Category | None:
        if text.lower() in ("none", "no", "ok"):
            return None
        try:
            return Category(text.lower())
        except ValueError:
            raise fail(f"{where}: unknown category {text!r} (csam, grooming, sextortion, "
                        "ncii, or none)") from None

    out = {}
    for spec in specs:
        where, _, cat = spec.partition("=")
        kind, _, tid = where.partition(":")
        try:
            target = Target.of(kind, tid)
        except ValueError:
            raise fail(f"--verdict {spec!r}: write KIND:ID=CATEGORY, e.g. "
                        "message:123=csam or user:9=none") from None
        out[target] = Verdict(category(cat, spec), ground, None, duration, scope, explanation)
    missing = [t for t in targets if t not in out]
    if missing and others is None:
        names = ", ".join(f"{t.kind.value}:{t.id}" for t in missing)
        raise fail(f"no verdict for {names}: give one each, or --others none|CATEGORY")
    for t in missing:
        out[t] = Verdict(category(others or "none", "--others"), ground, None, duration,
                         scope, explanation)
    return out


@review_app.command("decide")
@database_errors
def review_decide(
    case_id: Annotated[str, typer.Argument(help="Case id (taken with `review next`).")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who decides (audited).")],
    verdict: Annotated[list[str] | None, typer.Option(
        "--verdict", help="KIND:ID=CATEGORY or KIND:ID=none, one per target; repeatable.")
                       ] = None,
    others: Annotated[str | None, typer.Option(
        "--others", help="Verdict for every target not named (none or a category).")] = None,
    ground: Annotated[str, typer.Option("--ground", help="illegal (the law) or terms.")
                      ] = "illegal",
    duration_days: Annotated[int | None, typer.Option(
        "--duration-days", min=1, help="Restrictions last this long \\[default: indefinite].")
                             ] = None,
    scope: Annotated[str | None, typer.Option(
        "--scope", help="Territorial scope, ISO codes (FR,BE) \\[default: EU27 + IS, LI, NO].")
                     ] = None,
    explanation: Annotated[str | None, typer.Option("--explanation")] = None,
    db: DbOption = None,
    evidence_key: KeyOption = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Decide every target of a case you hold; the measures are carried out at once."""
    from veilleur.cases.review import ReviewError

    if ground not in ("illegal", "terms"):
        raise fail("--ground is 'illegal' or 'terms'")
    cw, account = _casework(db, evidence_key, reviewer)
    _visible_case(cw, account, case_id)
    case = cw.cases[case_id]
    codes = tuple(c.strip().upper() for c in scope.split(",")) if scope else None
    verdicts = _verdicts(verdict or [], others, case.targets, ground=ground,
                         duration=duration_days, scope=codes, explanation=explanation)
    try:
        decision = cw.decide(case_id, reviewer, verdicts, datetime.now(UTC))
    except ReviewError as exc:
        raise fail(str(exc)) from None
    cw.sink.flush()
    actions = [a.to_json() for a in cw.enforcement.actions.values()
               if a.decision_id == decision.id]
    if json_out:
        sys.stdout.write(json.dumps({"decision": decision.to_json(), "actions": actions},
                                    ensure_ascii=False, indent=1) + "\n")
        return
    out = Console()
    out.print(f"decision {decision.id} on {case_id}", highlight=False)
    for a in actions:
        out.print(f"  {a['action']} {a['target']['kind']}:{a['target']['id']}",
                  highlight=False)


@review_app.command("revert")
@database_errors
def review_revert(
    action_id: Annotated[str, typer.Argument(help="Id of an automatic action.")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who reverts it (audited).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (audited).")],
    db: DbOption = None,
    evidence_key: KeyOption = None,
) -> None:
    """Reverse an automatic action (an upload blocked by the policy). A reviewer's decision
    is reversed through its case, not here."""
    cw, _ = _casework(db, evidence_key, reviewer)
    action = cw.enforcement.actions.get(action_id)
    if action is None:
        raise fail(f"no action {action_id!r}")
    if not action.automated or action.action == "preserve_evidence":
        raise fail(f"{action_id} ({action.action}) is not an automatic restriction: only "
                    "those are reverted here")
    if not action.active:
        raise fail(f"{action_id} was already reverted on {action.reverted_at}")
    cw.revert(action_id, reviewer, reason, datetime.now(UTC))
    cw.sink.flush()
    Console().print(f"reverted {action_id} ({action.action} "
                    f"{action.target.kind.value}:{action.target.id})", highlight=False)


@review_app.command("release")
@database_errors
def review_release(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    reviewer: Annotated[str, typer.Option("--reviewer")],
    db: DbOption = None,
    evidence_key: KeyOption = None,
) -> None:
    """Give a case back to the queue."""
    from veilleur.cases.review import ReviewError

    cw, _ = _casework(db, evidence_key, reviewer)
    try:
        cw.release(case_id, reviewer, datetime.now(UTC))
    except ReviewError as exc:
        raise fail(str(exc)) from None
    cw.sink.flush()
    Console().print(f"released {case_id}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
    app.add_typer(cases_app, name="cases")
    app.add_typer(audit_app, name="audit")
    app.add_typer(evidence_app, name="evidence")
    app.add_typer(review_app, name="review")
