"""Command line: `veilleur schema events`, the event format's JSON Schema from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from veilleur.eventschema import SCHEMA_FILE, dumps, event_schema

schema_app = typer.Typer(help="The published formats, generated from the code.",
                         no_args_is_help=True)


@schema_app.command("events")
def events(
    out: Annotated[Path, typer.Option(
        "--out", help="Where to write it ('-': print it).")] = Path(SCHEMA_FILE),
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 if the file differs from the code.")] = False,
) -> None:
    """Write the JSON Schema (2020-12) of one event (contracts §5) to schemas/."""
    text = dumps(event_schema())
    if str(out) == "-":
        typer.echo(text, nl=False)
        return
    if check:
        try:
            current = out.read_text(encoding="utf-8")
        except OSError as exc:
            typer.echo(f"{out}: cannot read: {exc.strerror or exc}", err=True)
            raise typer.Exit(1) from None
        if current != text:
            typer.echo(f"{out} differs from the code: run `veilleur schema events --out "
                       f"{out}`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{out} is current")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app, name="schema")
