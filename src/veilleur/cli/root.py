"""The `veilleur` command: the Typer app, `--version`, and every command module registered on
it in one place, in the order `veilleur --help` lists them."""

from __future__ import annotations

from typing import Annotated

import typer

from veilleur import __version__
from veilleur.cli import banks, bot, cases, compliance, scan, schema, service, train, worker
from veilleur.cli import eval as eval_commands  # the module, not the builtin

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


scan.register(app)  # scan, hash
banks.register(app)  # bank ...
cases.register(app)  # replay, cases, audit, evidence, review
compliance.register(app)  # documents, tdb, ncmec, report
service.register(app)  # serve, keys, accounts
bot.register(app)  # bot, bot invite-link
worker.register(app)  # worker --stage detect|sink (the bus)
schema.register(app)  # schema events
eval_commands.register(app)  # eval
train.register(app)  # train


def main() -> None:
    app()
