"""Family messages through the engine's text detectors: the rules alone, and the rules with a
learned tier, as a scan would find them. For the model card's "with the rules" figures.

Each message is posted alone, in its own channel (a direct message for families written for
direct messages, a server channel otherwise), so no message borrows context from another;
the semantic layer is off (it is optional and not what is measured here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from veilleur.corpus.training_set import Example
from veilleur.decide.policy import load_policy
from veilleur.detect.base import Detector, DetectorSettings
from veilleur.detect.text.detector import TextDetector
from veilleur.detect.text.learned import LearnedDetector
from veilleur.detect.text.linear import LinearModel
from veilleur.engine import Engine
from veilleur.events import Message, MessagePosted
from veilleur.taxonomy import Category, TargetKind

_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def found(examples: Sequence[Example], where: Mapping[str, str],
          model: LinearModel | None, settings: DetectorSettings | None = None
          ) -> list[set[str]]:
    """The categories the engine finds on each message (rules, plus `model` if given)."""
    settings = settings or DetectorSettings(semantic=False, learned=False)
    policy = load_policy(settings.policy_dir / "policy.toml")
    detectors: list[Detector] = [TextDetector.from_settings(settings)]
    if model is not None:
        detectors.append(LearnedDetector(model, policy.thresholds))
    engine = Engine(detectors, policy)
    for i, e in enumerate(examples):
        place = where.get(e.family, "any")
        direct = place == "dm" or (place == "any" and i % 2 == 0)
        engine.process(MessagePosted(ts=_T0, message=Message(
            id=f"m{i}", channel_id=f"c{i}", guild_id=None if direct else f"g{i}",
            author_id=f"u{i}", content=e.text)))
    out: list[set[str]] = [set() for _ in examples]
    for f in engine.findings():
        if f.target.kind is TargetKind.MESSAGE:
            out[int(f.target.id[1:])].add(f.category.value)
    return out


def counts(examples: Sequence[Example], flagged: Sequence[set[str]],
           categories: Sequence[Category]) -> dict[str, tuple[int, int, int]]:
    """Per category, (tp, fp, fn) of the flagged categories against the examples' labels."""
    out: dict[str, tuple[int, int, int]] = {}
    for c in categories:
        tp = sum(1 for e, f in zip(examples, flagged, strict=True)
                 if e.label == c.value and c.value in f)
        fp = sum(1 for e, f in zip(examples, flagged, strict=True)
                 if e.label != c.value and c.value in f)
        fn = sum(1 for e, f in zip(examples, flagged, strict=True)
                 if e.label == c.value and c.value not in f)
        out[c.value] = (tp, fp, fn)
    return out
