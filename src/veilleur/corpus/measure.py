"""The engine measured on the corpus: each family's messages read alone, and ordinary chat at scale.

Two measurements, both through the real engine (every detector, the policy, the event format):
- `measure_families`: every message of every family with `alone = true`, each in a place of
  its own (a direct message, or a fresh server's #general), so no context helps or hurts;
  scored per category like labelled exports, with the misses kept per family.
- `false_alarms`: ordinary chat (category-none families) laid out as real servers would hold
  it — a few large servers per language, topical channels, hundreds of members, direct messages
  between peers — in random order, counting message, channel, server and account findings.
  This is where runaway context shows: a server whose ordinary words start to look suspect.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from veilleur.corpus.families import Family, expand, fill
from veilleur.detect.base import DetectorSettings
from veilleur.engine import Engine
from veilleur.evaluate import EvalResult, Labels, score_findings
from veilleur.ingest.eventlog import parse_event
from veilleur.ingest.media import MediaReader
from veilleur.taxonomy import Category, TargetKind

_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
Transform = Callable[[str, random.Random], str]


@dataclass
class FamilyResult:
    """The engine on one group of families (tuned-on, unseen ...)."""

    result: EvalResult
    messages: int
    families: int
    missed_by_family: Counter[str] = field(default_factory=Counter)
    flagged_by_family: Counter[str] = field(default_factory=Counter)
    """For `none` families: how many of their messages were flagged (false alarms)."""
    sizes: Counter[str] = field(default_factory=Counter)


def _ts(i: int) -> str:
    return (_START + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Events:
    """Builds events of the public format and runs them through one engine."""

    def __init__(self, settings: DetectorSettings | None) -> None:
        self.engine = Engine.build(settings or DetectorSettings())
        self.media = MediaReader()
        self.n = 0

    def send(self, raw: dict[str, Any]) -> None:
        raw["ts"] = _ts(self.n)
        self.n += 1
        self.engine.process(parse_event(raw, Path("."), self.media, "corpus"))

    def guild(self, gid: str, name: str, owner: str) -> None:
        self.send({"type": "guild_created", "guild": {"id": gid, "name": name,
                                                      "owner_id": owner}})

    def channel(self, cid: str, gid: str, name: str) -> None:
        self.send({"type": "channel_created", "channel": {"id": cid, "guild_id": gid,
                                                          "name": name, "kind": "text"}})

    def message(self, mid: str, cid: str, gid: str | None, author: str, text: str,
                recipient: str | None = None) -> None:
        msg: dict[str, Any] = {"id": mid, "channel_id": cid, "author_id": author,
                               "content": text}
        if gid is not None:
            msg["guild_id"] = gid
        elif recipient is not None:
            msg["recipient_ids"] = [recipient]
        self.send({"type": "message", "message": msg})


_GENERAL = {"fr": "général", "en": "general", "es": "general", "mixed": "general"}


def measure_families(families: Sequence[Family], *, per_family: int = 30, seed: int = 0,
                     settings: DetectorSettings | None = None,
                     transform: Transform | None = None) -> FamilyResult:
    """Every message of the families read alone; scored per category at message level."""
    run = _Events(settings)
    positives: set[tuple[TargetKind, str, Category]] = set()
    negatives: set[tuple[TargetKind, str]] = set()
    family_of: dict[str, Family] = {}
    texts: dict[tuple[TargetKind, str], str] = {}
    rng = random.Random(seed)
    used = [f for f in families if f.alone]
    for family in used:
        for j, text in enumerate(expand(family, per_family, seed)):
            if transform is not None:
                text = transform(text, rng)
            i = len(family_of)
            mid, cid = f"m{i}", f"c{i}"
            in_dm = family.where == "dm" or (family.where == "any" and j % 2 == 0)
            if in_dm:
                run.message(mid, cid, None, f"a{i}", text, recipient=f"r{i}")
            else:
                gid = f"g{i}"
                run.guild(gid, "Serveur" if family.lang == "fr" else "Server", f"o{i}")
                run.channel(cid, gid, _GENERAL[family.lang])
                run.message(mid, cid, gid, f"a{i}", text)
            family_of[mid] = family
            texts[(TargetKind.MESSAGE, mid)] = text
            if family.category is None:
                negatives.add((TargetKind.MESSAGE, mid))
            else:
                positives.add((TargetKind.MESSAGE, mid, family.category))
    run.engine.close()
    # Only messages are scored here: the places exist only to hold them.
    findings = [f for f in run.engine.findings() if f.target.kind is TargetKind.MESSAGE]
    result = score_findings(findings, Labels(frozenset(positives), frozenset(negatives)),
                            texts=texts)
    out = FamilyResult(result, messages=len(family_of), families=len(used))
    flagged = {f.target.id for f in findings}
    found = {(f.target.id, f.category) for f in findings}
    for mid, family in family_of.items():
        out.sizes[family.key] += 1
        if family.category is None:
            if mid in flagged:
                out.flagged_by_family[family.key] += 1
        elif (mid, family.category) not in found:
            out.missed_by_family[family.key] += 1
    return out


def draw(family: Family, rng: random.Random) -> str:
    """One message of a family, drawn at random (repeats allowed: for volume)."""
    template = rng.choice(family.templates)
    values = {name: rng.choice(options) for name, options in family.slots.items()}
    return fill(template, values)


@dataclass
class FalseAlarms:
    messages: int
    findings: Counter[TargetKind]
    by_family: Counter[str]
    examples: list[tuple[str, str, str]]
    """(family, category, text) of some flagged messages, to study."""

    def per_million(self, kind: TargetKind = TargetKind.MESSAGE) -> float:
        return self.findings[kind] * 1_000_000 / max(1, self.messages)


_CHANNELS = {
    "fr": ["général", "boutique", "recherche-team", "devoirs", "clips", "annonces", "memes",
           "sport", "cuisine", "aide"],
    "en": ["general", "shop", "lfg", "homework", "clips", "announcements", "memes", "sports",
           "food", "help"],
    "es": ["general", "tienda", "buscar-equipo", "tareas", "clips", "anuncios", "memes",
           "deportes", "cocina", "ayuda"],
}
_SERVERS = {"fr": ["Les Potes", "Team Nova", "Classe de 4e B", "Marché Pixel"],
            "en": ["The Squad", "Nova Gaming", "Study Hall", "Pixel Market"],
            "es": ["Los Panas", "Equipo Nova", "Clase 2B", "Mercado Pixel"]}


def false_alarms(families: Sequence[Family], messages: int, *, seed: int = 0,
                 settings: DetectorSettings | None = None, dm_share: float = 0.2,
                 members: int = 400) -> FalseAlarms:
    """Ordinary chat from `none` families, in servers and DMs, and what the engine flags."""
    pool = [f for f in families if f.category is None]
    if not pool:
        raise ValueError("no category-none family to draw ordinary chat from")
    rng = random.Random(seed)
    run = _Events(settings)
    by_lang: dict[str, list[Family]] = {}
    for fam in pool:
        by_lang.setdefault(fam.lang if fam.lang in _CHANNELS else "en", []).append(fam)
    places: dict[str, list[tuple[str, str]]] = {}
    for lang in by_lang:
        places[lang] = []
        for g, name in enumerate(_SERVERS[lang]):
            gid = f"{lang}-g{g}"
            run.guild(gid, name, f"{gid}-u0")
            for c, cname in enumerate(_CHANNELS[lang]):
                cid = f"{gid}-c{c}"
                run.channel(cid, gid, cname)
                places[lang].append((gid, cid))
    family_of: dict[str, Family] = {}
    texts: dict[str, str] = {}
    langs = sorted(by_lang)
    for i in range(messages):
        lang = langs[i % len(langs)]
        family = rng.choice(by_lang[lang])
        text = draw(family, rng)
        mid = f"m{i}"
        if family.where == "dm" or (family.where == "any" and rng.random() < dm_share):
            a, b = rng.randrange(members), rng.randrange(members)
            pair = f"{min(a, b)}-{max(a, b)}"
            run.message(mid, f"dm-{lang}-{pair}", None, f"{lang}-u{a}", text,
                        recipient=f"{lang}-u{b}")
        else:
            gid, cid = rng.choice(places[lang])
            run.message(mid, cid, gid, f"{gid}-u{rng.randrange(members)}", text)
        family_of[mid] = family
        texts[mid] = text
    run.engine.close()
    found = run.engine.findings()
    counts: Counter[TargetKind] = Counter(f.target.kind for f in found)
    by_family: Counter[str] = Counter()
    examples: list[tuple[str, str, str]] = []
    for f in found:
        if f.target.kind is TargetKind.MESSAGE and f.target.id in family_of:
            key = family_of[f.target.id].key
            by_family[key] += 1
            if len(examples) < 50:
                examples.append((key, f.category.value, texts[f.target.id]))
    return FalseAlarms(messages, counts, by_family, examples)


def iter_groups(families: Sequence[Family], split_of: Callable[[Family], str],
                held_out: frozenset[str] = frozenset()) -> Iterator[tuple[str, list[Family]]]:
    """The families tuned on (train and tune splits); the unseen families of the writers
    tuned on; the families of writers never tuned on (the strictest: another voice)."""
    yield "tuned-on families", [f for f in families if split_of(f) != "test"]
    yield "unseen families", [f for f in families
                              if split_of(f) == "test" and f.writer not in held_out]
    yield "unseen writers", [f for f in families if f.writer in held_out]
