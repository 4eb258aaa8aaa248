"""False alarms of a busy benign gaming server: 100,000 messages of ordinary talk built on the
hard-negative vocabulary ("CP" of a school year, "pack", "photo", "nitro", "teaser", "VIP"),
in random order (`tests.factories.benign_gaming_server`). Reports findings by target kind:
issue 17 measured 23,539 message findings there once the server's profile ran away.

    python bench/benign_server.py [--messages 100000] [--sentences 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.factories import GAMING_CHANNELS, GAMING_CHAT, benign_gaming_server  # noqa: E402

from veilleur.detect.base import DetectorSettings  # noqa: E402
from veilleur.engine import Engine  # noqa: E402
from veilleur.events import (  # noqa: E402
    Channel,
    ChannelCreated,
    Guild,
    GuildCreated,
    Message,
    MessagePosted,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--sentences", type=int, default=4,
                        help=f"how many of the {len(GAMING_CHAT)} sentences (4: the issue's)")
    parser.add_argument("--semantic", action="store_true")
    args = parser.parse_args()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    engine = Engine.build(DetectorSettings(semantic=args.semantic))
    engine.process(GuildCreated(ts=t0, guild=Guild(id="g", name="Les Gamers du Dimanche")))
    for name in GAMING_CHANNELS:
        engine.process(ChannelCreated(ts=t0, channel=Channel(id=name, guild_id="g", name=name)))
    start = time.perf_counter()
    for i, (channel, text) in enumerate(benign_gaming_server(args.messages,
                                                             sentences=args.sentences)):
        engine.process(MessagePosted(ts=t0, message=Message(
            id=f"m{i}", channel_id=channel, guild_id="g", author_id=f"u{i % 300}",
            content=text)))
    elapsed = time.perf_counter() - start
    kinds = Counter(f.target.kind.value for f in engine.findings())
    print(f"{args.messages} messages ({args.sentences} sentences) in {elapsed:.1f} s: "
          f"message findings {kinds['message']}, channel {kinds['channel']}, "
          f"server {kinds['guild']}")


if __name__ == "__main__":
    main()
