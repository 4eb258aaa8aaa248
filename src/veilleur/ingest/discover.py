"""Which files a scan reads: DCE JSON exports and JSONL event logs, from files and folders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
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


NO_INPUT = "holds no DiscordChatExporter export (.json) or event log (.jsonl)"


@dataclass
class Opened:
    """What a scan opened, so that a user who pointed at the wrong folder sees it."""

    folders: list[Path] = field(default_factory=list)
    files: Counter[InputKind] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    """Files in the folders that are no input, by extension ('' for none)."""
    empty: list[Path] = field(default_factory=list)
    """Folders that held no input at all."""

    def describe(self) -> str:
        n = len(self.folders)
        parts = [f"{n} folder{'s' if n != 1 else ''}" if n else "no folder",
                 f"{self.files[InputKind.DCE]} DiscordChatExporter export(s) (.json)",
                 f"{self.files[InputKind.EVENTLOG]} event log(s) (.jsonl)"]
        if self.skipped:
            parts.append(f"{sum(self.skipped.values())} other file(s) skipped "
                         f"({_suffixes(self.skipped)})")
        return ", ".join(parts)

    def nothing_read(self) -> str:
        """Why a scan that read nothing read nothing, for its last line."""
        if self.empty:
            return "nothing was read: " + "; ".join(f"{f} {NO_INPUT}" for f in self.empty)
        return "nothing was read: no input could be read (see the errors above)"


def _suffixes(counts: Counter[str]) -> str:
    return ", ".join(f"{suffix or 'no extension'} ×{n}" for suffix, n in counts.most_common(5))


def discover_inputs(paths: Sequence[Path], problems: ProblemLog,
                    opened: Opened | None = None) -> list[InputFile]:
    """Expand files and folders into the inputs to read, in a stable order, each once.

    Folders are walked recursively; media folders written by DCE (`*_Files`) are skipped, and
    so are files that are neither `.json` nor `.jsonl`. A file named explicitly is read as an
    export whatever its extension, so a wrongly named file gets a clear error, not silence.
    A folder that holds no input at all is a fatal problem of its own: an empty scan must
    not look like a clean one. `opened` (if given) counts what was found, by kind.
    """
    opened = opened if opened is not None else Opened()
    found: dict[Path, InputFile] = {}
    for path in paths:
        if not path.exists():
            problems.report(str(path), "no such file or folder", fatal=True)
        elif path.is_dir():
            opened.folders.append(path)
            skipped: Counter[str] = Counter()
            inputs_here = 0
            for child in sorted(_walk(path)):
                kind = _kind_of(child)
                if kind is None:
                    skipped[child.suffix.lower()] += 1
                    continue
                inputs_here += 1
                if child.resolve() not in found:
                    found[child.resolve()] = InputFile(child, kind, _size(child))
                    opened.files[kind] += 1
            opened.skipped.update(skipped)
            if not inputs_here:
                held = (f"only {sum(skipped.values())} other file(s): {_suffixes(skipped)}"
                        if skipped else "it is empty")
                opened.empty.append(path)
                problems.report(str(path), f"{NO_INPUT} ({held})", fatal=True)
        else:
            kind = _kind_of(path) or InputKind.DCE
            if path.resolve() not in found:
                found[path.resolve()] = InputFile(path, kind, _size(path))
                opened.files[kind] += 1
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
