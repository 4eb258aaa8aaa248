"""The case policy (`policies/cases.toml`) and the trusted-flagger registry, validated at load.

Every error names the file and the entry, like the other policy files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from veilleur.detect.base import POLICY_DIR, PolicyDataError, load_policy_toml
from veilleur.taxonomy import Category, TargetKind

ACTIONS = ("remove_content", "block_upload", "suspend_account", "delete_guild", "block_join",
           "preserve_evidence", "report_ncmec", "refer_authority")
CASE_MEASURES = ("report_ncmec", "refer_authority")
FACTORS = ("severity", "confidence", "reach", "source", "risk_now")
UNKNOWN = "unknown"


class CasePolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class AutoRule:
    action: str
    categories: frozenset[Category]
    detector: str | None
    min_score: float


@dataclass(frozen=True, slots=True)
class Grounds:
    law: str
    terms: str


@dataclass(frozen=True, slots=True)
class TrustedFlagger:
    id: str
    name: str
    dsc: str
    member_state: str
    areas: frozenset[Category]


@dataclass(frozen=True, slots=True)
class CasePolicy:
    version: str
    severity: Mapping[str, float]
    weights: Mapping[str, float]
    targets_hours: Mapping[str, float]
    trusted_flagger_hours: float
    at_risk_share: float
    at_risk_boost: float
    legal_hours: Mapping[str, float]
    members_for_full: int
    sources: Mapping[str, float]
    corroborating_reporters: int
    risk_signal_keys: tuple[str, ...]
    risk_report_words: tuple[str, ...]
    lock_minutes: float
    reviewed_again_after_days: float
    retention_days: int
    ncmec_retention_days: int
    context_messages: int
    guild_messages: int
    user_messages: int
    max_attachment_bytes: int
    refresh_minutes: float
    auto: tuple[AutoRule, ...]
    measures: Mapping[Category, Mapping[str, tuple[str, ...]]]
    grounds: Mapping[Category, Grounds]
    territorial_scope: tuple[str, ...]
    flaggers: Mapping[str, TrustedFlagger] = field(default_factory=dict)

    def severity_of(self, category: str | None) -> float:
        return self.severity.get(category or UNKNOWN, self.severity[UNKNOWN])

    def target_hours(self, category: str | None) -> float:
        return self.targets_hours.get(category or UNKNOWN, self.targets_hours[UNKNOWN])

    def legal_deadline_hours(self, category: str | None) -> float:
        return self.legal_hours.get(category or "default", self.legal_hours["default"])


def load_case_policy(policy_dir: Path = POLICY_DIR) -> CasePolicy:
    cases = policy_dir / "cases.toml"
    flaggers = policy_dir / "flaggers.toml"
    policy = parse_case_policy(load_policy_toml(cases, CasePolicyError), str(cases))
    if flaggers.exists():
        registry = parse_flaggers(load_policy_toml(flaggers, CasePolicyError), str(flaggers))
        policy = replace(policy, flaggers=registry)
    return policy


class _Reader:
    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def fail(self, entry: str, message: str) -> CasePolicyError:
        return CasePolicyError(f"{self.where}: {entry}: {message}")

    def table(self, name: str) -> Mapping[str, Any]:
        value = self.data.get(name)
        if not isinstance(value, dict):
            raise self.fail(f"[{name}]", "missing or not a table")
        return value

    def number(self, table: str, key: str, lo: float, hi: float) -> float:
        value = self.table(table).get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise self.fail(f"{table}.{key}", f"must be a number in [{lo}, {hi}]")
        return float(value)

    def words(self, table: str, key: str) -> tuple[str, ...]:
        value = self.table(table).get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{table}.{key}", "must be a list of non-empty strings")
        return tuple(v.lower() for v in value)

    def categories(self, table: str, extra: tuple[str, ...] = ()) -> dict[str, float]:
        raw = self.table(table)
        allowed = {c.value for c in Category} | set(extra)
        unknown = set(raw) - allowed
        if unknown:
            raise self.fail(f"[{table}]", f"unknown entries {sorted(unknown)}")
        return {k: self.number(table, k, 0.0, 1e6) for k in raw}


def parse_case_policy(data: Mapping[str, Any], where: str = "cases") -> CasePolicy:
    r = _Reader(data, where)
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise r.fail("version", "missing")
    severity = r.categories("severity", (UNKNOWN,))
    for key in (*[c.value for c in Category], UNKNOWN):
        if key not in severity or not 0 <= severity[key] <= 1:
            raise r.fail(f"severity.{key}", "must be given, in [0, 1]")
    weights = {k: r.number("weights", k, 0.0, 1.0) for k in FACTORS}
    if set(r.table("weights")) - set(FACTORS):
        raise r.fail("[weights]", f"unknown factors; known: {', '.join(FACTORS)}")
    if abs(sum(weights.values()) - 1.0) > 1e-6:
        raise r.fail("[weights]", f"must sum to 1 (they sum to {sum(weights.values()):.3f})")
    targets = r.categories("targets", (UNKNOWN, "trusted_flagger"))
    for key in (*[c.value for c in Category], UNKNOWN, "trusted_flagger"):
        if targets.get(key, 0) <= 0:
            raise r.fail(f"targets.{key}", "must be given, in hours (> 0)")
    legal = r.categories("legal", ("default",))
    if legal.get("default", 0) <= 0 or any(v <= 0 for v in legal.values()):
        raise r.fail("[legal]", "'default' and every category must be hours > 0")
    source_keys = ("authority", "trusted_flagger_in_area", "trusted_flagger_outside_area",
                   "engine", "anonymous_notice", "reporter_prior")
    sources = {k: r.number("sources", k, 0.0, 1.0) for k in source_keys}
    sources["reporter_prior_weight"] = r.number("sources", "reporter_prior_weight", 0.1, 1000)
    auto = tuple(_auto_rule(r, i, raw) for i, raw in enumerate(data.get("auto", [])))
    measures = _measures(r)
    grounds = {}
    for c in Category:
        g = r.table("grounds").get(c.value)
        if not isinstance(g, dict) or not all(isinstance(g.get(k), str) and g[k]
                                              for k in ("law", "terms")):
            raise r.fail(f"grounds.{c.value}", "needs 'law' and 'terms' texts")
        grounds[c] = Grounds(law=g["law"], terms=g["terms"])
    scope = r.words("decisions", "territorial_scope")
    return CasePolicy(
        version=version,
        severity=severity,
        weights=weights,
        targets_hours={k: v for k, v in targets.items() if k != "trusted_flagger"},
        trusted_flagger_hours=targets["trusted_flagger"],
        at_risk_share=r.number("clocks", "at_risk_share", 0.0, 1.0),
        at_risk_boost=r.number("clocks", "at_risk_boost", 0.0, 1.0),
        legal_hours=legal,
        members_for_full=int(r.number("reach", "members_for_full", 2, 1e9)),
        sources=sources,
        corroborating_reporters=int(r.number("sources", "corroborating_reporters", 1, 100)),
        risk_signal_keys=r.words("risk_now", "signal_keys"),
        risk_report_words=r.words("risk_now", "report_words"),
        lock_minutes=r.number("review", "lock_minutes", 1, 24 * 60),
        reviewed_again_after_days=r.number("review", "reviewed_again_after_days", 0, 3650),
        retention_days=int(r.number("evidence", "retention_days", 1, 36500)),
        ncmec_retention_days=int(r.number("evidence", "ncmec_retention_days", 1, 36500)),
        context_messages=int(r.number("evidence", "context_messages", 0, 10000)),
        guild_messages=int(r.number("evidence", "guild_messages", 0, 100000)),
        user_messages=int(r.number("evidence", "user_messages", 0, 100000)),
        max_attachment_bytes=int(r.number("evidence", "max_attachment_bytes", 0, 1 << 34)),
        refresh_minutes=r.number("evidence", "refresh_minutes", 0, 60 * 24 * 365),
        auto=auto,
        measures=measures,
        grounds=grounds,
        territorial_scope=tuple(s.upper() for s in scope),
    )


def _auto_rule(r: _Reader, i: int, raw: Any) -> AutoRule:
    entry = f"auto #{i + 1}"
    if not isinstance(raw, dict):
        raise r.fail(entry, "must be a table")
    action = raw.get("action")
    if action not in ("block_upload", "remove_content", "suspend_account", "block_join"):
        raise r.fail(entry, f"action {action!r} cannot be automatic here "
                     "(block_upload, remove_content, suspend_account, block_join)")
    cats = raw.get("categories")
    if not isinstance(cats, list) or not cats:
        raise r.fail(entry, "needs a list of 'categories'")
    try:
        categories = frozenset(Category(c) for c in cats)
    except ValueError as exc:
        raise r.fail(entry, str(exc)) from None
    score = raw.get("min_score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 < score <= 1:
        raise r.fail(entry, "'min_score' must be in (0, 1]")
    detector = raw.get("detector")
    if detector is not None and not isinstance(detector, str):
        raise r.fail(entry, "'detector' must be a detector id")
    return AutoRule(action, categories, detector, float(score))


def _measures(r: _Reader) -> dict[Category, dict[str, tuple[str, ...]]]:
    out: dict[Category, dict[str, tuple[str, ...]]] = {}
    kinds = {k.value for k in TargetKind} | {"case"}
    for c in Category:
        raw = r.table("measures").get(c.value)
        if not isinstance(raw, dict):
            raise r.fail(f"measures.{c.value}", "missing")
        table: dict[str, tuple[str, ...]] = {}
        for kind, actions in raw.items():
            entry = f"measures.{c.value}.{kind}"
            if kind not in kinds:
                raise r.fail(entry, f"unknown target kind; known: {', '.join(sorted(kinds))}")
            if not isinstance(actions, list) or any(a not in ACTIONS for a in actions):
                raise r.fail(entry, f"must list actions among {', '.join(ACTIONS)}")
            if kind == "case" and any(a not in CASE_MEASURES for a in actions):
                raise r.fail(entry, f"case-wide measures are {', '.join(CASE_MEASURES)}")
            table[kind] = tuple(actions)
        out[c] = table
    return out


def parse_flaggers(data: Mapping[str, Any], where: str = "flaggers") -> dict[str, TrustedFlagger]:
    out: dict[str, TrustedFlagger] = {}
    for i, raw in enumerate(data.get("flagger", [])):
        entry = f"flagger #{i + 1}"
        if not isinstance(raw, dict):
            raise CasePolicyError(f"{where}: {entry}: must be a table")
        try:
            fid, name = str(raw["id"]), str(raw["name"])
            areas = frozenset(Category(a) for a in raw.get("areas", []))
        except KeyError as exc:
            raise CasePolicyError(f"{where}: {entry}: missing {exc}") from None
        except ValueError as exc:
            raise CasePolicyError(f"{where}: {entry}: {exc}") from None
        if fid in out:
            raise CasePolicyError(f"{where}: {entry}: duplicate id {fid!r}")
        out[fid] = TrustedFlagger(fid, name, str(raw.get("dsc", "")),
                                  str(raw.get("member_state", "")), areas)
    return out
