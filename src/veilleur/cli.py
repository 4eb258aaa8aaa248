"""Command line: `veilleur scan`, `veilleur --version`."""

from __future__ import annotations

import json
import os
import sys
import tempfile
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

from veilleur import __version__
from veilleur.detect.base import PolicyDataError
from veilleur.ingest.discover import InputFile
from veilleur.scan import ScanHooks, ScanResult, run_scan
from veilleur.store.db import StoreError, database_url
from veilleur.taxonomy import Category

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="veilleur",
    help="Veilleur: child-safety engine for chat platforms.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"veilleur {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Veilleur: child-safety engine for chat platforms."""


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


@app.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(
        help="DiscordChatExporter JSON exports, JSONL event logs, or folders of them.")],
    bank: Annotated[list[Path] | None, typer.Option(
        "--bank", help="Hash bank CSV (signal_type,signal,category); repeatable.")] = None,
    json_out: Annotated[str | None, typer.Option(
        "--json", help="Write the findings document here ('-' for standard output).")] = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Write a readable HTML report here.")] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL or SQLite file path [default: $VEILLEUR_DB or ./veilleur.db]."
    )] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or tables.")
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
    try:
        with progress:
            result = run_scan(paths, db_url=database_url(db), bank_paths=bank or (),
                              hooks=_ProgressHooks(progress))
    except (StoreError, PolicyDataError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from None

    for problem in result.problems:
        err.print(f"[red]error:[/] {problem}", highlight=False, markup=True, soft_wrap=True)

    from veilleur.report.findings_json import dumps

    if json_out is not None:
        text = dumps(result.findings)
        if to_stdout:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            _write_atomic(Path(json_out), text)
    if html_out is not None:
        from veilleur.report.html import render_html

        _write_atomic(html_out, render_html(result))
    if not quiet:
        _summary(out, result, json_out if not to_stdout else None, html_out)
    raise typer.Exit(EXIT_OK if result.complete else EXIT_BAD_INPUT)


@app.command("eval")
def eval_(
    paths: Annotated[list[Path], typer.Argument(help="Labelled exports (files or folders).")],
    labels: Annotated[Path, typer.Option("--labels", help="Labels, JSON Lines: "
                                         '{"target": {"kind", "id"}, "category"}.')],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the metrics here.")
                        ] = None,
    min_precision: Annotated[float | None, typer.Option(
        help="Exit 1 if any category's precision (per target kind) is below this.")] = None,
    min_recall: Annotated[float | None, typer.Option(
        help="Exit 1 if any category's recall (per target kind) is below this.")] = None,
) -> None:
    """Precision and recall per category and target kind on labelled exports; list errors."""
    from veilleur.evaluate import LabelError, evaluate

    out = Console()
    try:
        result = evaluate(paths, labels)
    except (LabelError, PolicyDataError) as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from None
    table = Table(title=f"Evaluation: {result.labels} labels, {result.findings} findings",
                  header_style="bold")
    for col in ("category", "target", "TP", "FP", "FN", "precision", "recall"):
        table.add_column(col, justify="left" if col in ("category", "target") else "right")
    failing = False
    for (category, kind), s in sorted(result.scores.items()):
        if s.tp + s.fp + s.fn == 0:
            continue
        p, r = s.precision, s.recall
        failing |= min_precision is not None and p is not None and p < min_precision
        failing |= min_recall is not None and r is not None and r < min_recall
        table.add_row(category.value, kind.value, str(s.tp), str(s.fp), str(s.fn),
                      "-" if p is None else f"{p:.3f}", "-" if r is None else f"{r:.3f}")
    out.print(table)
    for e in result.errors:
        out.print(f"{e.kind}: {e.key[2].value} {e.key[0].value} {e.key[1]}: {e.text!r}"
                  + (f"\n    because {e.evidence}" if e.evidence else ""), highlight=False)
    for problem in result.problems:
        out.print(f"[red]input problem:[/] {problem}", highlight=False)
    if json_out is not None:
        _write_atomic(json_out, json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    raise typer.Exit(EXIT_FAILED if failing or result.problems else EXIT_OK)


def _summary(out: Console, result: ScanResult, json_out: str | None, html_out: Path | None
             ) -> None:
    table = Table(title="Veilleur scan", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    failed = result.inputs_failed
    table.add_row("input files", f"{len(result.inputs)}" + (f" ({failed} with problems)"
                                                           if failed else ""))
    table.add_row("messages read", f"{result.messages:,}")
    table.add_row("attachments hashed (local)", f"{result.attachments_local:,}")
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
    for label, path in (("findings JSON", json_out), ("HTML report", html_out)):
        if path is not None:
            out.print(f"{label}: {path}", highlight=False)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main() -> None:
    app()
