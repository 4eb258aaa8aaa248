"""Conversation scoring throughput: the `conversation.risk` detector alone, on one core.

Synthetic direct messages between 100,000 accounts (a third with an age band the platform
knows): ordinary chat in fr/en/es, ages stated now and then, and 1 % of conversations that
go through grooming or sextortion stages (a tenth of DM traffic: they are long). Server
messages are mixed in (the detector reads them only for stated ages). Prints messages per
second for DMs and for server messages, the cost of one conversation update (p50, p99, max),
the share of messages read by meaning (embedded: a child in the conversation, a speaker who is
not one, and the learned tier's prefilter), the accounts flagged (and how many of them are the
planted groomers), and peak memory (the generated events included).

    python bench/conversation.py [--messages 1000000] [--accounts 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from veilleur.detect.base import DetectorSettings  # noqa: E402
from veilleur.detect.conversation.detector import ConversationDetector  # noqa: E402
from veilleur.events import AgeBand, Message, MessagePosted, User, UserSeen  # noqa: E402
from veilleur.state import Directory, MemoryState  # noqa: E402

CHAT = ["salut ça va ?", "t'as fini les devoirs ?", "gg pour hier", "on joue ce soir ?",
        "mdr", "ok à demain", "je reviens dans 5 min", "anyone up for a match?",
        "lol same", "tengo que irme", "jajaja", "j'ai eu 15/20 en maths", "bien joué",
        "tu viens au match samedi ?", "regarde ce clip", "bonne nuit", "see you at 8",
        "j'ai 14 ans et toi", "I'm 13", "en 4ème", "moi 15"]
GROOMING = ["tu as quel âge ?", "tu es trop mature pour ton âge", "garde ça secret",
            "tes parents sont là ?", "tu portes quoi ?", "envoie moi une photo juste pour moi",
            "on se voit samedi ?", "je t'offre un nitro contre une nude",
            "si tu bloques j'envoie tout à tes parents", "je sais où tu habites"]
BANDS = [AgeBand.UNDER_13, AgeBand.AGE_13_15, AgeBand.AGE_16_17, AgeBand.ADULT]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--server-share", type=float, default=0.5,
                    help="share of messages posted in servers rather than DMs")
    args = ap.parse_args()
    rng = random.Random(7)
    detector = ConversationDetector.from_settings(DetectorSettings())
    directory = Directory(MemoryState())
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    for i in range(args.accounts):
        band = rng.choice(BANDS) if i % 3 == 0 else None
        user = User(f"u{i}", f"user{i}", age_band=band)
        directory.apply(UserSeen(ts=t0, user=user))
        detector.detect(UserSeen(ts=t0, user=user), directory)
    pairs = args.accounts // 2
    risky_list = rng.sample(range(pairs), pairs // 100)
    risky = set(risky_list)
    events = []
    for n in range(args.messages):
        ts = t0 + timedelta(seconds=n)
        if rng.random() < args.server_share:
            author = f"u{rng.randrange(args.accounts)}"
            events.append(MessagePosted(ts=ts, message=Message(
                f"s{n}", f"c{rng.randrange(10_000)}", f"g{rng.randrange(10_000)}", author,
                rng.choice(CHAT))))
            continue
        # Conversations at risk are long ones (a tenth of DM traffic): grooming takes time.
        pair = rng.choice(risky_list) if rng.random() < 0.1 else rng.randrange(pairs)
        a, b = f"u{2 * pair}", f"u{2 * pair + 1}"
        author, other = (a, b) if rng.random() < 0.5 else (b, a)
        text = rng.choice(GROOMING if pair in risky and author == a and rng.random() < 0.4
                          else CHAT)
        events.append(MessagePosted(ts=ts, message=Message(
            f"d{n}", f"dm{pair}", None, author, text, recipient_ids=(other,))))
    dm = [e for e in events if e.message.guild_id is None]
    server = [e for e in events if e.message.guild_id is not None]
    signals = 0
    accounts: set[str] = set()
    costs = []
    start = time.perf_counter()
    for e in dm:
        t = time.perf_counter()
        found = detector.detect(e, directory)
        costs.append(time.perf_counter() - t)
        for sig in found:
            signals += 1
            if sig.target.kind.value == "user" and sig.strength >= 0.7:
                accounts.add(sig.target.id)
    dm_s = time.perf_counter() - start
    costs.sort()
    start = time.perf_counter()
    for e in server:
        signals += len(list(detector.detect(e, directory)))
    server_s = time.perf_counter() - start
    groomers = {f"u{2 * p}" for p in risky}
    result = {
        "dm_messages": len(dm), "dm_msgs_per_s": round(len(dm) / dm_s),
        "update_us_p50": round(costs[len(costs) // 2] * 1e6, 1),
        "update_us_p99": round(costs[int(len(costs) * 0.99)] * 1e6, 1),
        "update_ms_max": round(costs[-1] * 1e3, 1),
        "read_by_meaning": detector.meaning.read if detector.meaning else 0,
        "embedded": detector.meaning.embedded if detector.meaning else 0,
        "share_of_dm_read": round((detector.meaning.read if detector.meaning else 0)
                                  / max(1, len(dm)), 4),
        "share_of_all_read": round((detector.meaning.read if detector.meaning else 0)
                                   / max(1, len(events)), 4),
        "server_messages": len(server), "server_msgs_per_s": round(len(server) / server_s),
        "signals": signals, "risky_conversations": len(risky),
        "accounts_flagged": len(accounts), "of_them_groomers": len(accounts & groomers),
        "groomers_found": f"{len(accounts & groomers)}/{len(groomers)}",
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result, indent=1))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "conversation.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
