"""Train the learned tier from the corpus: weights on `train`, calibration on `tune`, figures
on `tune` and `test`. Needs scikit-learn (`pip install veilleur[train]`); the engine never
imports this module.

1. Families are split by family (`split.py`); `train` families are expanded (equal weight per
   family, classes balanced) and, with transforms, obfuscated.
2. A multinomial logistic regression (`none` and the categories) is fitted on the hashed
   n-grams (`ngrams.py`), then its weights are rounded to float16 as the file stores them.
3. On `tune` families, with the rounded model: Platt's calibration per category, then the
   thresholds: `alone` (the learned tier makes a finding by itself) is the lowest calibrated
   probability at which the tier's precision on `tune` reaches `target_precision`, never below
   `alone_floor`; `support` (the tier adds a weak signal to the rules') is `support_floor`.
4. Figures per category on `tune` and `test` with 95 % Wilson intervals, for the model card.

Deterministic: one thread, a fixed solver, fixed seeds; the same corpus and seed give the same
bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from veilleur.corpus.families import CATEGORIES, Family
from veilleur.corpus.split import SPLITS, split_of
from veilleur.corpus.training_set import (
    NONE,
    Example,
    Transform,
    examples,
    negative_examples,
)
from veilleur.detect.text.learned import MIN_WORDS_ALONE, words
from veilleur.detect.text.linear import MODEL_FILE, LinearModel
from veilleur.detect.text.ngrams import FEATURES_VERSION, features, grams, margins
from veilleur.taxonomy import Category

if TYPE_CHECKING:
    from numpy.typing import NDArray

MODEL_CATEGORIES = tuple(Category(c) for c in CATEGORIES if c != NONE)
NEVER = 2.0
"""A threshold no probability reaches: the category never acts through the learned tier."""


@dataclass(frozen=True, slots=True)
class TrainConfig:
    bits: int = 18
    per_family: int = 120
    seed: int = 17
    c: float = 4.0
    """Inverse L2 strength of the logistic regression."""
    transformed_share: float = 0.5
    target_precision: float = 0.98
    alone_floor: float = 0.95
    support_floor: float = 0.50
    place_share: float = 0.10
    negative_families: float = 10.0
    none_weight: float = 2.0
    """How much more ordinary talk weighs than each category (after balancing)."""
    with_rules: bool = True
    """Also measure the engine (rules, rules + this model) on the families, for the card."""


@dataclass(frozen=True, slots=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    supported: int = 0
    """Positives whose probability reaches `support` (what the rules can be helped on)."""

    @property
    def positives(self) -> int:
        return self.tp + self.fn

    def precision(self) -> tuple[float | None, tuple[float, float]]:
        n = self.tp + self.fp
        return (self.tp / n if n else None), wilson(self.tp, n)

    def recall(self) -> tuple[float | None, tuple[float, float]]:
        n = self.tp + self.fn
        return (self.tp / n if n else None), wilson(self.tp, n)


@dataclass
class TrainReport:
    config: TrainConfig
    families: dict[str, int]
    """Families per split (and per split and label, `test/csam`)."""
    examples: dict[str, int]
    figures: dict[str, dict[str, Counts]] = field(default_factory=dict)
    """Split (tune, test; `+conversation` for families that need one) → category → counts."""
    system: dict[str, dict[str, dict[str, Counts]]] = field(default_factory=dict)
    """Split → "rules" or "rules + learned" → category → counts of the engine's findings."""
    misses: dict[str, list[str]] = field(default_factory=dict)
    """Split → family keys whose messages the tier mostly misses or wrongly flags (tune only
    lists texts' families, never their text)."""


def split_families(families: Iterable[Family]) -> dict[str, list[Family]]:
    """Families by split (`split.py`), each list in the order given."""
    out: dict[str, list[Family]] = {name: [] for name in SPLITS}
    for family in families:
        out[split_of(family)].append(family)
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of k successes in n trials ((0, 1) when n is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def corpus_digest(families: Sequence[Family], negatives: Sequence[str],
                  recipe: object = None) -> str:
    """What the model was trained from and how, as a digest (the model's version carries it)."""
    h = hashlib.sha256()
    if recipe is not None:
        h.update(repr(recipe).encode())
    # Every field training reads: `where` weighs the ordinary examples and sets the places
    # the model may act alone in; the split says which families train and which calibrate.
    for f in sorted(families, key=lambda f: f.key):
        h.update(json.dumps([f.key, f.label, f.alone, f.where, split_of(f), list(f.templates),
                             {k: list(v) for k, v in sorted(f.slots.items())}],
                            ensure_ascii=True).encode())
    for text in negatives:
        h.update(text.encode())
    return h.hexdigest()


PROBE_PER_FAMILY = 2
"""Messages of every train and tune family (obfuscated as in training) whose grams the
model's digest covers, beside every template and slot value as written (so that a character
only a later template or a rare slot value holds is folded in the probe too)."""


def grams_digest(texts: Iterable[str], bits: int) -> str:
    """What the feature code makes of texts, as a digest: a change to the folding or to the
    grams changes it even when the corpus and `FEATURES_VERSION` stay the same."""
    h = hashlib.sha256()
    for text in texts:
        h.update(grams(text, bits).astype("<i8").tobytes())
        h.update(b"\x1e")
    return h.hexdigest()


def folding_versions() -> dict[str, str]:
    """The versions of what folds text for the features (a newer look-alike table changes
    the grams as surely as an edit to `fold.py` does): recorded in the model, shown when the
    suite finds the shipped model stale."""
    import unicodedata
    from importlib.metadata import PackageNotFoundError, version

    out = {"unicodedata": unicodedata.unidata_version}
    for name in ("decancer-py", "anyascii"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def training_digest(families: Sequence[Family], negatives: Sequence[str],
                    config: TrainConfig, transforms: Sequence[Transform]) -> str:
    """What a model is trained from, as a digest: the train and tune families (every field
    training reads, and their split), the ordinary negatives, the recipe, the transforms'
    names and what the feature code makes of a probe of the messages. The model's version and
    `meta["digest"]` carry it, and the suite checks that the shipped model's equals today's
    tree's (a model trained before a change to the folding reads features it never learnt
    from). Not covered: the training code itself and scikit-learn (pinned)."""
    splits = split_families(families)
    fams = splits["train"] + splits["tune"]
    probe = [e.text for e in examples([f for f in fams if f.alone], PROBE_PER_FAMILY,
                                      config.seed, transforms, config.transformed_share)]
    probe += [t for f in fams for t in (*f.templates, *(v for _, vs in sorted(f.slots.items())
                                                         for v in vs))]
    return corpus_digest(fams, negatives,
                         (config, FEATURES_VERSION,
                          [getattr(t, "__name__", "?") for t in transforms],
                          grams_digest([*probe, *negatives], config.bits)))


def matrix(texts: Sequence[str], bits: int) -> Any:
    """The feature matrix of texts (scipy CSR), exactly as `ngrams.features` computes them."""
    from scipy.sparse import csr_matrix

    indptr = [0]
    cols: list[NDArray[np.int64]] = []
    vals: list[NDArray[np.float32]] = []
    for text in texts:
        idx, val = features(text, bits)
        cols.append(idx)
        vals.append(val)
        indptr.append(indptr[-1] + idx.shape[0])
    return csr_matrix((np.concatenate(vals) if vals else np.zeros(0, np.float32),
                       np.concatenate(cols) if cols else np.zeros(0, np.int64),
                       np.array(indptr)), shape=(len(texts), 2**bits), dtype=np.float64)


def train(families: Sequence[Family], *, negatives: Sequence[str] = (),
          config: TrainConfig = TrainConfig(), transforms: Sequence[Transform] = ()
          ) -> tuple[LinearModel, TrainReport]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # reductions in one fixed order: the same bytes
        return _train(families, negatives, config, transforms)


def _train(families: Sequence[Family], negatives: Sequence[str], config: TrainConfig,
           transforms: Sequence[Transform]) -> tuple[LinearModel, TrainReport]:
    from sklearn.linear_model import LogisticRegression

    splits = split_families(families)
    # Families whose messages are not clear one by one would teach the tier to flag
    # ambiguous messages: they are measured (`+conversation`), never learnt from.
    clear = {s: [f for f in splits[s] if f.alone] for s in SPLITS}
    if not clear["train"]:
        raise ValueError("no family falls in the train split: the corpus is too small")
    train_set = examples(clear["train"], config.per_family, config.seed, transforms,
                         config.transformed_share)
    # Ordinary texts from outside the corpus weigh as `negative_families` families together.
    if negatives:
        train_set += negative_examples(
            negatives, config.negative_families / len(set(negatives)))
    labels = sorted({e.label for e in train_set}, key=_label_order)
    if NONE not in labels or len(labels) < 2:
        raise ValueError("training needs 'none' families and at least one category's")
    y = np.array([labels.index(e.label) for e in train_set])
    weights = np.array([e.weight for e in train_set], dtype=np.float64)
    # Ordinary talk of each place weighs the same: most ordinary families are written for
    # servers, most grooming ones for direct messages, and the model must not learn that a
    # private chat is suspect because it is private ("ok à plus").
    where = {f.key: f.where for f in clear["train"]}
    place = np.array([where.get(e.family, "any") for e in train_set])
    is_none = y == labels.index(NONE)
    groups = [g for g in ("dm", "guild", "any") if (is_none & (place == g)).any()]
    for g in groups:
        cell = is_none & (place == g)
        weights[cell] *= weights[is_none].sum() / (len(groups) * weights[cell].sum())
    for i in range(len(labels)):  # every class weighs the same in total
        weights[y == i] *= len(train_set) / (len(labels) * weights[y == i].sum())
    weights[is_none] *= config.none_weight
    x = matrix([e.text for e in train_set], config.bits)
    clf = LogisticRegression(C=config.c, solver="lbfgs", max_iter=3000, tol=1e-5)
    clf.fit(x, y, sample_weight=weights)
    coef = np.asarray(clf.coef_, dtype=np.float64)
    intercept = np.asarray(clf.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # two classes: sklearn keeps one row, for class 1
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    none = labels.index(NONE)
    k = len(MODEL_CATEGORIES)
    w = np.zeros((2**config.bits, k), np.float32)
    b = np.full(k, -30.0, np.float32)  # a category never trained on never scores
    for j, category in enumerate(MODEL_CATEGORIES):
        if category.value in labels:
            i = labels.index(category.value)
            w[:, j] = coef[i] - coef[none]
            b[j] = intercept[i] - intercept[none]
    w = w.astype(np.float16).astype(np.float32)  # calibrate what the file will hold
    digest = training_digest(families, negatives, config, transforms)
    model = LinearModel(
        categories=MODEL_CATEGORIES, bits=config.bits, weights=w, bias=b,
        calibration=np.tile(np.array([1.0, 0.0], np.float32), (k, 1)),
        alone=np.full(k, NEVER, np.float32), support=np.full(k, NEVER, np.float32),
        version=f"text-linear-{digest[:12]}",
        meta={"digest": digest, "folding": folding_versions(), "seed": config.seed,
              "per_family": config.per_family, "c": config.c,
              "families_train": len(clear["train"]), "families_tune": len(clear["tune"]),
              "features": FEATURES_VERSION,
              "transforms": [getattr(t, "__name__", "?") for t in transforms],
              "places": places(clear["train"] + clear["tune"], config.place_share)})
    tune_set = examples(clear["tune"], config.per_family, config.seed, transforms,
                        config.transformed_share)
    model = _calibrate(model, tune_set, config)
    report = TrainReport(
        config=config,
        families={s: len(splits[s]) for s in SPLITS}
        | {f"{s}/{f.label}": sum(1 for g in splits[s] if g.label == f.label)
           for s in SPLITS for f in splits[s]},
        examples={"train": len(train_set), "tune": len(tune_set)})
    where = {f.key: f.where for f in families}
    for split in ("tune", "test"):
        fams = splits[split]
        alone = [f for f in fams if f.alone]
        together = [f for f in fams if not f.alone]
        report.figures[split] = measure(model, examples(alone, config.per_family,
                                                        config.seed), where)
        if together:
            report.figures[f"{split}+conversation"] = measure(
                model, examples(together, config.per_family, config.seed), where)
        report.misses[split] = _weak_families(model, fams, config)
        if config.with_rules:
            report.system[split] = _with_rules(model, examples(alone, config.per_family,
                                                               config.seed), where)
    return model, report


def _with_rules(model: LinearModel, items: Sequence[Example], where: Mapping[str, str]
                ) -> dict[str, dict[str, Counts]]:
    """The engine's findings on the messages: rules alone, then rules with this model."""
    from veilleur.corpus.system_eval import counts, found

    out: dict[str, dict[str, Counts]] = {}
    for name, tier in (("rules", None), ("rules + learned", model)):
        got = counts(items, found(items, where, tier), model.categories)
        out[name] = {c: Counts(tp=tp, fp=fp, fn=fn) for c, (tp, fp, fn) in got.items()}
    return out


def places(families: Sequence[Family], share: float) -> dict[str, list[str]]:
    """Per category, where its messages were written (`dm`, `guild`): a place counts when
    at least `share` of the category's families are written there (or anywhere). The tier
    makes findings alone only there: elsewhere it has not learnt what is ordinary (a school
    year asked among pupils in a server is not the grooming it learnt from private talks)."""
    out: dict[str, list[str]] = {}
    for category in MODEL_CATEGORIES:
        fams = [f for f in families if f.category == category]
        if not fams:
            continue
        out[category.value] = [
            place for place in ("dm", "guild")
            if sum(1 for f in fams if f.where in (place, "any")) >= share * len(fams)]
    return out


def _label_order(label: str) -> int:
    return CATEGORIES.index(label) if label != NONE else -1


def _margins(model: LinearModel, texts: Sequence[str]) -> NDArray[np.float64]:
    if not texts:
        return np.zeros((0, len(model.categories)))
    d = np.asarray(matrix(texts, model.bits) @ model.weights.astype(np.float64)) + model.bias
    return np.vstack([margins(row) for row in d])


def _calibrate(model: LinearModel, tune: Sequence[Example], config: TrainConfig
               ) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    k = len(model.categories)
    calibration = model.calibration.copy()
    alone = np.full(k, NEVER, np.float32)
    support = np.full(k, NEVER, np.float32)
    m = _margins(model, [e.text for e in tune])
    w = np.array([e.weight for e in tune])
    long_enough = np.array([words(e.text) >= MIN_WORDS_ALONE for e in tune], dtype=bool)
    for j, category in enumerate(model.categories):
        y = np.array([e.label == category.value for e in tune])
        if not y.any() or y.all() or model.bias[j] <= -30:
            continue  # nothing to calibrate on: the category stays off
        cal = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000)
        cal.fit(m[:, j:j + 1], y, sample_weight=w * len(w) / w.sum())
        a, bb = float(cal.coef_[0, 0]), float(cal.intercept_[0])
        if a <= 0:
            continue  # a model that ranks backwards on unseen families must not act
        calibration[j] = (a, bb)
        p = 0.5 * (1 + np.tanh(0.5 * (a * m[:, j] + bb)))
        # Only messages long enough to act alone choose the threshold of acting alone.
        alone[j] = _alone_threshold(p[long_enough], y[long_enough], config)
        support[j] = config.support_floor
    return LinearModel(categories=model.categories, bits=model.bits, weights=model.weights,
                       bias=model.bias, calibration=calibration, alone=alone,
                       support=support, version=model.version, meta=model.meta)


def _alone_threshold(p: NDArray[np.float64], y: NDArray[np.bool_], config: TrainConfig
                     ) -> float:
    """The lowest threshold ≥ alone_floor at which precision on tune reaches the target."""
    for t in sorted({float(v) for v in p[y]} | {config.alone_floor}):
        if t < config.alone_floor:
            continue
        flagged = p >= t
        if not flagged.any():
            break
        if (flagged & y).sum() / flagged.sum() >= config.target_precision:
            return float(np.float32(t))
    return NEVER


def measure(model: LinearModel, items: Sequence[Example],
            where: Mapping[str, str] | None = None) -> dict[str, Counts]:
    """Message-level counts per category of the tier acting alone, as `text.learned` does:
    p ≥ `alone`, enough words, in a place (the family's `where`) the category was learnt in.
    """
    out: dict[str, Counts] = {}
    if not items:
        return out
    p = 0.5 * (1 + np.tanh(0.5 * (model.calibration[:, 0] * _margins(
        model, [e.text for e in items]) + model.calibration[:, 1])))
    long_enough = np.array([words(e.text) >= MIN_WORDS_ALONE for e in items])
    places = model.meta.get("places", {})
    for j, category in enumerate(model.categories):
        allowed = set(places.get(category.value, ("dm", "guild")))
        in_place = np.array([
            bool(allowed) if (w := (where or {}).get(e.family, "any")) == "any"
            else w in allowed for e in items])
        y = np.array([e.label == category.value for e in items])
        flagged = (p[:, j] >= model.alone[j]) & long_enough & in_place
        out[category.value] = Counts(
            tp=int((flagged & y).sum()), fp=int((flagged & ~y).sum()),
            fn=int((~flagged & y).sum()),
            supported=int(((p[:, j] >= model.support[j]) & y).sum()))
    return out


def _weak_families(model: LinearModel, fams: Sequence[Family], config: TrainConfig
                   ) -> list[str]:
    """Families the tier gets mostly wrong (half their messages missed or flagged)."""
    weak = []
    for family in fams:
        counts = measure(model, examples([family], config.per_family, config.seed),
                         {family.key: family.where})
        if family.category is None:
            fp = sum(c.fp for c in counts.values())
            total = max(1, min(config.per_family, family.variants()))
            if fp * 2 >= total:
                weak.append(f"{family.key} (none, flagged)")
        else:
            c = counts[family.category.value]
            if c.positives and c.supported * 2 < c.positives:
                weak.append(f"{family.key} ({family.label}, missed)")
    return weak


def write(model: LinearModel, report: TrainReport, out: Path) -> tuple[Path, Path]:
    """The model file and its card, in `out`."""
    from veilleur.corpus.model_card import render_card

    path = out / MODEL_FILE
    model.save(path)
    card = out / "MODEL_CARD.md"
    card.write_text(render_card(model, report), encoding="utf-8")
    return path, card


__all__ = ["Counts", "TrainConfig", "TrainReport", "folding_versions", "split_families",
           "train", "training_digest", "wilson", "write"]
