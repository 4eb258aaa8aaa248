"""The JSON Lines event log of contracts §5, streamed a line at a time.

A bad line is reported with its number and skipped; every good line before and after it is kept.

Every event type is read here, those of legal weight too (`events.LEGAL_TYPES`: reports,
authority orders and their updates, complaints): an event log given to the CLI (`scan`,
`replay`) is the operator's own trusted input. The service does not take them as raw
events: `Runtime.accept` lets each door take only its own types, so they enter only
through their scoped endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from veilleur import eventformat
from veilleur.events import Event
from veilleur.ingest import fields as F
from veilleur.ingest.media import MediaReader, report_media_errors
from veilleur.ingest.problems import ProblemLog


def read_eventlog(
    path: Path,
    problems: ProblemLog,
    media: MediaReader,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    source = str(path)
    try:
        with path.open("rb") as f:
            for lineno, raw_line in enumerate(f, start=1):
                if on_bytes is not None:
                    on_bytes(len(raw_line))
                line = raw_line.strip()
                if not line:
                    continue
                try:
                    event = parse_event(json.loads(line), path.parent, media, source)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    problems.report(source, f"not valid JSON: {exc}", f"line {lineno}")
                except F.FieldError as exc:
                    problems.report(source, f"skipped bad event: {exc}", f"line {lineno}")
                else:
                    report_media_errors(event, problems, f"line {lineno}")
                    yield event
    except OSError as exc:
        problems.report(source, f"cannot read file: {exc.strerror or exc}", fatal=True)


def parse_event(raw: Any, base_dir: Path, media: MediaReader, source: str | None = None) -> Event:
    """One event, validated by the models of `eventformat` (the format's one source, also
    the published JSON Schema's); a fault is a `FieldError` naming the field."""
    return eventformat.parse(raw, eventformat.Build(base_dir, media, source))
