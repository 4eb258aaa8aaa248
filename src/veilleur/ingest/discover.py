"""Which files a scan reads: DCE JSON exports and JSONL event logs, from files and folders."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from veilleur.events import Event
from veilleur.ingest.dce import read_dce
from veilleur.ingest.eventlog import read_eventlog
from veilleur.ingest.media import MediaReader
from veilleur.ingest.problems import ProblemLog


class InputKind(StrEnum):
    DCE = "dce"
    EVENTLOG = "eventlog"


@dataclass(frozen=True, slots=True)
class InputFile:
    path: Path
    kind: InputKind
    size: int


def _kind_of(path: Path) -> InputKind | None:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return InputKind.DCE
    if suffix in (".jsonl", ".ndjson"):
        return InputKind.EVENTLOG
    return None


def discover_inputs(paths: Sequence[Path], problems: ProblemLog) -> list[InputFile]:
    """Expand files and folders into the inputs to read, in a stable order, each once.

    Folders are walked recursively; media folders written by DCE (`*_Files`) are skipped, and
    so are files that are neither `.json` nor `.jsonl`. A file named explicitly is read as an
    export whatever its extension, so a wrongly named file gets a clear error, not silence.
    """
    found: dict[Path, InputFile] = {}
    for path in paths:
        if not path.exists():
            problems.report(str(path), "no such file or folder", fatal=True)
        elif path.is_dir():
            for child in sorted(_walk(path)):
                kind = _kind_of(child)
                if kind is not None:
                    found.setdefault(child.resolve(), InputFile(child, kind, _size(child)))
        else:
            kind = _kind_of(path) or InputKind.DCE
            found.setdefault(path.resolve(), InputFile(path, kind, _size(path)))
    return list(found.values())


def _walk(folder: Path) -> Iterator[Path]:
    for child in folder.iterdir():
        if child.is_dir():
            if not child.name.endswith("_Files"):
                yield from _walk(child)
        elif child.is_file():
            yield child


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_input(
    item: InputFile,
    problems: ProblemLog,
    media: MediaReader,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    reader = read_dce if item.kind is InputKind.DCE else read_eventlog
    return reader(item.path, problems, media, on_bytes)
