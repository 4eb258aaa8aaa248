"""Attachments: pictures and videos fetched with a size cap, hashed by the engine, and not
kept in clear.

A picture or video Discord says is at most `cap` bytes is downloaded (discord.py's
`Attachment.read`, through its HTTP client), written owner-only to the runtime's upload
folder (named by its SHA-256, like `/v1/verdict/upload`), and its path is what the message
event carries: the engine reads it when it takes the message in (MD5, SHA-256, PDQ; the
banks and confirmed media are matched) and, if a case opens, seals its bytes in the
encrypted evidence. Right after the verdict the clear copy is removed (`discard`). Anything
else (larger, another type, a download that fails) is sent as Discord's reference, never
fetched again.

Durability: a message the engine does not allow is answered only once the checkpoint that
writes its sealed evidence is on disk (`EmbeddedEngine.judge`), and only then does the clear
copy go; if the engine stops first, the copy stays for the restart, which takes the
journaled message in again from it.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import discord

from veilleur.service.uploads import safe_suffix, store_upload

log = logging.getLogger("veilleur.bot")

MEDIA_TYPES = ("image/", "video/")
DEFAULT_CAP = 8 * 1024 * 1024


async def fetch(attachments: Sequence[discord.Attachment], folder: Path, *,
                cap: int = DEFAULT_CAP, most: int = 10) -> dict[int, str]:
    """The attachments fetched into `folder`, by id: path. Skipped ones are not in it."""
    out: dict[int, str] = {}
    for a in attachments[:most]:
        why = skip_reason(a, cap)
        if why is None:
            try:
                data = await a.read()
            except discord.HTTPException as exc:
                why = f"download failed ({exc.status})"
            else:
                if len(data) > cap:
                    why = f"{len(data):,} bytes, over the cap"
                else:
                    path = await asyncio.to_thread(store_upload, io.BytesIO(data), folder,
                                                   safe_suffix(a.filename))
                    out[a.id] = str(path)
                    continue
        log.info("attachment %s sent as a reference: %s", a.id, why)
    return out


def skip_reason(a: discord.Attachment, cap: int) -> str | None:
    if not (a.content_type or "").startswith(MEDIA_TYPES):
        return f"not a picture or video ({a.content_type or 'no type'})"
    if a.size > cap:
        return f"{a.size:,} bytes, over the cap of {cap:,}"
    return None


def discard(paths: Iterable[str]) -> None:
    """The clear copies, once the engine has hashed them (and sealed them if a case
    opened)."""
    for p in paths:
        Path(p).unlink(missing_ok=True)
