"""Case priority: a weighted sum of five factors, each explained in words on the case.

severity (what the worst item would be), confidence (how sure: the engine's score, corroborating
reporters, an authority's word), reach (server size), source (the track record of who reported),
risk to a child now (a meeting proposed, threats). Pure: everything it needs is passed in.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from veilleur.cases.config import CasePolicy
from veilleur.cases.models import Factor, Intake, IntakeKind
from veilleur.taxonomy import Category


@dataclass
class TrackRecord:
    upheld: int = 0
    rejected: int = 0

    @property
    def decided(self) -> int:
        return self.upheld + self.rejected

    def trust(self, prior: float, weight: float) -> float:
        return (self.upheld + prior * weight) / (self.decided + weight)

    def to_json(self) -> dict[str, float | int]:
        return {"upheld": self.upheld, "rejected": self.rejected,
                "accuracy": round(self.upheld / self.decided, 4) if self.decided else 0.0}


@dataclass
class TrackRecords:
    """Upheld and rejected reports per reporter and per trusted flagger (DSA 22(6) statistics)."""

    reporters: dict[str, TrackRecord] = field(default_factory=dict)
    flaggers: dict[str, TrackRecord] = field(default_factory=dict)

    def record(self, intake: Intake, upheld: bool) -> None:
        for table, key in ((self.reporters, intake.reporter_id), (self.flaggers, intake.flagger)):
            if key:
                rec = table.setdefault(key, TrackRecord())
                if upheld:
                    rec.upheld += 1
                else:
                    rec.rejected += 1


def source_trust(intake: Intake, policy: CasePolicy, records: TrackRecords) -> tuple[float, str]:
    """How much an intake's source is believed, and why."""
    s = policy.sources
    if intake.kind is IntakeKind.FINDING:
        return s["engine"], "the engine's own detection"
    if intake.source == "authority":
        return s["authority"], "an authority's removal request"
    if intake.source == "trusted_flagger":
        flagger = policy.flaggers.get(intake.flagger or "")
        if flagger is None:
            return s["anonymous_notice"], f"unregistered trusted flagger {intake.flagger!r}"
        in_area = intake.category is None or intake.category in flagger.areas
        base = s["trusted_flagger_in_area" if in_area else "trusted_flagger_outside_area"]
        rec = records.flaggers.get(flagger.id)
        if rec is not None and rec.decided:
            base = min(base, rec.trust(base, 10 * s["reporter_prior_weight"]))
        where = "within" if in_area else "outside"
        return base, f"trusted flagger {flagger.name} ({where} its areas)"
    if intake.reporter_id:
        rec = records.reporters.get(intake.reporter_id, TrackRecord())
        trust = rec.trust(s["reporter_prior"], s["reporter_prior_weight"])
        if not rec.decided:
            return trust, "a reporter with no track record yet"
        return trust, (f"a reporter with {rec.upheld} of {rec.decided} earlier reports upheld")
    return s["anonymous_notice"], "an anonymous notice"


def prioritize(intakes: Sequence[Intake], guild_members: Sequence[int], *, policy: CasePolicy,
               records: TrackRecords, minor_at_risk: bool = False,
               source: Callable[[Intake], tuple[float, str]] | None = None
               ) -> tuple[float, tuple[Factor, ...]]:
    trust_of = source or (lambda i: source_trust(i, policy, records))
    w = policy.weights

    # Severity: the gravest category anyone claims or the engine found.
    cats = [i.category for i in intakes]
    worst = max(cats, key=policy.severity_of, default=None)
    severity = policy.severity_of(worst.value if worst else None)
    sev_why = (f"{worst.value}" if worst else "no category given") + (
        " (the gravest category)" if worst is Category.CSAM else "")

    # Confidence: the engine's best score, an authority's word, or corroborating reporters.
    scores = [i.score for i in intakes if i.kind is IntakeKind.FINDING]
    trusts = [(trust_of(i)[0], i) for i in intakes if i.kind is IntakeKind.REPORT]
    best_finding = max(scores, default=0.0)
    by_reporter: dict[str, float] = {}
    for t, i in trusts:
        who = i.reporter_id or i.flagger or i.id
        by_reporter[who] = max(t, by_reporter.get(who, 0.0))
    top = sorted(by_reporter.values(), reverse=True)[:policy.corroborating_reporters]
    corroboration = 1.0 - math.prod(1.0 - t for t in top)
    confidence = max(best_finding, corroboration)
    parts = []
    if scores:
        parts.append(f"engine score {best_finding:.2f}")
    if by_reporter:
        parts.append(f"{len(by_reporter)} distinct reporter(s), the strongest "
                     f"{len(top)} counted: {corroboration:.2f}")
    conf_why = "; ".join(parts) or "nothing yet"

    # Reach: members of the largest server involved, on a log scale.
    members = max(guild_members, default=0)
    reach = min(1.0, math.log1p(members) / math.log1p(policy.members_for_full))
    reach_why = f"{members} member(s)" if members else "no server (direct messages)"

    # Source: the most trusted source among the intakes.
    sourced = [trust_of(i) for i in intakes]
    src, src_why = max(sourced, default=(0.0, "no source"))

    # Risk now: a meeting proposed or a threat, in the signals or in what reporters say.
    risk, risk_why = 0.0, "no sign of immediate risk"
    for i in intakes:
        hit = next((k for k in i.signal_keys for word in policy.risk_signal_keys
                    if word in k.lower()), None)
        said = next((word for word in policy.risk_report_words
                     if i.explanation and word in i.explanation.lower()), None)
        if hit or said:
            risk, risk_why = 1.0, (f"signal {hit}" if hit else f"a report mentions {said!r}")
            break
    if risk == 0.0 and minor_at_risk:
        risk, risk_why = 0.5, "a minor is in the conversation"

    factors = (
        Factor("severity", severity, w["severity"], sev_why),
        Factor("confidence", confidence, w["confidence"], conf_why),
        Factor("reach", reach, w["reach"], reach_why),
        Factor("source", src, w["source"], src_why),
        Factor("risk_now", risk, w["risk_now"], risk_why),
    )
    return min(1.0, sum(f.contribution for f in factors)), factors


def flagger_statistics(notices: Iterable[tuple[str | None, str | None]], policy: CasePolicy
                       ) -> dict[str, dict[str, Any]]:
    """Per trusted flagger: notices, upheld, rejected, still pending, accuracy (DSA 22(6): what
    is reported to the coordinator when quality degrades). Input: (flagger, resolution)."""
    counts: dict[str, Counter[str]] = {}
    for flagger, resolution in notices:
        c = counts.setdefault(flagger or "(unnamed)", Counter())
        c["notices"] += 1
        c[{"upheld": "upheld", "rejected": "rejected", None: "pending"}.get(
            resolution, "settled_otherwise")] += 1
    out: dict[str, dict[str, Any]] = {}
    for key, c in counts.items():
        known = policy.flaggers.get(key)
        decided = c["upheld"] + c["rejected"]
        out[key] = {"name": known.name if known else None, "registered": known is not None,
                    "dsc": known.dsc if known else None,
                    **{k: c[k] for k in ("notices", "upheld", "rejected", "pending",
                                         "settled_otherwise")},
                    "accuracy": round(c["upheld"] / decided, 4) if decided else None}
    return out
