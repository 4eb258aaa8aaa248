"""Local media referenced by exports: resolve the path, read the bytes, hash them.

Remote URLs are references only and are never fetched (signed CDN links expire, and fetching
abuse material is not ours to do). Digests are always of the file bytes, never of the URL.
A local path is read only inside the folder it belongs to (`veilleur.confine`): the export's
folder for `veilleur scan`, the media root for the service, which reads nothing without one.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import replace
from pathlib import Path, PureWindowsPath
from typing import BinaryIO

from veilleur.confine import RefusedPathError, locate, open_inside, shown
from veilleur.detect.media.decode import Limits
from veilleur.detect.media.hashing import MediaHashes, hash_open
from veilleur.events import Attachment, Event, MessagePosted
from veilleur.ingest.problems import ProblemLog

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")


def is_remote(ref: str) -> bool:
    # A Windows drive path ("C:\\...") looks like a scheme; it is local.
    return bool(_SCHEME.match(ref)) and not PureWindowsPath(ref).drive


def guess_content_type(name: str | None) -> str | None:
    if not name:
        return None
    return mimetypes.guess_type(name.replace("\\", "/"))[0]


_MEDIA_TYPES = ("image/", "video/")


class MediaReader:
    """Turns attachment references into `Attachment`s, hashing each local file once per run.

    Hashing reads the bytes (MD5, SHA-256) and decodes pictures and videos (PDQ and the
    lookup variants). A file that should be a picture or video but cannot be decoded is
    reported; other files (a PDF, an archive) simply have no PDQ.
    """

    def __init__(self, limits: Limits | None = None, *, features: bool = False,
                 folder: str = "export folder", read_local: bool = True,
                 own_folders: tuple[Path, ...] = (), cache_limit: int | None = None) -> None:
        self._cache: dict[Path, MediaHashes] = {}
        self.cache_limit = cache_limit
        """Files whose hashes are kept (the oldest go first); None: every file of the run.
        A process that never ends (a bus worker) sets one."""
        self.limits = limits or Limits()
        self.folder = folder
        """What `base_dir` is called in problems ("attachment path 'x' leaves the ...")."""
        self.read_local = read_local
        """False where no folder is trusted (a service without a media root): no local
        path is read at all, wherever it points."""
        self.own_folders = tuple(p.resolve() for p in own_folders)
        """Folders this engine writes itself (the service's uploads), named by absolute
        paths; what follows the folder is confined to it like any other path."""
        self.features = features
        """Also extract local features (costs ~7 ms a picture; only enrolled banks use them)."""
        self.local_files = 0
        self.remote_refs = 0
        self.decoded = 0

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
        own = self._own_folder(ref)
        if own is not None:
            base_dir, ref = own
        elif not self.read_local:
            return replace(base, media_error=f"attachment path {shown(ref)} not read: no "
                           f"{self.folder} is set")
        try:
            path = locate(ref, base_dir, self.folder)
            if path is None:
                return replace(base, media_error=f"media file not found: {shown(ref)}")
            self.local_files += 1
            hashes = self._hashes(path, base_dir)
        except RefusedPathError as exc:
            return replace(base, media_error=f"attachment {exc}")
        if hashes.md5 is None:
            return replace(base, path=str(path), media_error=f"media file unreadable: {path}: "
                           f"{hashes.error}")
        error = None
        if hashes.error is not None and self._should_decode(base, hashes):
            error = f"media file {path}: {hashes.error}"
        return replace(base, path=str(path), size=hashes.size or base.size, md5=hashes.md5,
                       sha256=hashes.sha256, media=hashes, media_error=error)

    def _own_folder(self, ref: str) -> tuple[Path, str] | None:
        for folder in self.own_folders:
            prefix = f"{folder}/"
            if ref.startswith(prefix):
                return folder, ref.removeprefix(prefix)
        return None

    def _hashes(self, path: Path, base_dir: Path) -> MediaHashes:
        hashes = self._cache.get(path)
        if hashes is None:
            try:
                f: BinaryIO = open_inside(path, base_dir, self.folder)
            except OSError as exc:
                return MediaHashes(file=str(path),
                                   error=f"cannot read file: {exc.strerror or exc}")
            with f:
                hashes = hash_open(f, str(path), self.limits, features=self.features)
            self._cache[path] = hashes
            while self.cache_limit is not None and len(self._cache) > self.cache_limit:
                del self._cache[next(iter(self._cache))]
            if hashes.kind is not None:
                self.decoded += 1
        return hashes

    @staticmethod
    def _should_decode(att: Attachment, hashes: MediaHashes) -> bool:
        """Whether a decoding failure is news: the file claims to be a picture or video."""
        if att.content_type and att.content_type.startswith(_MEDIA_TYPES):
            return True
        return not hashes.unknown_format


def report_media_errors(event: Event, problems: ProblemLog, where: str | None = None) -> None:
    """Media an export names but that cannot be read is missing evidence: say so."""
    if not isinstance(event, MessagePosted):
        return
    for att in event.message.attachments:
        if att.media_error is not None:
            problems.report(event.source or "input", att.media_error,
                            f"{where or f'message {event.message.id}'}, attachment {att.id}")
