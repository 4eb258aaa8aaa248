"""Keeping an uploaded file: copied from the parser's spooled temporary file in bounded
chunks, hashed on the way, and named by its SHA-256, so no upload is ever held whole in
memory (the body limit bounds how much the spooled file may hold)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO

from veilleur.private import FILE_MODE, make_dir

CHUNK = 1024 * 1024
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,9}")


def safe_suffix(filename: str | None) -> str:
    """The extension the client gave, if it is a plain one ('.jpg'); else none: the name is
    the sender's, and only letters and digits go into a path."""
    suffix = Path(filename or "").suffix if filename and "\0" not in filename else ""
    return suffix if _SUFFIX.fullmatch(suffix) else ""


def store_upload(src: BinaryIO, folder: Path, suffix: str) -> Path:
    """`folder/<sha256><suffix>`, written once: the same file sent again is not rewritten."""
    make_dir(folder)  # owner-only when made here; the runtime tightened an older one
    tmp = folder / f".upload-{secrets.token_hex(8)}.part"
    sha = hashlib.sha256()
    try:
        src.seek(0)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as out:
            while chunk := src.read(CHUNK):
                sha.update(chunk)
                out.write(chunk)
        path = folder / f"{sha.hexdigest()}{suffix}"
        if path.exists():
            tmp.unlink()
        else:
            tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
