"""Paths named by hostile input, kept inside the folder they belong to.

An export, an event or an evidence record names files with strings someone else wrote. Every
reader and writer of such a path goes through here: the reference is read every way a reader
might read it (raw, then percent-decoded until stable, backslashes as separators), and refused
if any reading goes up (`..`), is absolute, names a Windows drive or network share, holds a NUL
byte or is absurdly long. What is left is joined to the folder and resolved with its links
followed; the result must still lie inside the folder. The file is then opened without
following a last link and checked again through the open descriptor, so a link swapped in
between the check and the open is caught too.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO
from urllib.parse import unquote

from veilleur.private import FILE_MODE, private_dir

MAX_PATH_CHARS = 4096
MAX_NAME_BYTES = 255
_DECODE_ROUNDS = 8
_DRIVE = re.compile(r"^[A-Za-z]:")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class RefusedPathError(ValueError):
    """A path that may not be used, with the reason in words."""


def shown(ref: str, limit: int = 120) -> str:
    """The reference as it goes into a message: quoted, control characters escaped, short."""
    text = ref if len(ref) <= limit else ref[:limit] + "..."
    return repr(text)


def readings(ref: str) -> list[str]:
    """The reference raw, then each percent-decoding of it until it stops changing.

    Exporters encode each segment once, but a hostile one may encode twice (`%252e`):
    every reading is checked, so none can smuggle a `..` past the check of another."""
    out = [ref]
    for _ in range(_DECODE_ROUNDS):
        nxt = unquote(out[-1], errors="surrogateescape") if "%" in out[-1] else out[-1]
        if nxt == out[-1]:
            return out
        out.append(nxt)
    raise RefusedPathError(f"path {shown(ref)} is percent-encoded more than {_DECODE_ROUNDS} times")


def _relative(reading: str, ref: str, folder: str) -> PurePosixPath:
    if "\x00" in reading:
        raise RefusedPathError(f"path {shown(ref)} contains a NUL byte")
    posix = reading.replace("\\", "/")
    decoded = "" if reading == ref else " (once percent-decoded)"
    if _DRIVE.match(posix) or PureWindowsPath(reading).drive:
        raise RefusedPathError(f"path {shown(ref)} leaves the {folder} "
                          f"(a Windows drive or network path){decoded}")
    if posix.startswith("/"):
        raise RefusedPathError(f"path {shown(ref)} leaves the {folder} (an absolute path){decoded}")
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise RefusedPathError(f"path {shown(ref)} leaves the {folder}{decoded}")
    if not parts:
        raise RefusedPathError(f"path {shown(ref)} names no file")
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise RefusedPathError(f"path {shown(ref)} has a name longer than {MAX_NAME_BYTES} "
                              "bytes")
    return PurePosixPath(*parts)


def relative_readings(ref: str, folder: str = "folder") -> list[PurePosixPath]:
    """Every reading of `ref` as a path below a folder, raw first; `RefusedPathError` if any
    of them would leave it. Pure: touches no file system."""
    if len(ref) > MAX_PATH_CHARS:
        raise RefusedPathError(f"path is {len(ref):,} characters long, over the limit of "
                          f"{MAX_PATH_CHARS:,}")
    out: list[PurePosixPath] = []
    for text in readings(ref):
        rel = _relative(text, ref, folder)
        if rel not in out:
            out.append(rel)
    return out


def locate(ref: str, root: Path, folder: str = "folder") -> Path | None:
    """The existing regular file `ref` names inside `root`, links followed, or None when
    there is none; `RefusedPathError` when it (or a link on its way) leads out of `root`."""
    rels = relative_readings(ref, folder)
    try:
        top = root.resolve(strict=True)
    except OSError:
        return None
    for rel in rels:
        try:
            full = (top / rel).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):  # missing, a link loop, a bad name
            continue
        if not full.is_relative_to(top):
            raise RefusedPathError(f"path {shown(ref)} leaves the {folder} (through a link)")
        if full.is_file():
            return full
    return None


_READ_NO_LINK = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
"""No last link followed; a FIFO cannot block the open."""


def _changed(path: Path, folder: str) -> RefusedPathError:
    return RefusedPathError(f"path {shown(str(path))} leaves the {folder} (it changed while "
                            "being opened)")


def open_inside(path: Path, root: Path, folder: str = "folder") -> BinaryIO:
    """Open a file `locate` found, for reading, and check through the descriptor that what
    was opened is that regular file, still inside `root`.

    No last link is followed (O_NOFOLLOW), a FIFO cannot block the open (O_NONBLOCK), and
    the opened file's own path is checked, so a folder swapped for a link after `locate`
    is refused rather than read."""
    try:
        fd = os.open(path, _READ_NO_LINK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the file became a link after `locate`
            raise _changed(path, folder) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RefusedPathError(f"{path} is not a regular file")
        top = root.resolve()
        proc = Path(f"/proc/self/fd/{fd}")
        if proc.exists():
            real = Path(os.readlink(proc))
            if not real.is_relative_to(top):
                raise _changed(path, folder)
        else:  # no /proc: the descriptor must be the very file the path names
            now = path.lstat()
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or \
                    not path.resolve().is_relative_to(top):
                raise _changed(path, folder)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: Path, limit: int) -> bytes | None:
    """At most `limit` bytes of a regular file, or None (missing, too large, not a file).

    For paths this engine recorded itself: no last link is followed and a FIFO cannot hang
    the read. Callers compare the bytes with the digest they recorded."""
    try:
        fd = os.open(path, _READ_NO_LINK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        data = f.read(limit + 1)
    return data if len(data) <= limit else None


def safe_name(text: str, limit: int = 120) -> str:
    """A single plain file name made from hostile text (ids, file names): no separator, no
    leading dot, nothing a shell or a file system reads specially."""
    name = _UNSAFE_NAME.sub("_", text).lstrip(".")[:limit]
    return name or "file"


def write_inside(root: Path, name: str, data: bytes, folder: str = "folder") -> Path:
    """Write `data` to the file `name` directly in `root`, owner-only (folder and file);
    `RefusedPathError` for any name that is not one plain component, and no link already at
    that name is followed."""
    if (not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name
            or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES):
        raise RefusedPathError(f"file name {shown(name)} is not a plain name in the {folder}")
    private_dir(root)
    target = root.resolve(strict=True) / name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW,
                 FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # a file already at that name keeps its own mode otherwise
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return target
