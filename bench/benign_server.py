"""False alarms of a busy benign gaming server: 100,000 messages of ordinary talk built on the
hard-negative vocabulary ("CP" of a school year, "pack", "photo", "nitro", "teaser", "VIP"),
in random order (`tests.factories.benign_gaming_server`). Reports findings by target kind:
issue 17 measured 23,539 message findings there once the server's profile ran away.

    python bench/benign_server.py [--messages 100000] [--sentences 4]
    python bench/benign_server.py --servers 40 --messages 1000

`--servers N`: N such servers, each its own random order (seeds 1 to N), each read by a
fresh engine: how many end with a channel or server finding (a young server's first "pack"
and "CP" are found before its talk shows the words are ordinary there).
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
    parser.add_argument("--servers", type=int, default=0,
                        help="read this many servers (seeds 1..N) instead of the issue's one")
    args = parser.parse_args()
    if args.servers:
        total: Counter[str] = Counter()
        found_in: Counter[str] = Counter()
        for seed in range(1, args.servers + 1):
            kinds = _read(args, seed)[1]
            total.update(kinds)
            found_in.update(k for k in kinds if k != "message")
        print(f"{args.servers} servers of {args.messages} messages ({args.sentences} "
              f"sentences): message findings {total['message']}, channel {total['channel']} "
              f"(in {found_in['channel']} servers), server {total['guild']}, account "
              f"{total['user']} (in {found_in['user']} servers)")
        return
    elapsed, kinds = _read(args, None)
    print(f"{args.messages} messages ({args.sentences} sentences) in {elapsed:.1f} s: "
          f"message findings {kinds['message']}, channel {kinds['channel']}, "
          f"server {kinds['guild']}")


def _read(args: argparse.Namespace, seed: int | None) -> tuple[float, Counter[str]]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    engine = Engine.build(DetectorSettings(semantic=args.semantic))
    engine.process(GuildCreated(ts=t0, guild=Guild(id="g", name="Les Gamers du Dimanche")))
    for name in GAMING_CHANNELS:
        engine.process(ChannelCreated(ts=t0, channel=Channel(id=name, guild_id="g", name=name)))
    start = time.perf_counter()
    chat = (benign_gaming_server(args.messages, sentences=args.sentences) if seed is None
            else benign_gaming_server(args.messages, seed=seed, sentences=args.sentences))
    for i, (channel, text) in enumerate(chat):
        engine.process(MessagePosted(ts=t0, message=Message(
            id=f"m{i}", channel_id=channel, guild_id="g", author_id=f"u{i % 300}",
            content=text)))
    elapsed = time.perf_counter() - start
    return elapsed, Counter(f.target.kind.value for f in engine.findings())


if __name__ == "__main__":
    main()
