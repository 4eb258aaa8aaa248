"""Attachments: every file fetched under a size cap, hashed by the engine, and not kept in
clear.

Any attachment Discord says is at most `cap` bytes is downloaded, whatever its declared type
or extension (a picture renamed `x.dat` is still a picture: the engine decodes a file by
its bytes' own signature, never by the name or type the sender gave). It goes through
discord.py's `Attachment.read` (its HTTP client), with a time limit (`timeout`) so that
one slow download cannot stall the bot's single intake task, and is written owner-only to
the runtime's upload folder (named by its SHA-256, like `/v1/verdict/upload`); its path is
what the message event carries: the engine reads it when it takes the message in (MD5,
SHA-256, PDQ; the banks and confirmed media are matched) and, if a case opens, seals its
bytes in the encrypted evidence. Right after the verdict the clear copy is removed
(`discard`). A larger file, or a download that fails or times out, is sent as Discord's
reference (the message is judged without its bytes, and the bot logs why); such a message
is never removed automatically (`execute.py`: every attachment needs its evidence first).

In client mode (`remote.py`) the folder is the bot's own (`<queue folder>/spool`, owner-only)
and the files go to the service with the message (`POST /v1/verdict/message`), which hashes
and seals them; the event the service sees names Discord's references, never these paths.

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

import aiohttp
import discord

from veilleur.service.uploads import safe_suffix, store_upload

log = logging.getLogger("veilleur.bot")

DEFAULT_CAP = 8 * 1024 * 1024
DEFAULT_TIMEOUT = 20.0
"""Seconds one download may take."""


async def fetch(attachments: Sequence[discord.Attachment], folder: Path, *,
                cap: int = DEFAULT_CAP, most: int = 10, timeout: float = DEFAULT_TIMEOUT,
                into: dict[int, str] | None = None) -> dict[int, str]:
    """The attachments fetched into `folder`, by id: path (also added to `into` as each is
    written, so that a caller's `finally` can remove them whatever happens). Skipped ones
    are not in it. Never raises for a download: a failure is logged and the attachment
    stays a reference."""
    out = {} if into is None else into
    for a in attachments[:most]:
        why = skip_reason(a, cap)
        if why is None:
            try:
                data = await asyncio.wait_for(a.read(), timeout)
            except discord.HTTPException as exc:
                why = f"download failed ({exc.status})"
            except TimeoutError:
                why = f"download took over {timeout:.0f} s"
            except (aiohttp.ClientError, OSError) as exc:
                why = f"download failed ({type(exc).__name__}: {exc})"[:300]
            else:
                if len(data) > cap:
                    why = f"{len(data):,} bytes, over the cap"
                else:
                    path = await asyncio.to_thread(store_upload, io.BytesIO(data), folder,
                                                   safe_suffix(a.filename))
                    out[a.id] = str(path)
                    continue
            log.warning("attachment %s sent as a reference, unhashed: %s", a.id, why)
            continue
        log.info("attachment %s sent as a reference: %s", a.id, why)
    return out


def skip_reason(a: discord.Attachment, cap: int) -> str | None:
    """Why an attachment is not fetched: only its size (its declared type is the
    sender's, not a fact)."""
    if a.size > cap:
        return f"{a.size:,} bytes, over the cap of {cap:,}"
    return None


def discard(paths: Iterable[str]) -> None:
    """The clear copies, once the engine has hashed them (and sealed them if a case
    opened)."""
    for p in paths:
        Path(p).unlink(missing_ok=True)
