"""Graph updates and network detection on a synthetic platform: 100,000 accounts, 10,000
servers, on one core.

Builds the platform through the `network.links` detector (servers, invites, joins, messages
with files and invite links), then removes 50 servers that trade abuse material (their
members regroup in successors announced by invite, re-posting their files) and suspends 200
accounts (50 come back under near-identical names and re-post their files). Prints events per
second for graph updates, the time to find successors and returning accounts when a label
arrives, what was found against what was planted, edges and peak memory.

    python bench/network.py [--accounts 100000] [--servers 10000] [--joins 1000000]
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
from veilleur.detect.network.detector import NetworkDetector  # noqa: E402
from veilleur.events import (  # noqa: E402
    Attachment,
    Guild,
    GuildCreated,
    InviteCreated,
    MemberJoined,
    Message,
    MessagePosted,
    User,
    UserSeen,
)
from veilleur.state import Directory, MemoryState  # noqa: E402
from veilleur.taxonomy import Target  # noqa: E402

WORDS = ["club", "gaming", "amis", "study", "music", "art", "memes", "anime", "foot", "chill",
         "photo", "code", "books", "cinema", "cooking", "travel"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--servers", type=int, default=10_000)
    ap.add_argument("--joins", type=int, default=1_000_000)
    ap.add_argument("--posts", type=int, default=300_000)
    args = ap.parse_args()
    rng = random.Random(11)
    d = NetworkDetector.from_settings(DetectorSettings())
    directory = Directory(MemoryState())
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    events: list = []  # type: ignore[type-arg]
    for i in range(args.accounts):
        events.append(UserSeen(ts=t0, user=User(f"u{i}", f"{rng.choice(WORDS)}{i}")))
    for s in range(args.servers):
        events.append(GuildCreated(ts=t0, guild=Guild(
            f"g{s}", f"{rng.choice(WORDS)} {rng.choice(WORDS)} {s}",
            f"u{rng.randrange(args.accounts)}")))
        events.append(InviteCreated(ts=t0, code=f"inv{s}", guild_id=f"g{s}",
                                    inviter_id=f"u{rng.randrange(args.accounts)}"))
    bad = rng.sample(range(args.servers), 50)
    for n in range(args.joins):
        ts = t0 + timedelta(seconds=n)
        events.append(MemberJoined(ts=ts, guild_id=f"g{rng.randrange(args.servers)}",
                                   user_id=f"u{rng.randrange(args.accounts)}"))
    for n in range(args.posts):
        ts = t0 + timedelta(seconds=args.joins + n)
        gid = rng.randrange(args.servers)
        files = (Attachment(f"a{n}", sha256=f"{n:064x}"),) if rng.random() < 0.3 else ()
        events.append(MessagePosted(ts=ts, message=Message(
            f"m{n}", f"c{gid}", f"g{gid}", f"u{rng.randrange(args.accounts)}", "salut",
            attachments=files)))
    start = time.perf_counter()
    for e in events:
        directory.apply(e)
        d.detect(e, directory)
    build_s = time.perf_counter() - start
    # The planted networks: each bad server announces a successor, regroups, re-posts.
    later = t0 + timedelta(days=20)
    plant: list = []  # type: ignore[type-arg]
    for k, b in enumerate(bad):
        members = list(d.graph.guild(f"g{b}").members)
        plant.append(MessagePosted(ts=later, message=Message(
            f"ann{k}", f"c{b}", f"g{b}", members[0] if members else "u0",
            f"si ça ferme on se replie ici : discord.gg/succ{k}",
            attachments=(Attachment(f"bad{k}", sha256=f"{10**9 + k:064x}"),))))
    for e in plant:
        directory.apply(e)
        d.detect(e, directory)
    start = time.perf_counter()
    found: set[str] = set()
    for b in bad:
        d.on_label(Target.of("guild", f"g{b}"), "removed:csam", later + timedelta(hours=1))
    regroup: list = []  # type: ignore[type-arg]
    for k, b in enumerate(bad):
        ts = later + timedelta(hours=2)
        regroup += [GuildCreated(ts=ts, guild=Guild(f"succ{k}", f"backup {k}", "u1")),
                    InviteCreated(ts=ts, code=f"succ{k}", guild_id=f"succ{k}",
                                  inviter_id="u1")]
        for m in list(d.graph.guild(f"g{b}").members)[:15]:
            regroup.append(MemberJoined(ts=ts + timedelta(minutes=5), guild_id=f"succ{k}",
                                        user_id=m))
    for e in regroup:
        directory.apply(e)
        for s in d.detect(e, directory):
            if s.target.kind.value == "guild" and s.strength >= 0.7:
                found.add(s.target.id)
    # Suspended accounts; a quarter come back: near-identical name, created the next day,
    # the same servers in the same order, the same file.
    offenders = rng.sample(range(args.accounts), 200)
    for o in offenders:
        d.on_label(Target.of("user", f"u{o}"), "csam_confirmed", later + timedelta(hours=3))
    back: list = []  # type: ignore[type-arg]
    for k, o in enumerate(offenders[:50]):
        old = d.graph.user(f"u{o}")
        ts = later + timedelta(days=1)
        back.append(UserSeen(ts=ts, user=User(f"new{k}", f"{old.name}x", created_at=ts)))
        for j, (gid, _) in enumerate(old.joins[:4]):
            back.append(MemberJoined(ts=ts + timedelta(minutes=j + 1), guild_id=gid,
                                     user_id=f"new{k}"))
        file = next(iter(sorted(old.media)), None)
        if file:
            back.append(MessagePosted(ts=ts + timedelta(minutes=10), message=Message(
                f"re{k}", "c0", "g0", f"new{k}", "re", attachments=(Attachment(
                    f"rea{k}", sha256=file),))))
    linked: set[str] = set()
    for e in back:
        directory.apply(e)
        for sig in d.detect(e, directory):
            if sig.target.kind.value == "user" and sig.strength >= 0.7:
                linked.add(sig.target.id)
    label_s = time.perf_counter() - start
    returning = {f"new{k}" for k in range(50)}
    planted = {f"succ{k}" for k in range(len(bad))}
    result = {
        "accounts": args.accounts, "servers": args.servers, "events": len(events),
        "graph_events_per_s": round(len(events) / build_s), "edges": d.graph.edges,
        "successors_found": f"{len(found & planted)}/{len(planted)}",
        "other_servers_flagged": len(found - planted),
        "returning_found": f"{len(linked & returning)}/{len(returning)}",
        "other_accounts_flagged": len(linked - returning),
        "labels_regrouping_and_returns_s": round(label_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result, indent=1))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "network.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
