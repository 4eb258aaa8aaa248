"""Command line: `veilleur scan` (exports and event logs in, findings out) and `hash`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from veilleur.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    DbOption,
    evidence_key_for,
    fail,
    write_atomic,
)
from veilleur.detect.base import DetectorSettings, PolicyDataError
from veilleur.ingest.discover import InputFile
from veilleur.scan import ScanHooks, ScanResult, run_scan
from veilleur.store.db import StoreError, database_url
from veilleur.taxonomy import Category


class _ProgressHooks(ScanHooks):
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("scanning", total=None)
        self.files_done_bytes = 0

    def start(self, total_bytes: int, inputs: int) -> None:
        self.progress.update(self.task, total=total_bytes,
                             description=f"scanning {inputs} file(s)")

    def advance(self, n_bytes: int) -> None:
        self.progress.advance(self.task, n_bytes)

    def file_done(self, item: InputFile) -> None:
        # A file that stopped early (truncated, not JSON) never reported all its bytes.
        self.files_done_bytes += item.size
        self.progress.update(self.task, completed=self.files_done_bytes)


def scan(
    paths: Annotated[list[Path], typer.Argument(
        help="DiscordChatExporter JSON exports, JSONL event logs, or folders of them.")],
    bank: Annotated[list[Path] | None, typer.Option(
        "--bank", help="Hash bank CSV (signal_type,signal,category); repeatable.")] = None,
    json_out: Annotated[str | None, typer.Option(
        "--json", help="Write the findings document here ('-' for standard output).")] = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Write a readable HTML report here.")] = None,
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or tables.")
                     ] = False,
    cases: Annotated[bool, typer.Option(
        "--cases", help="Also open cases from the findings (grouped, prioritised, clocks from "
        "now, evidence preserved) for `veilleur review`.")] = False,
    evidence_key: Annotated[Path | None, typer.Option(
        "--evidence-key", help="With --cases: evidence key file \\[default: "
        "$VEILLEUR_EVIDENCE_KEY, else DB.evidence-key beside a SQLite file].")] = None,
    no_semantic: Annotated[bool, typer.Option(
        "--no-semantic", help="Switch the encoder off for this scan: the semantic tier, the "
        "learned tier's second reader, and conversations and servers read by meaning (the "
        "fast tier and the other detectors still run).")] = False,
    no_learned: Annotated[bool, typer.Option(
        "--no-learned", help="Switch the learned tier (text.learned) off for this scan.")
    ] = False,
) -> None:
    """Scan exports and event logs; write findings; exit 2 if some input could not be read."""
    to_stdout = json_out == "-"
    out = Console(stderr=to_stdout)
    err = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TimeRemainingColumn(), console=err, transient=True,
        disable=quiet or not err.is_terminal,
    )
    url = database_url(db)
    key = None
    if cases:
        key = evidence_key_for(url, evidence_key)
    try:
        with progress:
            result = run_scan(paths, db_url=url, bank_paths=bank or (),
                              hooks=_ProgressHooks(progress), cases=key,
                              settings=DetectorSettings(semantic=not no_semantic,
                                                        learned=not no_learned))
    except (StoreError, PolicyDataError) as exc:
        raise fail(str(exc)) from None

    for problem in result.problems:
        err.print(f"[red]error:[/] {problem}", highlight=False, markup=True, soft_wrap=True)

    from veilleur.report.findings_json import dumps

    if json_out is not None:
        text = dumps(result.findings, inputs=result.inputs, problems=result.problems)
        if to_stdout:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            write_atomic(Path(json_out), text)
    if html_out is not None:
        from veilleur.report.html import render_html

        write_atomic(html_out, render_html(result))
    if result.nothing_read:
        # Exit 1, not 2: there is no partial result to use, only paths to correct.
        err.print(f"opened: {result.opened.describe()}", highlight=False, soft_wrap=True)
        raise fail(result.opened.nothing_read())
    if not quiet:
        _summary(out, result, json_out if not to_stdout else None, html_out)
    raise typer.Exit(EXIT_OK if result.complete else EXIT_BAD_INPUT)


def hash_(
    files: Annotated[list[Path], typer.Argument(help="Images or videos to hash.")],
    json_out: Annotated[str | None, typer.Option(
        "--json", help="Write the JSON list here ('-' for standard output).")] = None,
) -> None:
    """MD5, SHA-256 and PDQ (with quality) of each file; video files list sampled frames.

    Exit 2 if some file could not be read or decoded (it gets an "error"; the others are
    still hashed).
    """
    from veilleur.detect.media.hashing import hash_file

    results = [hash_file(f, lookups=False) for f in files]
    doc = [r.to_json() for r in results]
    text = json.dumps(doc, indent=2) + "\n"
    if json_out == "-":
        sys.stdout.write(text)
    elif json_out is not None:
        write_atomic(Path(json_out), text)
    else:
        table = Table(header_style="bold")
        for col in ("file", "md5", "pdq", "quality", "error"):
            table.add_column(col, overflow="fold")
        for r in results:
            table.add_row(r.file, r.md5 or "-", r.pdq.hex if r.pdq else (
                f"{len(r.frames)} frames" if r.frames else "-"),
                str(r.pdq.quality) if r.pdq else "-", r.error or "")
        Console().print(table)
    err = Console(stderr=True)
    for r in results:
        if r.error:
            err.print(f"[red]error:[/] {r.file}: {r.error}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT if any(r.error for r in results) else EXIT_OK)


def _summary(out: Console, result: ScanResult, json_out: str | None, html_out: Path | None
             ) -> None:
    table = Table(title="Veilleur scan", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    failed = result.inputs_failed
    table.add_row("input files", f"{len(result.inputs)}" + (f" ({failed} with problems)"
                                                           if failed else ""))
    table.add_row("  opened", result.opened.describe())
    table.add_row("messages read", f"{result.messages:,}")
    table.add_row("attachments hashed (local)", f"{result.attachments_local:,}")
    table.add_row("  of which pictures or videos (PDQ)", f"{result.attachments_decoded:,}")
    table.add_row("attachments referenced (remote)", f"{result.attachments_remote:,}")
    counts = Counter(f.category for f in result.findings)
    for category in Category:
        table.add_row(f"findings: {category.value}", str(counts[category]))
    table.add_row("input problems", str(len(result.problems)))
    out.print(table)
    if result.findings:
        top = Table(title="Top findings", header_style="bold")
        for col in ("score", "category", "target", "evidence"):
            top.add_column(col, overflow="fold")
        for f in result.findings[:10]:
            top.add_row(f"{f.score:.2f}", f.category.value, f"{f.target.kind.value} {f.target.id}",
                        f.evidence)
        out.print(top)
    if result.cases:
        top = Table(title=f"Cases opened or added to ({len(result.cases)}): "
                    "`veilleur review next` takes the first", header_style="bold")
        for col in ("case", "priority", "category", "next due", "targets", "why"):
            top.add_column(col, overflow="fold")
        for c in result.cases[:10]:
            why = max(c.factors, key=lambda f: f.contribution, default=None)
            due = c.next_due()
            top.add_row(c.id, f"{c.priority:.2f}", c.category.value if c.category else "-",
                        due.isoformat(timespec="minutes") if due else "-", str(len(c.targets)),
                        f"{why.name}: {why.why}" if why else "")
        out.print(top)
    for label, path in (("findings JSON", json_out), ("HTML report", html_out)):
        if path is not None:
            out.print(f"{label}: {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(scan)
    app.command("hash")(hash_)
