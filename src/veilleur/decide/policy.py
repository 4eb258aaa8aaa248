"""Signals to findings.

Each distinct observation (detector, key) counts once, at its strongest; independent
observations on the same target and category combine as a noisy-OR, so two weak rules make a
stronger case than either, and re-reading the same input changes nothing. A finding is
reported only at or above its category's threshold (contracts §4: nothing below).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veilleur.detect.base import PolicyDataError, Signal, load_policy_toml
from veilleur.state import KeyedState, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind


class PolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    thresholds: Mapping[Category, float]

    def threshold(self, category: Category) -> float:
        return self.thresholds[category]


def load_policy(path: Path) -> Policy:
    return parse_policy(load_policy_toml(path, PolicyError), str(path))


def parse_policy(data: Mapping[str, Any], where: str = "policy") -> Policy:
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise PolicyError(f"{where}: missing 'version'")
    raw = data.get("thresholds")
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: missing [thresholds]")
    thresholds: dict[Category, float] = {}
    for category in Category:
        value = raw.get(category.value)
        if not isinstance(value, int | float) or not 0 < value <= 1:
            raise PolicyError(f"{where}: thresholds.{category.value} must be in (0, 1]")
        thresholds[category] = float(value)
    unknown = set(raw) - {c.value for c in Category}
    if unknown:
        raise PolicyError(f"{where}: unknown categories in thresholds: {sorted(unknown)}")
    return Policy(version=version, thresholds=thresholds)


@dataclass(frozen=True, slots=True)
class Finding:
    target: Target
    category: Category
    score: float
    detectors: tuple[str, ...]
    evidence: str
    context: Mapping[str, str | None]
    excerpt: str | None = None
    spans: tuple[tuple[int, int], ...] = ()
    signal_keys: tuple[str, ...] = ()
    """What was observed (rule ids, bank entries): casework reads risk from them."""
    own_score: float | None = None
    """The score without the signals observed only because of the place's context (None:
    the same as `score`). What makes a message count for its channel and server."""
    own_detectors: tuple[str, ...] | None = None
    """The detectors of the signals `own_score` counts (None: the same as `detectors`)."""

    def to_json(self) -> dict[str, Any]:
        """The finding as contracts §4 writes it."""
        return {
            "target": self.target.to_json(),
            "category": self.category.value,
            "score": round(self.score, 4),
            "detectors": list(self.detectors),
            "evidence": self.evidence,
            "context": dict(self.context),
        }


@dataclass
class _Entry:
    signals: dict[tuple[str, str], Signal] = field(default_factory=dict)
    score: float = 0.0


def book_namespace(target: Target) -> str:
    """Where a target's entries are kept: an account's apart (`book.user`), because its
    signals come from everywhere it writes, while a message's, a channel's or a server's
    come from one place (a stream worker keeps those with the place, and shares these)."""
    return "book.user" if target.kind is TargetKind.USER else "book"


def book_key(target: Target, category: Category) -> str:
    return f"{target.kind.value}:{target.id}\x1f{category.value}"


def merge_entries(a: _Entry, b: _Entry) -> _Entry:
    """One target's entry as two processes saw it: each observation at its strongest (a
    stream's workers share accounts' entries; any order, or twice, gives the same)."""
    signals = dict(b.signals)
    for obs, s in a.signals.items():
        if obs not in signals or _rank(s) > _rank(signals[obs]):
            signals[obs] = s
    return _Entry(signals, combine(s.strength for s in signals.values()))


def _rank(s: Signal) -> tuple[float, str, str]:
    # The strongest, and on a tie the same one whichever side it came from.
    return (s.strength, s.evidence, s.excerpt or "")


STATE: dict[str, Any] = {"book": _Entry, "book.user": _Entry}
"""What each namespace keeps (for stores that encode it: `statecodec`)."""


class FindingBook:
    """Accumulates signals per (target, category) and says which are findings.

    Entries live behind `KeyedState` (in memory by default; a stream worker's state store),
    put back after every change."""

    def __init__(self, policy: Policy, state: KeyedState | None = None) -> None:
        self.policy = policy
        self._state = state if state is not None else MemoryState()
        self._keys: dict[tuple[Target, Category], None] | None = {} if state is None else None
        """The entries this process made or changed, in order (what `findings` lists). Not
        kept when the entries live in a store of their own (a stream worker, which never
        lists its findings and would only grow this): `findings` is then empty."""

    def _entry(self, key: tuple[Target, Category]) -> _Entry:
        entry: _Entry | None = self._state.get(book_namespace(key[0]), book_key(*key))
        return entry if entry is not None else _Entry()

    def add(self, signals: Iterable[Signal]) -> list[Finding]:
        """Record signals; return the findings that are new or changed by them."""
        touched: dict[tuple[Target, Category], _Entry] = {}
        for s in signals:
            key = (s.target, s.category)
            entry = touched.get(key) or self._entry(key)
            obs = (s.detector, s.key)
            old = entry.signals.get(obs)
            if old is None or s.strength > old.strength:
                entry.signals[obs] = s
                touched[key] = entry
        changed = []
        for key, entry in touched.items():
            entry.score = combine(s.strength for s in entry.signals.values())
            self._state.put(book_namespace(key[0]), book_key(*key), entry)
            if self._keys is not None:
                self._keys[key] = None
            if entry.score >= self.policy.threshold(key[1]):
                changed.append(self._finding(key, entry))
        return changed

    def finding(self, target: Target, category: Category) -> Finding | None:
        """The target's finding of `category` as the book holds it now (None below the
        threshold)."""
        entry = self._entry((target, category))
        if entry.score < self.policy.threshold(category):
            return None
        return self._finding((target, category), entry)

    def findings(self) -> list[Finding]:
        entries = ((key, self._entry(key)) for key in self._keys or ())
        out = [
            self._finding(key, entry)
            for key, entry in entries
            if entry.score >= self.policy.threshold(key[1])
        ]
        out.sort(key=lambda f: (-f.score, f.category.value, f.target))
        return out

    def _finding(self, key: tuple[Target, Category], entry: _Entry) -> Finding:
        signals = sorted(entry.signals.values(), key=lambda s: (-s.strength, s.detector, s.key))
        first = signals[0]
        # The text shown is the strongest signal's that has one (a conversation's timeline
        # signal names the message without quoting it).
        quoted = next((s for s in signals if s.excerpt), first)
        return Finding(
            target=key[0],
            category=key[1],
            score=entry.score,
            detectors=tuple(sorted({s.detector for s in signals})),
            evidence="; ".join(s.evidence for s in signals),
            context=first.context,
            excerpt=quoted.excerpt,
            spans=tuple(sorted({sp for s in signals if s.excerpt == quoted.excerpt
                                for sp in s.spans})),
            signal_keys=tuple(s.key for s in signals),
            own_score=(combine(s.strength for s in signals if not s.contextual)
                       if any(s.contextual for s in signals) else None),
            own_detectors=(tuple(sorted({s.detector for s in signals if not s.contextual}))
                           if any(s.contextual for s in signals) else None),
        )


def combine(strengths: Iterable[float]) -> float:
    remaining = 1.0
    for s in strengths:
        remaining *= 1.0 - min(max(s, 0.0), 1.0)
    return 1.0 - remaining
