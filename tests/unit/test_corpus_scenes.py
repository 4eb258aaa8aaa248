"""Scenes (corpus/scenes.py): whole conversations and servers as data, checked with errors
that say where; the package's scenes load; the measure labels who is who."""

from __future__ import annotations

from typing import Any

import pytest

from veilleur.corpus.scene_measure import measure_scenes
from veilleur.corpus.scenes import (
    Conversation,
    SceneError,
    Server,
    filler,
    load_scenes,
    parse_scenes,
    say,
)
from veilleur.corpus.split import HELD_OUT_SCENE_WRITERS, scene_split_of
from veilleur.detect.base import DetectorSettings
from veilleur.taxonomy import Category, TargetKind

CONV: dict[str, Any] = {
    "id": "en-test", "category": "grooming", "lang": "en", "about": "a test",
    "relation": "stranger", "suspect": "a", "days": 4,
    "people": {"a": "adult", "k": "minor"},
    "turns": ["k: hi", "a: hey {name}", "~", "a!: dont tell ur parents {name}"],
    "slots": {"name": ["Ana", "Bea", "Cleo", "Dee"]}}
SERVER: dict[str, Any] = {
    "id": "s-test", "category": "ncii", "lang": "fr", "about": "a test", "name": "Les {x}",
    "suspects": ["owner"],
    "channel": [{"name": "vos-ex", "category": "ncii",
                 "messages": ["owner: postez vos ex {x}", "bot: bienvenue"]},
                {"name": "général", "messages": ["m1: salut"]}],
    "slots": {"x": ["a", "b", "c", "d"]}}


def test_a_scene_file_is_checked_and_filled_consistently() -> None:
    conv, server = parse_scenes({"writer": "zz", "conversation": [CONV], "server": [SERVER]},
                                "t.toml")
    assert isinstance(conv, Conversation) and isinstance(server, Server)
    assert conv.turns[2].new_day and conv.turns[2].decisive
    values = filler(conv, 1)
    assert values == filler(conv, 1)  # the same reading, the same names
    assert say(conv.turns[1].text, values).endswith(values["name"])


@pytest.mark.parametrize(("change", "message"), [
    ({"suspect": "z"}, "'suspect' must be one of"),
    ({"turns": ["a: hi", "k: yo {name}"]}, "mark the suspect's decisive turns"),
    ({"turns": ["a!: hi {name}", "q: hey"]}, "speaker 'q' is not in 'people'"),
    ({"turns": ["a!: hi {nom}", "k: x"]}, "undefined slot"),
    ({"turns": ["a!: hi", "k: x"]}, "used by no turn"),
    ({"slots": {"name": ["one"]}}, "fewer than 4 fillings"),
    ({"people": {"a": "adult", "k": "child"}}, "'people' must name"),
    ({"category": "none"}, "has no suspect"),
])
def test_faults_are_named_with_their_place(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SceneError, match=message) as err:
        parse_scenes({"writer": "zz", "conversation": [{**CONV, **change}]}, "t.toml")
    assert "t.toml" in str(err.value) and "en-test" in str(err.value)


def test_server_faults_are_named() -> None:
    with pytest.raises(SceneError, match="name the accounts that run it"):
        parse_scenes({"writer": "zz", "server": [{**SERVER, "suspects": []}]}, "t.toml")
    with pytest.raises(SceneError, match="no channel is labelled 'ncii'"):
        parse_scenes({"writer": "zz", "server": [{**SERVER, "channel": [
            {"name": "a", "messages": ["m1: {x}"]}]}]}, "t.toml")


def test_the_package_scenes_load_and_split_by_scene() -> None:
    scenes = load_scenes()
    assert len(scenes) > 100
    kinds = {(type(s).__name__, s.category) for s in scenes}
    assert ("Conversation", None) in kinds and ("Server", Category.CSAM) in kinds
    splits = {scene_split_of(s.key, s.writer) for s in scenes
              if s.writer not in HELD_OUT_SCENE_WRITERS}
    assert splits == {"tune", "test"}
    assert all(scene_split_of(s.key, s.writer) == "test" for s in scenes
               if s.writer in HELD_OUT_SCENE_WRITERS)


def test_the_measure_labels_who_is_who() -> None:
    conv, server = parse_scenes({"writer": "zz", "conversation": [CONV], "server": [SERVER]},
                                "t.toml")
    r = measure_scenes([conv, server], variants=1,
                       settings=DetectorSettings(semantic=False, learned=False))
    scores = r.result.scores
    # the suspect and the server are positives; a miss is a miss, never silently dropped
    grooming = scores[(Category.GROOMING, TargetKind.USER)]
    assert grooming.tp + grooming.fn == 1
    ncii = scores[(Category.NCII, TargetKind.GUILD)]
    assert ncii.tp + ncii.fn == 1
    assert r.readings == 2 and r.messages == 6
