"""From a reviewer's verdicts to a decision: per target, category, ground, measures, duration,
territorial scope; per case, the NCMEC report and the referral to authorities. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from veilleur.cases.config import CasePolicy
from veilleur.cases.models import TargetDecision
from veilleur.taxonomy import Category, Target


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a reviewer says about one target. `category` None: no violation."""

    category: Category | None
    ground: str = "illegal"
    measures: tuple[str, ...] | None = None
    """None: the policy's measures for the category and target kind."""
    duration_days: int | None = None
    territorial_scope: tuple[str, ...] | None = None
    explanation: str | None = None


class ReviewError(ValueError):
    pass


def target_decisions(targets: Sequence[Target], verdicts: Mapping[Target, Verdict],
                     policy: CasePolicy) -> tuple[TargetDecision, ...]:
    unknown = set(verdicts) - set(targets)
    if unknown:
        names = ", ".join(f"{t.kind.value}:{t.id}" for t in sorted(unknown))
        raise ReviewError(f"verdicts for targets that are not in the case: {names}")
    out = []
    for t in targets:
        v = verdicts.get(t, Verdict(None))
        if v.category is None:
            out.append(TargetDecision(t, False, explanation=v.explanation))
            continue
        if v.ground not in ("illegal", "terms"):
            raise ReviewError(f"{t.kind.value}:{t.id}: ground must be 'illegal' or 'terms'")
        measures = v.measures if v.measures is not None else \
            policy.measures[v.category].get(t.kind.value, ())
        grounds = policy.grounds[v.category]
        out.append(TargetDecision(
            target=t, violation=True, category=v.category, ground=v.ground,
            ground_text=grounds.law if v.ground == "illegal" else grounds.terms,
            measures=tuple(measures), duration_days=v.duration_days,
            territorial_scope=v.territorial_scope or policy.territorial_scope,
            explanation=v.explanation))
    return tuple(out)


def case_measures(decisions: Sequence[TargetDecision], policy: CasePolicy, *,
                  risk_now: bool) -> tuple[str, ...]:
    """Case-wide measures of every confirmed category; a referral only when a child is at risk
    now (DSA Art. 18: a threat to life or safety)."""
    found: list[str] = []
    for d in decisions:
        if d.violation and d.category is not None:
            for m in policy.measures[d.category].get("case", ()):
                if m == "refer_authority" and not risk_now:
                    continue
                if m not in found:
                    found.append(m)
    return tuple(found)
