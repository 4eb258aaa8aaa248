"""The document preserved for a target: the target and the context a court or NCMEC needs.

A message comes with the messages before it in its channel, its author, channel and server; a
server with its channels, member count and recent messages; an account with its recent
messages. Attachments carry their hashes and, when the file is at hand and not too large, its
bytes (base64). Built from what casework already holds; the only I/O is `read_file`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from veilleur.cases.config import CasePolicy
from veilleur.cases.content import ContentView, MessageRecord
from veilleur.cases.models import iso
from veilleur.confine import read_regular_file
from veilleur.serialize import to_plain
from veilleur.taxonomy import Target, TargetKind

FileReader = Callable[[str, int], bytes | None]


def read_local_file(path: str, limit: int) -> bytes | None:
    """A file this engine recorded (its path was confined when it was hashed): no last link
    followed, no FIFO waited on, nothing over `limit` read."""
    return read_regular_file(Path(path), limit)


def _message(m: MessageRecord) -> dict[str, Any]:
    return {"id": m.id, "ts": iso(m.ts), "channel_id": m.channel_id, "guild_id": m.guild_id,
            "author_id": m.author_id, "content": m.content, "attachments": list(m.attachments),
            "recipient_ids": list(m.recipients), "deleted_at": iso(m.deleted_at),
            "deleted_by": m.deleted_by}


def evidence_document(target: Target, content: ContentView, policy: CasePolicy, *,
                      case_id: str, at: datetime, read_file: FileReader = read_local_file
                      ) -> dict[str, Any]:
    d = content.directory
    messages: list[MessageRecord] = []
    doc: dict[str, Any] = {"target": target.to_json(), "case_id": case_id,
                           "preserved_at": iso(at)}
    msg = content.message_of(target)
    guild_id = content.guild_of(target)
    if msg is not None:
        messages = [*content.recent_in_channel(msg.channel_id, policy.context_messages,
                                               before=msg.id), msg]
        doc["channel"] = to_plain(d.channel(msg.channel_id))
        doc["author"] = to_plain(d.user(msg.author_id)) or {"id": msg.author_id}
    elif target.kind is TargetKind.CHANNEL:
        messages = content.recent_in_channel(target.id, policy.guild_messages)
        doc["channel"] = to_plain(d.channel(target.id))
    elif target.kind is TargetKind.GUILD:
        messages = content.recent_in_guild(target.id, policy.guild_messages)
        doc["channels"] = [to_plain(d.channel(c))
                           for c in content.channels_of(target.id)]
    elif target.kind is TargetKind.USER:
        messages = content.recent_by_user(target.id, policy.user_messages)
        doc["user"] = to_plain(d.user(target.id)) or {"id": target.id}
    elif target.kind is TargetKind.INVITE:
        doc["invite"] = {"code": target.id, "guild_id": guild_id}
    if guild_id is not None:
        doc["guild"] = to_plain(d.guild(guild_id)) or {"id": guild_id}
        doc["guild_members"] = content.member_count(guild_id)
    doc["known"] = bool(messages) or any(k in doc and doc[k] for k in
                                         ("channel", "user", "guild", "author"))
    doc["messages"] = [_message(m) for m in messages]
    attachments = []
    for m in messages:
        for aid in m.attachments:
            a = content.attachment(aid)
            if a is None:
                continue
            item: dict[str, Any] = {"id": a.id, "message_id": a.message_id,
                                    "filename": a.filename, "md5": a.md5, "sha256": a.sha256,
                                    "pdq": a.pdq, "size": a.size}
            # Only the target's own files are copied in full; context keeps hashes.
            own = msg is not None and a.message_id == msg.id
            if own and a.path:
                raw = read_file(a.path, policy.max_attachment_bytes)
                if raw is not None and hashlib.sha256(raw).hexdigest() != a.sha256:
                    # Only the bytes that were hashed as this attachment are evidence of it:
                    # a file changed (or swapped) since then is not preserved in its name.
                    raw = None
                    item["bytes_error"] = "the file no longer has the digest recorded for " \
                                          "this attachment; not preserved"
                item["bytes_b64"] = base64.b64encode(raw).decode() if raw is not None else None
            attachments.append(item)
    doc["attachments"] = attachments
    return doc
