"""Local media referenced by exports: resolve the path, read the bytes, hash them.

Remote URLs are references only and are never fetched (signed CDN links expire, and fetching
abuse material is not ours to do). Digests are always of the file bytes, never of the URL.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass, replace
from pathlib import Path, PureWindowsPath
from urllib.parse import unquote

from veilleur.events import Attachment, Event, MessagePosted
from veilleur.ingest.problems import ProblemLog

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class MediaDigest:
    path: str
    size: int
    md5: str
    sha256: str


def is_remote(ref: str) -> bool:
    # A Windows drive path ("C:\\...") looks like a scheme; it is local.
    return bool(_SCHEME.match(ref)) and not PureWindowsPath(ref).drive


def resolve_local(ref: str, base_dir: Path) -> Path | None:
    """The existing file a relative (or absolute) media reference points at, if any.

    DCE writes paths relative to the export's folder, with backslashes when exported on
    Windows, and some versions percent-encode each segment; try each reading in turn.
    """
    candidates = [ref, unquote(ref)]
    for cand in candidates:
        posix = cand.replace("\\", "/")
        win = PureWindowsPath(cand)
        if win.drive:  # absolute Windows path: only its tail can be meaningful here
            continue
        path = Path(posix)
        full = path if path.is_absolute() else base_dir / path
        if full.is_file():
            return full
    return None


def hash_file(path: Path) -> MediaDigest:
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
    return MediaDigest(path=str(path), size=size, md5=md5.hexdigest(), sha256=sha.hexdigest())


def guess_content_type(name: str | None) -> str | None:
    if not name:
        return None
    return mimetypes.guess_type(name.replace("\\", "/"))[0]


class MediaReader:
    """Turns attachment references into `Attachment`s, hashing each local file once per run."""

    def __init__(self) -> None:
        self._cache: dict[Path, MediaDigest | str] = {}
        self.local_files = 0
        self.remote_refs = 0

    def attachment(
        self,
        *,
        id: str,
        ref: str | None,
        base_dir: Path,
        filename: str | None = None,
        size: int | None = None,
        content_type: str | None = None,
    ) -> Attachment:
        base = Attachment(id=id, filename=filename, url=ref, size=size,
                          content_type=content_type or guess_content_type(filename or ref))
        if not ref:
            return replace(base, media_error="attachment has no url or path")
        if is_remote(ref):
            self.remote_refs += 1
            return base
        path = resolve_local(ref, base_dir)
        if path is None:
            return replace(base, media_error=f"media file not found: {ref}")
        self.local_files += 1
        digest = self._digest(path)
        if isinstance(digest, str):
            return replace(base, path=str(path), media_error=digest)
        return replace(base, path=str(path), size=digest.size, md5=digest.md5,
                       sha256=digest.sha256)

    def _digest(self, path: Path) -> MediaDigest | str:
        key = path.resolve()
        if key not in self._cache:
            try:
                self._cache[key] = hash_file(path)
            except OSError as exc:
                self._cache[key] = f"media file unreadable: {path}: {exc.strerror or exc}"
        return self._cache[key]


def report_media_errors(event: Event, problems: ProblemLog, where: str | None = None) -> None:
    """Media an export names but that cannot be read is missing evidence: say so."""
    if not isinstance(event, MessagePosted):
        return
    for att in event.message.attachments:
        if att.media_error is not None:
            problems.report(event.source or "input", att.media_error,
                            where or f"message {event.message.id}, attachment {att.id}")
