"""Files that hold data are the owner's alone: 0600 files, 0700 folders, whatever the umask.

The database and its journals hold messages, uploads are clear copies of what users sent,
exports hold decrypted evidence: none of it is for the other accounts of the machine. Every
place the engine creates such a file or folder goes through here, so the mode does not depend
on the process's umask or on a caller remembering it. Files found open to group/others are
tightened (and said so); secrets (key files) found so are refused instead, like ssh does: a
key that others could already read is no longer a secret, and quietly fixing the mode would
hide that.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger("veilleur.files")

FILE_MODE = 0o600
DIR_MODE = 0o700
_OTHERS = 0o077


class FileModeError(PermissionError):
    pass


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def make_dir(path: Path) -> Path:
    """Create the missing folders of `path` owner-only; folders that exist are left as they
    are (the database's folder may be the current one, which is not ours to change)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                                         str(folder))
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # created meanwhile by another process
            continue
        os.chmod(folder, DIR_MODE)  # the umask may have taken owner bits away
    return path


def private_dir(path: Path) -> Path:
    """A folder that only the engine uses (uploads, exported media): created 0700, tightened
    if it exists open to group/others."""
    make_dir(path)
    tighten(path)
    return path


def tighten(path: Path) -> bool:
    """Take group/others' permissions off an existing file or folder; True if it was open."""
    try:
        mode = _mode(path)
    except FileNotFoundError:
        return False
    if not mode & _OTHERS:
        return False
    try:
        os.chmod(path, mode & ~_OTHERS)
    except OSError as exc:
        raise FileModeError(f"{path} is open to group/others (mode {mode:04o}) and cannot "
                            f"be made private ({exc.strerror or exc}): chmod go-rwx {path}"
                            ) from None
    log.warning("%s was open to group/others (mode %04o): made owner-only (%04o)", path,
                mode, mode & ~_OTHERS)
    return True


def private_file(path: Path) -> Path:
    """An owner-only file: created empty (0600) if missing, tightened if open to others."""
    make_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
    else:
        os.fchmod(fd, FILE_MODE)
        os.close(fd)
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write a whole file, owner-only, replacing the old one only once fully written."""
    make_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp: 0600
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_secret(path: Path, what: str) -> None:
    """Refuse a secret file that others may read or change."""
    mode = _mode(path)
    if mode & _OTHERS:
        how = "readable" if mode & 0o044 else "writable" if mode & 0o022 else "usable"
        raise FileModeError(f"{what} {path} is {how} by group/others (mode {mode:04o}): "
                            f"chmod 600 {path}")
