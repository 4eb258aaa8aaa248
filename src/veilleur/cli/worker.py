"""Command line: `veilleur worker --stage detect|sink|retro --broker HOST:PORT`, one stage of
the engine on a Kafka log (`veilleur.bus`); `retro` is a bounded replay that ends. Needs the
`bus` extra (quixstreams); the rest of the command line does not, so everything bus-related
is imported inside the command."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from veilleur.cli.common import EXIT_BAD_INPUT, DbOption, KeyOption, database_errors, fail


class Stage(StrEnum):
    DETECT = "detect"
    SINK = "sink"
    RETRO = "retro"


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
                                         "findings -> casework in --db; retro: media seen "
                                         "before -> findings on --entries, once.")],
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
    media_root: Annotated[Path | None, typer.Option(
        "--media-root", help="(detect) The folder attachment paths are read from (every "
        "worker mounts it); without it no local file is read and only hashes the event "
        "carries are known.")] = None,
    entries: Annotated[list[Path] | None, typer.Option(
        "--entries", help="Repeatable (retro): a bank file of the entries just added; the "
        "media seen before are checked against these only.")] = None,
    run_name: Annotated[str | None, typer.Option(
        "--run", help="(retro) The run's name; its consumer group is veilleur-retro-RUN. "
        "Give a run that stopped halfway its name again to go on from where it committed "
        "[default: the time now].")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="(retro) Print the summary as one JSON object.")] = False,
    producer_option: Annotated[list[str] | None, typer.Option(
        "--producer-option", help="Repeatable: NAME=VALUE, a librdkafka producer setting.")
    ] = None,
    consumer_option: Annotated[list[str] | None, typer.Option(
        "--consumer-option", help="Repeatable: NAME=VALUE, a librdkafka consumer setting.")
    ] = None,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", help="Quix's state folder [default: ./state].")] = None,
    memory: Annotated[bool, typer.Option(
        "--state/--no-state", help="(detect) Keep the engine's memory in Quix's state store "
        "and share accounts' and the graph's through the labels topic; --no-state keeps it "
        "in this process only (lost when the worker dies).")] = True,
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
    if stage is not Stage.SINK and (db is not None or evidence_key is not None):
        raise fail("--db and --evidence-key are the sink's: a detect or retro worker writes "
                   "no database (a detect worker keeps its memory in Quix's state store)",
                   EXIT_BAD_INPUT)
    if stage is Stage.RETRO and not entries:
        raise fail("the retro stage checks past media against new entries: give --entries "
                   "FILE (the entries just added)", EXIT_BAD_INPUT)
    if stage is not Stage.RETRO and (entries or run_name):
        raise fail("--entries and --run are the retro stage's", EXIT_BAD_INPUT)
    if stage is not Stage.DETECT and (bank or media_root is not None):
        raise fail("--bank and --media-root are the detect stage's (retro: --entries)",
                   EXIT_BAD_INPUT)
    if media_root is not None and not media_root.is_dir():
        raise fail(f"--media-root {media_root}: no such folder", EXIT_BAD_INPUT)
    if stage is Stage.RETRO:
        import datetime as dt

        run_name = run_name or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        if not run_name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise fail(f"--run {run_name!r}: letters, digits, '-', '_' and '.' only",
                       EXIT_BAD_INPUT)
        group = group or f"veilleur-retro-{run_name}"
    config = BusConfig(broker=broker, group=group or f"veilleur-{stage.value}", prefix=prefix,
                       partitions=partitions, replication=replication,
                       session_timeout_ms=session_timeout_ms,
                       commit_interval=commit_interval, state_dir=state_dir,
                       producer=options(producer_option, "--producer-option"),
                       consumer=options(consumer_option, "--consumer-option"))
    if stage is Stage.DETECT:
        from veilleur.bus import detect
        from veilleur.deployment import Mode, Settings

        detect.run(config, Settings(mode=Mode.DETECT, bank_files=tuple(bank or ())),
                   media_root=media_root, memory=memory)
    elif stage is Stage.RETRO:
        assert run_name is not None and entries
        _retro(config, entries, run_name, as_json)
    else:
        from veilleur.bus import sink

        sink.run(config, db, evidence_key=evidence_key)


def _retro(config: Any, entries: list[Path], run_name: str, as_json: bool) -> None:
    import json

    from veilleur.bus import retro

    try:
        banks, problems = retro.load_entries(entries)
    except retro.RetroError as exc:
        raise fail(str(exc), EXIT_BAD_INPUT) from None
    try:
        summary = retro.run(config, banks, run_name, entry_problems=problems)
    except retro.RetroError as exc:
        raise fail(f"retro run {run_name!r} stopped: {exc}") from None
    doc = summary.to_json()
    if as_json:
        typer.echo(json.dumps(doc))
        return
    typer.echo(f"retro run {run_name} (consumer group {config.group}): "
               f"{doc['entries']:,} new entries; {doc['read']:,} media-hashes messages read "
               f"from {doc['partitions']} partitions in {doc['seconds']:.1f} s "
               f"({doc['hashes_per_second']:,}/s)" + (", resumed" if doc["resumed"] else ""))
    typer.echo(f"  {doc['checked']:,} media checked, {doc['matched_media']:,} matched "
               f"({doc['matches']:,} matches), {doc['findings']:,} findings in "
               f"{doc['messages_written']:,} messages on findings")
    if doc["deleted"]:
        typer.echo(f"  {doc['deleted']:,} deleted keys passed over")
    if doc["bad"]:
        typer.echo(f"  {doc['bad']:,} messages skipped:")
        for reason, n in list(doc["bad_reasons"].items())[:10]:
            typer.echo(f"    {n:,} × {reason}")
    for note in doc["entry_problems"]:
        typer.echo(f"  entries: {note}")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
