"""The learned tier's model card (`MODEL_CARD.md`), written by `veilleur train` with the model.

Everything in it comes from the training run (no dates, no machine names): the same corpus
and seed write the same card.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veilleur.corpus.split import HELD_OUT_WRITERS, SHARES
from veilleur.detect.text.ngrams import FEATURES_VERSION

if TYPE_CHECKING:
    from veilleur.corpus.train import Counts, TrainReport
    from veilleur.detect.text.linear import LinearModel


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _row(category: str, c: Counts) -> str:
    p, (plo, phi) = c.precision()
    r, (rlo, rhi) = c.recall()
    support = f"{c.supported}/{c.positives}" if c.positives else "–"
    return (f"| {category} | {c.tp} | {c.fp} | {c.fn} | {_pct(p)} [{plo:.2f}, {phi:.2f}] | "
            f"{_pct(r)} [{rlo:.2f}, {rhi:.2f}] | {support} |")


def render_card(model: LinearModel, report: TrainReport) -> str:
    cfg = report.config
    fam = report.families
    lines = [
        "# Model card: the learned text tier (`text.learned`)",
        "",
        f"Model `{model.version}`, written by `veilleur train` (seed {cfg.seed}). Do not edit "
        "by hand: retrain (`make train`).",
        "",
        "## What it is",
        "",
        "A multinomial logistic regression (classes `none`, "
        + ", ".join(f"`{c.value}`" for c in model.categories)
        + f") over hashed features (`{FEATURES_VERSION}`, 2^{model.bits} buckets) of the "
        "folded and collapsed text the rules read (look-alikes, invisible characters and leet "
        "undone): character 2–5-grams and word 1–2-grams, FNV-1a hashed, count / sqrt(grams). "
        "Weights stored in float16. Inference is numpy/numba only (no scikit-learn at run "
        "time). It reads every message (not channels nor servers yet).",
        "",
        f"Training digest `{model.meta.get('digest', '?')}`: the train and tune families, the "
        "negatives, the recipe and the grams of a probe of the messages (the suite checks "
        "that today's tree gives the same). Folded with "
        + ", ".join(f"{k} {v}" for k, v in sorted(model.meta.get("folding", {}).items()))
        + ".",
        "",
        "## Data and split",
        "",
        "The corpus of phrasing families (`veilleur/corpus/families.py`). A family goes wholly "
        "to one split by a hash of its key (" + ", ".join(
            f"{share} % {name}" for name, share in SHARES) + "; tune: calibration and "
        "thresholds; test: never trained nor "
        f"tuned on). Writers {', '.join(sorted(HELD_OUT_WRITERS))} are always test.",
        "",
        "| split | families | " + " | ".join(f"`{c}`" for c in ("none", *(
            x.value for x in model.categories))) + " |",
        "|---|---|" + "---|" * (1 + len(model.categories)),
    ]
    for split in ("train", "tune", "test"):
        lines.append(f"| {split} | {fam.get(split, 0)} | " + " | ".join(
            str(fam.get(f"{split}/{c}", 0)) for c in ("none", *(
                x.value for x in model.categories))) + " |")
    lines += [
        "",
        f"Each family yields up to {cfg.per_family} messages (`families.expand`, seed "
        f"{cfg.seed}) and weighs the same in total; classes are balanced. "
        f"Training examples: {report.examples.get('train', 0)} ("
        + (f"obfuscated copies of about {cfg.transformed_share:.0%} of messages, each by "
           f"`{'`, `'.join(model.meta['transforms'])}` (`corpus/transforms.py`: one or two "
           "transforms chained)"
           if model.meta.get("transforms") else "no obfuscated copies") + "), "
        "plus the ordinary messages of the project's labelled set when given "
        "(`--negatives`). L2 strength C = "
        f"{cfg.c}.",
        "",
        "## Calibration and how it acts",
        "",
        "Per category, Platt scaling of the category's log-odds against every other class, "
        "fitted on the tune families. The tier signals a category at or above `support` "
        "(strength below the policy threshold: it only helps rules make a finding) and makes "
        "a finding by itself at or above `alone` (the lowest calibrated probability reaching "
        f"precision {cfg.target_precision} on tune, never below {cfg.alone_floor}; `never` "
        "when tune cannot show it).",
        "",
        "| category | support | alone | Platt a | Platt b |",
        "|---|---|---|---|---|",
    ]
    for j, c in enumerate(model.categories):
        alone = "never" if model.alone[j] > 1 else f"{model.alone[j]:.3f}"
        support = "never" if model.support[j] > 1 else f"{model.support[j]:.3f}"
        lines.append(f"| {c.value} | {support} | {alone} | {model.calibration[j, 0]:.3f} | "
                     f"{model.calibration[j, 1]:.3f} |")
    lines += ["", "## Figures (the tier alone, per message, 95 % Wilson intervals)", "",
              "Precision and recall of `p ≥ alone`; *supported* counts the positives whose "
              "probability reaches `support` (where the tier adds to a rule's signal). "
              "`+conversation`: families whose messages are not clear one by one.", ""]
    for split, figures in report.figures.items():
        lines += [f"### {split}", "",
                  "| category | TP | FP | FN | precision [95 %] | recall [95 %] | supported |",
                  "|---|---|---|---|---|---|---|"]
        lines += [_row(category, counts) for category, counts in figures.items()
                  if counts.positives or counts.fp]
        lines.append("")
    if report.system:
        lines += ["## With the rules (what a scan finds)", "",
                  "The same messages posted one by one through the engine's text detectors "
                  "(each in its own channel: a direct message for families written for direct "
                  "messages; semantic layer off): the rules alone, then the rules with this "
                  "model. Precision and recall per message, 95 % Wilson intervals.", ""]
        for split, modes in report.system.items():
            names = list(modes)
            lines += [f"### {split}", "",
                      "| category | " + " | ".join(
                          f"{n} precision | {n} recall" for n in names) + " |",
                      "|---|" + "---|---|" * len(names)]
            for category in modes[names[0]]:
                cells = []
                for n in names:
                    cnt = modes[n][category]
                    p, (plo, phi) = cnt.precision()
                    r, (rlo, rhi) = cnt.recall()
                    cells += [f"{_pct(p)} [{plo:.2f}, {phi:.2f}] ({cnt.tp}/{cnt.tp + cnt.fp})",
                              f"{_pct(r)} [{rlo:.2f}, {rhi:.2f}] ({cnt.tp}/{cnt.positives})"]
                lines.append(f"| {category} | " + " | ".join(cells) + " |")
            lines.append("")
    lines += ["## Known weaknesses", "",
              "- It reads one message at a time: grooming and sextortion spread over a "
              "conversation are the conversation detector's; a message that is only clear "
              "with its context stays below `alone`.",
              "- It has learnt the corpus's families: phrasings no writer thought of are "
              "missed, and ordinary talk close to a positive family's words can be flagged. "
              "Families it handled worst (half their messages missed, or flagged):"]
    for split, weak in report.misses.items():
        if weak:
            lines.append(f"  - {split}: " + ", ".join(f"`{w}`" for w in weak))
        else:
            lines.append(f"  - {split}: none")
    lines += ["- No channel, server or account reading yet; images are not read.",
              "- Probabilities are calibrated on the tune families' mix of positives and hard "
              "negatives, far richer in positives than real traffic: read them as a ranking "
              "with a tested precision, not as a base rate.", ""]
    return "\n".join(lines)
