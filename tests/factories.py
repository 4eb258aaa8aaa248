"""Synthetic DiscordChatExporter documents and generated images for tests.

Text is short, synthetic and non-graphic; images are gradients. Nothing here is real.
"""

from __future__ import annotations

import json
import struct
import zlib
from itertools import count
from pathlib import Path
from typing import Any

_ids = count(1_000_000_000_000_000_000 // 10**3)


def snowflake() -> str:
    return str(next(_ids))


def author(user_id: str = "111111111111111111", name: str = "alice", **extra: Any
           ) -> dict[str, Any]:
    return {"id": user_id, "name": name, "discriminator": "0000", "nickname": name,
            "color": None, "isBot": False, "roles": [],
            "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png", **extra}


def message(content: str, *, id: str | None = None, ts: str = "2026-03-01T12:00:00.000+01:00",
            user: dict[str, Any] | None = None, attachments: list[dict[str, Any]] | None = None,
            **extra: Any) -> dict[str, Any]:
    return {
        "id": id or snowflake(), "type": "Default", "timestamp": ts, "timestampEdited": None,
        "callEndedTimestamp": None, "isPinned": False, "content": content,
        "author": user or author(), "attachments": attachments or [], "embeds": [],
        "stickers": [], "reactions": [], "mentions": [], "inlineEmojis": [], **extra,
    }


def attachment(url: str, *, id: str | None = None, name: str = "image.png", size: int = 0
               ) -> dict[str, Any]:
    return {"id": id or snowflake(), "url": url, "fileName": name, "fileSizeBytes": size}


def export(messages: list[dict[str, Any]], *, guild_id: str = "900000000000000001",
           guild_name: str = "Test server", channel_id: str = "900000000000000002",
           channel_name: str = "general", channel_type: str = "GuildTextChat",
           topic: str | None = None, category: str | None = "Text Channels") -> dict[str, Any]:
    return {
        "guild": {"id": guild_id, "name": guild_name,
                  "iconUrl": "https://cdn.discordapp.com/embed/avatars/0.png"},
        "channel": {"id": channel_id, "type": channel_type, "categoryId": guild_id,
                    "category": category, "name": channel_name, "topic": topic},
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2026-03-02T09:00:00.000+00:00",
        "messages": messages,
        "messageCount": len(messages),
    }


def dm_export(messages: list[dict[str, Any]], *, channel_id: str = "900000000000000009",
              name: str = "bob") -> dict[str, Any]:
    doc = export(messages, guild_id="0", guild_name="Direct Messages", channel_id=channel_id,
                 channel_name=name, channel_type="DirectTextChat", category="Private")
    doc["channel"]["categoryId"] = "0"
    return doc


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def gradient_png(width: int = 32, height: int = 32, seed: int = 0) -> bytes:
    """A small RGB gradient PNG, different for each seed."""
    rows = b"".join(
        b"\x00" + bytes(
            v for x in range(width)
            for v in ((x * 8 + seed) % 256, (y * 8 + 3 * seed) % 256, (x + y + 7 * seed) % 256)
        )
        for y in range(height)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


# A busy gaming server's ordinary talk, built on the hard-negative vocabulary ("CP" for a
# school year, "pack", "photo", "nitro", "teaser", "VIP", "drop", "collection"). The first four
# sentences are those of issue 17; the rest are ours. Each message is one or two of them in
# random order, as people chain them; a profile that turned on such words would drown a
# reviewer queue in findings.
GAMING_CHAT = (
    "le pack de skins est dispo", "mon petit frère est en CP", "envoie une photo de ton setup",
    "qui veut un code nitro", "ma sœur passe en CP à la rentrée, elle est trop contente",
    "le teaser de la saison 3 est sorti", "grade VIP pour les boosters du serveur",
    "drop de coffres ce soir à 21h", "ma collection de cartes est complète",
    "je vends mon compte, prix à débattre", "le pack de textures HD est sur le site",
    "photo de groupe après le tournoi", "quelqu'un a le nouveau pack de maps ?",
    "le CP de mon cousin fait une sortie au zoo", "GG à toute l'équipe",
    "the new skin pack drops friday", "anyone got a nitro code to trade?",
    "my little brother just started first grade", "post a pic of your setup",
    "VIP role for the tournament winners", "teaser trailer looks sick",
    "el pack de skins está disponible", "mi hermano pequeño empieza primaria",
    "manda una foto de tu setup", "¿quién quiere un código nitro?",
    "on lance une partie ?", "j'ai enfin fini le donjon", "lag de fou ce soir",
    "qui est chaud pour la ranked", "le patch casse tout mdr",
)
GAMING_CHANNELS = ("general", "boutique", "clips", "ranked", "off-topic")


def benign_gaming_server(messages: int, seed: int = 17, sentences: int = len(GAMING_CHAT)
                         ) -> list[tuple[str, str]]:
    """(channel name, text) pairs of an ordinary gaming server, deterministic per seed.
    `sentences`: how many of GAMING_CHAT it talks with (4: the issue's own server, where
    "CP" and "pack" meet in one message in six)."""
    import random

    rng = random.Random(seed)
    chat = GAMING_CHAT[:sentences]
    out = []
    for _ in range(messages):
        parts = rng.sample(chat, rng.choice((1, 2, 2)))
        out.append((rng.choice(GAMING_CHANNELS), rng.choice((", ", " ", " — ")).join(parts)))
    return out
