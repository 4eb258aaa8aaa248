"""`statecodec`: what the engine keeps goes out as plain JSON and comes back as the same
value, of the same type; anything else is refused with where it went wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veilleur.bus.state import codecs, merges
from veilleur.decide.policy import merge_entries
from veilleur.decide.rollup import merge_places
from veilleur.statecodec import CodecError, codec
from veilleur.taxonomy import Category


@dataclass
class Inner:
    n: int
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outer:
    name: str
    tags: frozenset[str] = frozenset()
    by_cat: dict[Category, list[Inner]] = field(default_factory=dict)
    by_set: dict[frozenset[str], float] = field(default_factory=dict)
    pair: tuple[str, int] = ("", 0)
    spans: tuple[tuple[int, int], ...] = ()


def test_a_value_comes_back_as_it_went() -> None:
    value = Outer("x", frozenset({"b", "a"}),
                  {Category.CSAM: [Inner(1, datetime(2026, 1, 2, tzinfo=UTC)), Inner(2)]},
                  {frozenset({"p", "q"}): 0.5}, ("k", 3), ((0, 4), (6, 9)))
    out, back = codec(Outer)
    text = json.dumps(out(value))
    assert back(json.loads(text)) == value
    assert json.dumps(out(back(json.loads(text)))) == text  # one value, one encoding


@pytest.mark.parametrize(("raw", "where"), [
    ({"name": 3}, "Outer.name"),
    ({"name": "x", "tags": "ab", "by_cat": [], "by_set": [], "pair": ["a", 1], "spans": []},
     "Outer.tags"),
    ({"name": "x", "tags": [], "by_cat": [["nope", []]], "by_set": [], "pair": ["a", 1],
      "spans": []}, "Outer.by_cat"),
    ({"name": "x", "tags": [], "by_cat": [], "by_set": [], "pair": ["a", True],
      "spans": []}, "Outer.pair"),
    ({"tags": [], "by_cat": [], "by_set": [], "pair": ["a", 1], "spans": []},
     "'name' is missing"),
    ("{}", "expected an object"),
])
def test_anything_else_is_refused_with_where(raw: object, where: str) -> None:
    with pytest.raises(CodecError, match=where.replace("(", r"\(")):
        codec(Outer)[1](raw)


def test_a_value_stored_before_a_field_with_a_default_existed_still_decodes() -> None:
    """A deployment upgraded in place reads back what it kept: a field added since (with a
    default) takes its default, a field without one is still refused (above)."""
    assert codec(Outer)[1]({"name": "x", "pair": ["a", 1]}) == Outer("x", pair=("a", 1))


def test_every_shared_namespace_has_a_codec() -> None:
    assert merges().keys() <= codecs().keys()


_ids = st.text(alphabet="abcdef", min_size=1, max_size=3)


@st.composite
def places(draw: st.DrawFn) -> object:
    from veilleur.decide.rollup import _Found, _Place

    found = {cat: _Found(weight=draw(st.floats(0, 5)),
                         ids={i: 1.0 for i in draw(st.sets(_ids, max_size=4))},
                         places=draw(st.sets(_ids, max_size=4)),
                         direct_max=draw(st.floats(0, 1)), count=draw(st.integers(0, 9)),
                         excerpts=sorted((i, "t" + i) for i in draw(st.sets(_ids, max_size=3))),
                         texts=draw(st.sets(st.integers(0, 99), max_size=5)))
             for cat in draw(st.sets(st.sampled_from(list(Category)), max_size=2))}
    return _Place(draw(st.integers(0, 50)), found, {}, draw(st.sets(_ids, max_size=3)))


@given(places(), places(), places())
def test_merging_accounts_is_order_free(a: object, b: object, c: object) -> None:
    """Labels may come in any order and twice: the merge is a join (commutative,
    associative, idempotent) on what judges an account."""
    m = merge_places
    assert m(a, b) == m(b, a)  # type: ignore[arg-type]
    assert m(m(a, b), c) == m(a, m(b, c))  # type: ignore[arg-type]
    assert m(m(a, b), b) == m(a, b)  # type: ignore[arg-type]


@st.composite
def guild_entries(draw: st.DrawFn) -> object:
    from veilleur.events import Guild

    return Guild("g", draw(st.none() | st.sampled_from(["a", "b"])), None, None,
                 draw(st.none() | st.lists(st.sampled_from(["Admin", "VIP", "13-15", "Modo"]),
                                          max_size=4, unique=True).map(tuple)))


@given(guild_entries(), guild_entries(), guild_entries())
def test_a_servers_roles_merge_as_both_replicas_saw_them(a: object, b: object,
                                                        c: object) -> None:
    from veilleur.bus.state import merge_fields

    m = merge_fields
    assert m(a, b) == m(b, a)
    assert m(m(a, b), c) == m(a, m(b, c))
    assert m(m(a, b), b) == m(a, b)
    roles = [set(g.roles or ()) for g in (a, b)]  # type: ignore[attr-defined]
    assert set(m(a, b).roles or ()) == roles[0] | roles[1]


def test_merging_book_entries_keeps_each_observation_at_its_strongest() -> None:
    from veilleur.decide.policy import _Entry
    from veilleur.detect.base import Signal
    from veilleur.taxonomy import Target, TargetKind

    def sig(det: str, strength: float) -> Signal:
        return Signal(det, "1", Target(TargetKind.USER, "u"), Category.CSAM, strength, "e", "k")

    a = _Entry({("x", "k"): sig("x", 0.5)}, 0.5)
    b = _Entry({("x", "k"): sig("x", 0.6), ("y", "k"): sig("y", 0.5)}, 0.8)
    merged = merge_entries(a, b)
    assert merged == merge_entries(b, a) == merge_entries(merged, a)
    assert merged.score == pytest.approx(1 - 0.4 * 0.5)


_when = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31),
                     timezones=st.just(UTC))


@st.composite
def records(draw: st.DrawFn) -> object:
    from veilleur.detect.conversation.ages import AgeClaim, AgeRecord
    from veilleur.events import AgeBand

    claims = [AgeClaim(draw(st.integers(9, 40)), "said", draw(_when),
                       draw(st.none() | _ids), "t") for _ in range(draw(st.integers(0, 15)))]
    unique = list({(c.message_id, c.age): c for c in claims}.values())
    return AgeRecord(draw(st.none() | st.sampled_from(list(AgeBand))), unique)


@st.composite
def guilds(draw: st.DrawFn) -> object:
    from veilleur.detect.network.graph import GuildNode

    return GuildNode("g", draw(st.sampled_from(["", "a", "b"])),
                     draw(st.none() | st.sampled_from(["o1", "o2"])), draw(st.none() | _when),
                     {u: draw(_when) for u in draw(st.sets(_ids, max_size=4))},
                     draw(st.sets(_ids, max_size=3)), draw(st.sets(_ids, max_size=3)),
                     {k: "m" for k in draw(st.sets(_ids, max_size=2))},
                     {k: "c" for k in draw(st.sets(_ids, max_size=2))},
                     {k: draw(st.integers(1, 5)) for k in draw(st.sets(_ids, max_size=2))})


@st.composite
def users(draw: st.DrawFn) -> object:
    from veilleur.detect.network.graph import UserNode

    return UserNode("u", draw(st.sampled_from(["", "x", "y"])), draw(st.none() | _when),
                    sorted({(g, draw(_when)) for g in draw(st.sets(_ids, max_size=4))},
                           key=lambda j: (j[1], j[0])),
                    draw(st.sets(_ids, max_size=3)), draw(st.sets(_ids, max_size=3)))


@pytest.mark.parametrize(("namespace", "values"), [
    ("conv.age", records()), ("graph.guild", guilds()), ("graph.user", users()),
    ("graph.pointed", st.sets(_ids, max_size=4)), ("network.successors", st.sets(_ids)),
    ("network.successor_since", _when), ("graph.invite", _ids)])
def test_every_shared_merge_is_order_free(namespace: str, values: st.SearchStrategy[object]
                                          ) -> None:
    """Every shared namespace merges as a join: commutative, associative, idempotent (the
    labels of several workers arrive in any order, and again after a restart)."""
    m = merges()[namespace]

    @given(values, values, values)
    def check(a: object, b: object, c: object) -> None:
        assert m(a, b) == m(b, a)
        assert m(m(a, b), c) == m(a, m(b, c))
        assert m(m(a, b), b) == m(a, b)

    check()
