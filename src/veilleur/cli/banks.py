"""Command line for hash banks: `bank import`, `add`, `list`, `stats`, `disable`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from veilleur.cli.bank_report import file_json, file_lines
from veilleur.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, DbOption, fail, open_db
from veilleur.detect.media.banks import FORMATS as BANK_FORMATS
from veilleur.taxonomy import Category

if TYPE_CHECKING:
    from veilleur.store.banks import BankStore

bank_app = typer.Typer(help="Hash banks: import, list, stats, disable.", no_args_is_help=True)


def _bank_store(db: str | None, index_dir: Path | None, *, create: bool = False
                ) -> BankStore:
    """`create`: the command adds banks, so a new database may be made for them; the others
    only read or change banks that exist."""
    from veilleur.store.banks import BankStore, default_index_dir

    url, engine = open_db(db, create=create)
    return BankStore(engine, index_dir or default_index_dir(url))


_ACTOR_HELP = "Who makes the change (audited as cli:NAME) \\[default: the system user]."


def _cli_actor(given: str | None) -> str:
    """The audit actor of a bank command: the operator named, else the system account."""
    import getpass

    if not given:
        try:
            given = getpass.getuser()
        except (OSError, KeyError):  # no login name in some containers
            given = "unknown"
    return f"cli:{given}"


def _category_option(value: str) -> Category:
    try:
        return Category(value.lower())
    except ValueError:
        Console(stderr=True).print(f"[red]error:[/] unknown category {value!r} "
                                   f"({', '.join(c.value for c in Category)})", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None


@bank_app.command("import")
def bank_import(
    files: Annotated[list[Path], typer.Argument(
        help="Bank files, imported in the order given into one bank (pages of one feed): "
        "contracts CSV, StopNCII JSON, NCMEC XML, ThreatExchange and HMA files.")],
    name: Annotated[str | None, typer.Option(
        help="Bank to import into \\[default: the first file's name].")] = None,
    format: Annotated[str | None, typer.Option(
        "--format", help=f"{', '.join(BANK_FORMATS)} \\[default: detected].")] = None,
    signal_type: Annotated[str | None, typer.Option(
        "--signal-type", help="Type of the values in files that give none (hma, te-signals): "
        "pdq, md5, sha256 or a ThreatExchange name (photo_md5, video_md5 …).")] = None,
    category: Annotated[str | None, typer.Option(
        help="Category for entries without one (NCMEC: csam, StopNCII: ncii by default; "
        "ThreatExchange and HMA files never say, so they need it).")
        ] = None,
    allow: Annotated[bool, typer.Option(
        "--allow", help="An allow-bank of known-benign hashes: matches suppress findings.")
        ] = False,
    override: Annotated[bool, typer.Option(
        "--override", help="With --allow: entries may silence deny lists (a listed hash, a "
        "PDQ in a deny bank's radius, a category a deny bank holds); each is recorded with "
        "what it overrides, and audited. Without it such entries are refused.")] = False,
    actor: Annotated[str | None, typer.Option("--actor", help=_ACTOR_HELP)] = None,
    threshold: Annotated[int | None, typer.Option(
        help="PDQ match radius in bits for this bank (0-35) \\[default: 31].")] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the bank.")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the per-file counts as JSON on standard output.")] = False,
    db: DbOption = None,
    index_dir: Annotated[Path | None, typer.Option(
        help="PDQ index folder \\[default: beside the SQLite file, or $VEILLEUR_INDEX_DIR].")
        ] = None,
) -> None:
    """Import bank files in order; what the source withdrew is disabled, what it changed is
    updated; past media re-checked. The first file nothing can be read from stops the import
    (a feed's pages apply in order): the files before it stay imported."""
    from veilleur.decide.policy import load_policy
    from veilleur.detect.base import POLICY_DIR
    from veilleur.detect.media.banks import read_bank_file
    from veilleur.ingest.problems import ProblemLog
    from veilleur.store.banks import BankError

    err = Console(stderr=True)
    out = Console()
    cat = _category_option(category) if category is not None else None
    bank = name or files[0].stem
    store: BankStore | None = None
    policy = load_policy(POLICY_DIR / "policy.toml")
    done: list[dict[str, Any]] = []
    problems = ProblemLog()
    failed: tuple[Path, str] | None = None
    for file in files:
        seen = len(problems.problems)
        parsed = read_bank_file(file, problems, format=format, category=cat,
                                signal_type=signal_type)
        for problem in problems.problems[seen:]:
            err.print(f"[red]error:[/] {problem}", highlight=False, soft_wrap=True)
        if parsed is None:
            reasons = [p.problem for p in problems.problems[seen:] if p.fatal]
            failed = (file, reasons[-1] if reasons else "nothing could be read")
            break
        if store is None:
            store = _bank_store(db, index_dir, create=True)
        try:
            report = store.import_entries(
                bank, parsed, kind="allow" if allow else "deny", category=cat,
                pdq_threshold=threshold, note=note, policy=policy, actor=_cli_actor(actor),
                override=override)
        except BankError as exc:
            err.print(f"[red]error:[/] {file}: {exc}", highlight=False, soft_wrap=True)
            failed = (file, str(exc))
            break
        done.append(file_json(file, parsed.format, report))
        if json_out:
            continue
        for line in file_lines(file, parsed.format, report):
            out.print(line, highlight=False, soft_wrap=True)
        if report.overrides:
            o = report.overrides
            out.print(f"  overrides: {o['allow_entries']:,} allow entries silence "
                      f"{o['overridden_entries_count']:,} deny entries and categories "
                      f"{', '.join(o['categories']) or '-'} (recorded and audited)",
                      highlight=False)
        if report.stored:
            out.print(f"  retroactive check: {report.retro_media_checked:,} stored media "
                      f"re-checked, {len(report.retro_matches):,} past items matched",
                      highlight=False)
        for rm in report.retro_matches[:20]:
            out.print(f"    attachment {rm.attachment_id} ({rm.filename or '-'}) in message "
                      f"{rm.message_id or '-'}: {rm.match.signal_type} distance "
                      f"{rm.match.distance}, entry #{rm.match.entry.id}", highlight=False)
    rest = files[len(done) + 1:] if failed else []
    if failed is not None:
        imported = ", ".join(str(d["file"]) for d in done) or "none"
        err.print(f"[red]error:[/] stopped at {failed[0]}: {failed[1]}. Imported before it: "
                  f"{imported}" + (f"; not imported: {', '.join(map(str, rest))}" if rest
                                   else ""), highlight=False, soft_wrap=True)
    if json_out:
        typer.echo(json.dumps({
            "bank": bank, "files": done,
            "failed": {"file": str(failed[0]), "reason": failed[1]} if failed else None,
            "not_imported": [str(f) for f in rest],
            "problems": [str(p) for p in problems]}, indent=2))
    if failed is not None:
        raise typer.Exit(EXIT_FAILED)
    raise typer.Exit(EXIT_BAD_INPUT if problems else EXIT_OK)


@bank_app.command("add")
def bank_add(
    pictures: Annotated[list[Path], typer.Argument(help="Pictures to enrol (kept as hashes "
                                                   "and keypoints only).")],
    name: Annotated[str, typer.Option(help="Bank to add them to (created if new).")],
    category: Annotated[str, typer.Option(help="Their category (csam, ncii, ...).")],
    note: Annotated[str | None, typer.Option(help="A note for every entry.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help=_ACTOR_HELP)] = None,
    db: DbOption = None,
    index_dir: Annotated[Path | None, typer.Option(help="PDQ index folder.")] = None,
) -> None:
    """Enrol pictures in a deny bank: digests, PDQ and local features (crop-tolerant)."""
    from veilleur.decide.policy import load_policy
    from veilleur.detect.base import POLICY_DIR
    from veilleur.store.banks import BankError

    err = Console(stderr=True)
    cat = _category_option(category)
    store = _bank_store(db, index_dir, create=True)
    try:
        report, failed = store.enrol(name, pictures, actor=_cli_actor(actor), category=cat,
                                     note=note, policy=load_policy(POLICY_DIR / "policy.toml"))
    except BankError as exc:
        raise fail(str(exc)) from None
    for path, reason in failed:
        err.print(f"[red]error:[/] {path}: {reason}", highlight=False, soft_wrap=True)
    Console().print(f"bank '{name}': {len(pictures) - len(failed)} picture(s) enrolled, "
                    f"{report.added} entries added; retroactive check: "
                    f"{report.retro_media_checked:,} stored media re-checked, "
                    f"{len(report.retro_matches):,} past items matched", highlight=False)
    raise typer.Exit(EXIT_BAD_INPUT if failed else EXIT_OK)


@bank_app.command("list")
def bank_list(db: DbOption = None,
              index_dir: Annotated[Path | None, typer.Option(help="PDQ index folder.")] = None,
              json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
              ) -> None:
    """Every bank with its kind, category, source, radius and entry counts."""
    store = _bank_store(db, index_dir)
    banks = store.list_banks()
    if json_out:
        typer.echo(json.dumps([{
            "name": b.name, "kind": b.kind, "category": b.category, "source": b.source,
            "pdq_threshold": b.pdq_threshold, "enabled": b.enabled, "entries": b.entries,
            "disabled_entries": b.disabled, "note": b.note,
            "created_at": b.created_at.isoformat(),
            "last_change": b.last_change.isoformat() if b.last_change else None,
        } for b in banks], indent=2))
        return
    table = Table(title="Hash banks", header_style="bold")
    for col in ("name", "kind", "category", "source", "radius", "state", "pdq", "md5",
                "sha256", "disabled", "last change"):
        table.add_column(col, no_wrap=col == "name",
                         justify="right" if col in ("pdq", "md5", "sha256", "disabled",
                                                    "radius") else "left")
    for b in banks:
        table.add_row(b.name, b.kind, b.category or "-", b.source, str(b.pdq_threshold),
                      "enabled" if b.enabled else "DISABLED", f"{b.entries.get('pdq', 0):,}",
                      f"{b.entries.get('md5', 0):,}", f"{b.entries.get('sha256', 0):,}",
                      f"{b.disabled:,}",
                      b.last_change.strftime("%Y-%m-%d %H:%M") if b.last_change else "-")
    Console().print(table)


@bank_app.command("stats")
def bank_stats(db: DbOption = None,
               index_dir: Annotated[Path | None, typer.Option(help="PDQ index folder.")
                                    ] = None,
               json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
               ) -> None:
    """Totals across banks and the state of the PDQ index."""
    store = _bank_store(db, index_dir)
    banks = store.list_banks()
    index = store.index()
    doc: dict[str, Any] = {
        "banks": len(banks),
        "enabled_banks": sum(1 for b in banks if b.enabled),
        "entries": {k: sum(b.entries.get(k, 0) for b in banks) for k in ("pdq", "md5",
                                                                          "sha256")},
        "disabled_entries": sum(b.disabled for b in banks),
        "pdq_index": {"hashes": len(index), "enabled": index.enabled_count(),
                      "bytes": index.nbytes(), "folder": str(store.index_dir)},
        "matches": store.match_counts(),
    }
    if json_out:
        typer.echo(json.dumps(doc, indent=2))
        return
    table = Table(title="Bank statistics", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("banks (enabled)", f"{doc['banks']} ({doc['enabled_banks']})")
    for k, v in doc["entries"].items():
        table.add_row(f"enabled {k} entries", f"{v:,}")
    table.add_row("disabled entries", f"{doc['disabled_entries']:,}")
    table.add_row("PDQ index hashes (enabled)", f"{len(index):,} ({index.enabled_count():,})")
    table.add_row("PDQ index memory", f"{index.nbytes() / 1e6:,.1f} MB")
    for via, n in doc["matches"].items():
        table.add_row(f"media matched ({via})", f"{n:,}")
    Console().print(table)


@bank_app.command("disable")
def bank_disable(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    entry: Annotated[list[str] | None, typer.Option(
        "--entry", help="Disable only this hash value (repeatable).")] = None,
    enable: Annotated[bool, typer.Option("--enable", help="Re-enable instead.")] = False,
    actor: Annotated[str | None, typer.Option("--actor", help=_ACTOR_HELP)] = None,
    db: DbOption = None,
    index_dir: Annotated[Path | None, typer.Option(help="PDQ index folder.")] = None,
) -> None:
    """Stop a bank (or some entries) from matching; logged, reversible with --enable."""
    from veilleur.store.banks import BankError

    store = _bank_store(db, index_dir)
    try:
        n = store.set_enabled(name, enable, entry or (), actor=_cli_actor(actor))
    except BankError as exc:
        raise fail(str(exc)) from None
    what = f"{n} entr{'y' if n == 1 else 'ies'}" if entry else f"bank '{name}'"
    Console().print(f"{'enabled' if enable else 'disabled'} {what}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(bank_app, name="bank")
