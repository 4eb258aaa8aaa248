"""Command line: `veilleur worker --stage detect|sink --broker HOST:PORT`, one stage of the
engine on a Kafka log (`veilleur.bus`). Needs the `bus` extra (quixstreams); the rest of
the command line does not, so everything bus-related is imported inside the command."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from veilleur.cli.common import EXIT_BAD_INPUT, DbOption, KeyOption, database_errors, fail


class Stage(StrEnum):
    DETECT = "detect"
    SINK = "sink"


def options(values: list[str] | None, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values or ():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise fail(f"{what} {item!r}: write NAME=VALUE (a librdkafka setting)",
                       EXIT_BAD_INPUT)
        out[name.strip()] = value.strip()
    return out


@database_errors
def worker(
    stage: Annotated[Stage, typer.Option("--stage", help="detect: events -> findings; sink: "
                                         "findings -> casework in --db.")],
    broker: Annotated[str, typer.Option("--broker", help="HOST:PORT of a Kafka broker.")],
    db: DbOption = None,
    evidence_key: KeyOption = None,
    group: Annotated[str | None, typer.Option(
        "--group", help="Consumer group [default: veilleur-STAGE]; workers of one stage "
        "share it.")] = None,
    prefix: Annotated[str, typer.Option(
        "--topic-prefix", help="Put in front of every topic's name.")] = "",
    partitions: Annotated[int, typer.Option(
        "--partitions", min=1, help="Partitions of the topics this worker creates (existing "
        "topics are used as they are).")] = 12,
    replication: Annotated[int, typer.Option(
        "--replication", min=1, help="Replication factor of the topics this worker creates "
        "(3 on a real cluster).")] = 1,
    session_timeout_ms: Annotated[int, typer.Option(
        "--session-timeout-ms", min=1000, help="How soon a dead worker's partitions go to "
        "the others.")] = 10_000,
    commit_interval: Annotated[float, typer.Option(
        "--commit-interval", min=0.0, help="Seconds between offset commits.")] = 1.0,
    bank: Annotated[list[Path] | None, typer.Option(
        "--bank", help="Repeatable (detect): a hash bank file to match.")] = None,
    producer_option: Annotated[list[str] | None, typer.Option(
        "--producer-option", help="Repeatable: NAME=VALUE, a librdkafka producer setting.")
    ] = None,
    consumer_option: Annotated[list[str] | None, typer.Option(
        "--consumer-option", help="Repeatable: NAME=VALUE, a librdkafka consumer setting.")
    ] = None,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", help="Quix's state folder [default: ./state].")] = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
) -> None:
    """One stage of the engine as a Quix Streams worker on a Kafka log; run N of them with
    the same --group to share the partitions."""
    import logging

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from veilleur.bus.config import BusConfig
    except ImportError as exc:
        raise fail(f"the bus needs its extra: pip install 'veilleur[bus]' ({exc})") from None
    if stage is Stage.SINK and db is None:
        raise fail("the sink stage writes casework: give --db", EXIT_BAD_INPUT)
    if stage is Stage.DETECT and (db is not None or evidence_key is not None):
        raise fail("--db and --evidence-key are the sink's: a detect worker keeps its memory "
                   "in its process and writes no database", EXIT_BAD_INPUT)
    config = BusConfig(broker=broker, group=group or f"veilleur-{stage.value}", prefix=prefix,
                       partitions=partitions, replication=replication,
                       session_timeout_ms=session_timeout_ms,
                       commit_interval=commit_interval, state_dir=state_dir,
                       producer=options(producer_option, "--producer-option"),
                       consumer=options(consumer_option, "--consumer-option"))
    if stage is Stage.DETECT:
        from veilleur.bus import detect
        from veilleur.deployment import Mode, Settings

        detect.run(config, Settings(mode=Mode.DETECT, bank_files=tuple(bank or ())))
    else:
        from veilleur.bus import sink

        sink.run(config, db, evidence_key=evidence_key)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
