"""Write synthetic DiscordChatExporter exports of any size, streamed (never held in memory).

Text is synthetic and non-graphic: ordinary chat, with about 1 % of messages drawn from the
solicitation and coercion vocabulary the starter lexicon knows, so the detectors do real work.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENIGN = [
    "salut tout le monde", "quelqu'un pour une partie ce soir ?", "gg bien joué",
    "je reviens dans 5 minutes", "le nouveau patch est sorti", "anyone up for a match?",
    "check the pinned message for the rules", "¿alguien juega esta noche?", "mdr trop drôle",
    "mon fils est en CP cette année", "superbe saphir à la bourse aux minéraux",
    "le texture pack est sur mega.nz", "ne partagez jamais de nudes, vous êtes mineurs, signalez",
    "bonne nuit à tous", "qui a vu le dernier épisode ?", "I'll stream at 9pm",
]
FLAGGED = [
    "Pack VIP -12 ans, prix paypal", "garde ça secret, envoie-moi une photo",
    "je vais envoyer à tes parents tes photos", "un nitro contre une nude", "trib ma cousine",
    "caldo de pollo dispo en dm",
]


def write_export(path: Path, n_messages: int, *, channel_id: int, seed: int,
                 flagged_share: float = 0.01) -> None:
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    header = {
        "guild": {"id": "950000000000000001", "name": "Bench server", "iconUrl": ""},
        "channel": {"id": str(channel_id), "type": "GuildTextChat",
                    "categoryId": "950000000000000001", "category": "Text Channels",
                    "name": f"general-{channel_id}", "topic": None},
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2026-02-01T00:00:00+00:00",
    }
    authors = [{"id": str(960000000000000000 + i), "name": f"user{i}", "discriminator": "0000",
                "nickname": f"User {i}", "color": None, "isBot": False, "roles": [],
                "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png"}
               for i in range(500)]
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "messages": [\n')
        for i in range(n_messages):
            flagged = rng.random() < flagged_share
            content = rng.choice(FLAGGED if flagged else BENIGN)
            msg = {
                "id": str(channel_id * 10_000_000 + i), "type": "Default",
                "timestamp": (t0 + timedelta(seconds=7 * i)).isoformat(),
                "timestampEdited": None, "callEndedTimestamp": None, "isPinned": False,
                "content": content, "author": rng.choice(authors), "attachments": [],
                "embeds": [], "stickers": [], "reactions": [], "mentions": [],
                "inlineEmojis": [],
            }
            f.write(("," if i else "") + json.dumps(msg, ensure_ascii=False) + "\n")
        f.write(f'], "messageCount": {n_messages}}}\n')


def generate(folder: Path, messages: int, files: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    per_file, extra = divmod(messages, files)
    paths = []
    for k in range(files):
        channel_id = 970000000000000000 + k
        path = folder / f"Bench server - Text Channels - general-{k} [{channel_id}].json"
        write_export(path, per_file + (1 if k < extra else 0), channel_id=channel_id, seed=k)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=1)
    args = parser.parse_args()
    for path in generate(args.folder, args.messages, args.files):
        print(f"{path} {path.stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
