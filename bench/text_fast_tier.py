"""Fast-tier text throughput and latency: fold + match + patterns + links + rules, no semantic
layer, through the batch API, on one core.

Traffic is synthetic and realistic in shape: mostly ordinary chat in fr/en/es (with digits,
accents, emoji and links now and then), ~1 % drawn from the labelled set's positives.

    python bench/text_fast_tier.py [--messages 200000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from veilleur.detect.base import POLICY_DIR  # noqa: E402
from veilleur.detect.text.analyzer import TextAnalyzer  # noqa: E402
from veilleur.taxonomy import TargetKind  # noqa: E402

CHAT = [
    "salut tout le monde", "quelqu'un pour une partie ce soir ?", "gg bien joué 😂",
    "je reviens dans 5 minutes", "le nouveau patch 2.4 est sorti", "anyone up for a match?",
    "check the pinned message for the rules", "¿alguien juega esta noche?", "mdr trop drôle",
    "bonne nuit à tous 🌙", "qui a vu le dernier épisode ?", "I'll stream at 9pm",
    "https://www.youtube.com/watch?v=abc123 regardez ça", "on se retrouve à 18h au parc",
    "j'ai acheté le jeu à 59,99€ en promo", "meet at the lobby in 10", "jajaja qué bueno",
    "le boss du niveau 12 est trop dur", "my internet is lagging again", "ça marche, merci !",
    "Est-ce que quelqu'un a le lien du tournoi ? discord.gg/tournoi2026",
    "j'ai eu 15/20 en maths 🎉", "the new skins look great", "tengo que irme, hasta luego",
]


def positives() -> list[str]:
    corpus = tomllib.loads((ROOT / "tests/data/labelled/corpus.toml").read_text())
    out = []
    for server in corpus["server"]:
        for channel in server["channel"]:
            for line in channel["messages"]:
                labels, _, text = line.partition("|")
                if labels.strip() != "-":
                    out.append(text.strip())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(7)
    bad = positives()
    traffic = [rng.choice(bad) if rng.random() < 0.01 else rng.choice(CHAT)
               for _ in range(args.messages)]
    analyzer = TextAnalyzer.load(POLICY_DIR)
    analyzer.analyze_batch(traffic[:2000])  # warm caches

    start = time.perf_counter()
    fired = 0
    for i in range(0, len(traffic), args.batch):
        for analysis in analyzer.analyze_batch(traffic[i:i + args.batch]):
            fired += bool(analyzer.rules(analysis, TargetKind.MESSAGE))
    elapsed = time.perf_counter() - start

    latencies = []
    for text in traffic[:20_000]:
        t0 = time.perf_counter_ns()
        analyzer.rules(analyzer.analyze(text), TargetKind.MESSAGE)
        latencies.append((time.perf_counter_ns() - t0) / 1e6)
    latencies.sort()
    result = {
        "messages": len(traffic), "seconds": round(elapsed, 3),
        "messages_per_s": round(len(traffic) / elapsed),
        "p50_ms": round(statistics.median(latencies), 4),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 4),
        "max_ms": round(latencies[-1], 4), "messages_with_a_rule": fired,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
