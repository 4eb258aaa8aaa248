"""Channels, servers and accounts as targets from the findings on what they hold and say
(decide/rollup.py): enough found messages, as a share of the talk, from the content's
category; one post never taints a place; a place's own suspicion never feeds itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from veilleur.decide.policy import Finding
from veilleur.decide.rollup import Rollup, TargetsPolicyError, parse_targets_policy
from veilleur.detect.base import POLICY_DIR
from veilleur.engine import Engine
from veilleur.events import (
    Channel,
    ChannelCreated,
    Guild,
    GuildCreated,
    Message,
    MessagePosted,
    User,
)
from veilleur.state import Directory, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

T = datetime(2026, 5, 1, tzinfo=UTC)


class _Ctx:
    def __init__(self) -> None:
        self.d = Directory(MemoryState())

    def __getattr__(self, name: str):  # guild, channel, user
        return getattr(self.d, name)


def _found(mid: str, cat: Category, cid: str, gid: str | None, author: str,
           score: float = 0.9, own: float | None = None, text: str | None = None
           ) -> Finding:
    return Finding(Target(TargetKind.MESSAGE, mid), cat, score, ("text.lexicon",), "e",
                   {"guild_id": gid, "channel_id": cid, "author_id": author},
                   f"message {mid}" if text is None else text, own_score=own)


def _posts(rollup: Rollup, cid: str, gid: str | None, n: int) -> None:
    for i in range(n):
        rollup.observe(MessagePosted(ts=T, message=Message(f"{cid}-x{i}", cid, gid, "u", "hi")))


def _targets(signals: list) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for s in signals:
        key = (s.target.kind.value, s.target.id)
        out[key] = max(out.get(key, 0.0), s.strength)
    return out


def test_one_post_never_taints_a_channel_and_two_in_a_busy_one_do_not_either() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR), _Ctx()
    _posts(rollup, "c1", "g1", 200)
    got = _targets(rollup.take([_found("m1", Category.CSAM, "c1", "g1", "a"),
                                _found("m2", Category.CSAM, "c1", "g1", "b")], ctx))
    assert ("channel", "c1") not in got and ("guild", "g1") not in got
    # In a small channel, the same two posts are what it is for.
    _posts(rollup, "c2", "g2", 8)
    got = _targets(rollup.take([_found("m3", Category.CSAM, "c2", "g2", "a")], ctx))
    assert ("channel", "c2") not in got
    got = _targets(rollup.take([_found("m4", Category.CSAM, "c2", "g2", "b")], ctx))
    assert got[("channel", "c2")] >= 0.7


def test_the_owners_and_bots_posts_weigh_more_but_one_post_is_still_one() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR), _Ctx()
    ctx.d.apply(GuildCreated(ts=T, guild=Guild("g1", "x", owner_id="boss")))
    ctx.d.apply(MessagePosted(ts=T, message=Message("w", "c1", "g1", "bot", "welcome"),
                              author=User("bot", "bot", is_bot=True)))
    _posts(rollup, "c1", "g1", 30)
    got = _targets(rollup.take([_found("m1", Category.CSAM, "c1", "g1", "bot", score=0.8)],
                               ctx))
    assert ("channel", "c1") not in got  # one ambiguous welcome embed is one post
    got = _targets(rollup.take([_found("m2", Category.CSAM, "c1", "g1", "boss", score=0.8)],
                               ctx))
    # two staff posts weigh four of thirty: over the share two members' posts would not reach
    assert got[("channel", "c1")] >= 0.7
    assert ("user", "bot") not in got  # a bot is the owner's tool, not a suspect
    # Unambiguous pinned rules by the owner say what a channel is for, alone.
    _posts(rollup, "c3", "g1", 10)
    got = _targets(rollup.take([_found("m3", Category.NCII, "c3", "g1", "boss", score=0.9)],
                               ctx))
    assert got[("channel", "c3")] >= 0.7
    found = Finding(Target(TargetKind.GUILD, "g1"), Category.CSAM, 0.9, ("text.lexicon",),
                    "e", {"guild_id": "g1"})
    # Owning it is evidence against the owner that joins the rest, never a finding alone.
    assert 0.3 <= _targets(rollup.take([found], ctx))[("user", "boss")] < 0.7
    # A server found only from how its name reads by meaning does not accuse its owner.
    ctx.d.apply(GuildCreated(ts=T, guild=Guild("g2", "y", owner_id="namer")))
    named = Finding(Target(TargetKind.GUILD, "g2"), Category.NCII, 0.75, ("places.meaning",),
                    "e", {"guild_id": "g2"})
    assert rollup.take([named], ctx) == []


def test_messages_found_elsewhere_never_make_a_share_above_the_whole() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR), _Ctx()  # nothing observed: a restart, a bank
    got = rollup.take([_found(f"m{i}", Category.CSAM, "c9", "g9", f"a{i}") for i in range(2)],
                      ctx)
    evidence = " ".join(s.evidence for s in got)
    assert "2 of its 2 messages" in evidence and "200%" not in evidence


def test_found_only_because_of_the_place_never_feeds_the_place() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR, {c: 0.7 for c in Category}), _Ctx()
    _posts(rollup, "c1", "g1", 3)
    got = rollup.take([_found(f"m{i}", Category.CSAM, "c1", "g1", "a", own=0.0)
                       for i in range(3)], ctx)
    assert got == []


def test_accounts_from_their_own_messages_counted_once_however_often_read() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR, minor=lambda u: u.startswith("kid")), _Ctx()
    one = _found("m1", Category.GROOMING, "dm1", None, "man", score=0.8)
    assert _targets(rollup.take([one], ctx)) == {}
    assert _targets(rollup.take([one], ctx)) == {}  # the same message read again
    got = _targets(rollup.take([_found("m2", Category.GROOMING, "dm2", None, "man")], ctx))
    assert got[("user", "man")] >= 0.7
    # A child's words to another child never make a grooming account.
    kid = [_found(f"k{i}", Category.GROOMING, "dm5", None, "kid1") for i in range(4)]
    assert ("user", "kid1") not in _targets(rollup.take(kid, ctx))
    # The conversation tier's own message findings are already on the account it names.
    conv = [Finding(Target(TargetKind.MESSAGE, f"c{i}"), Category.GROOMING, 0.9,
                    ("conversation.risk",), "e", {"guild_id": None, "channel_id": "dm6",
                                                  "author_id": "adult"}, f"text {i}")
            for i in range(3)]
    assert rollup.take(conv, ctx) == []
    # A single very strong demand in a direct conversation is enough to act on the account.
    got = _targets(rollup.take([_found("m9", Category.SEXTORTION, "dm3", None, "x",
                                       score=0.97)], ctx))
    assert got[("user", "x")] >= 0.7
    # One sentence pasted in two places is one thing said, not two.
    pasted = [_found(f"p{i}", Category.CSAM, f"c{i}", "g", "fan", text="any young adult recs?")
              for i in range(2)]
    assert ("user", "fan") not in _targets(rollup.take(pasted, ctx))
    # Findings without an excerpt are each their own message.
    bare = [_found(f"b{i}", Category.CSAM, "c8", "g8", "seller", text="") for i in range(2)]
    assert ("user", "seller") in _targets(rollup.take(bare, ctx))


def test_the_same_words_in_another_order_are_one_post() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR), _Ctx()
    _posts(rollup, "c1", "g1", 3)
    same = [_found(f"m{i}", Category.CSAM, "c1", "g1", f"a{i}", text=t) for i, t in enumerate((
        "le pack de skins est dispo — mon petit frère est en CP",
        "Mon petit frère est en CP, le pack de skins est dispo"))]
    assert not any(s.target.kind is TargetKind.CHANNEL for s in rollup.take(same, ctx))
    other = _found("m9", Category.CSAM, "c1", "g1", "a9", text="pack CM2 42 fichiers")
    assert ("channel", "c1") in _targets(rollup.take([other], ctx))


def test_the_category_follows_the_content() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR), _Ctx()
    _posts(rollup, "c1", "g1", 4)
    got = rollup.take([_found(f"m{i}", Category.NCII, "c1", "g1", f"a{i}") for i in range(3)],
                      ctx)
    assert ("channel", Category.NCII) in {(s.target.kind.value, s.category) for s in got}
    assert all(s.category is Category.NCII for s in got)


def test_bad_settings_are_named() -> None:
    good = {"version": "v", "channel": {k: 1 for k in (
        "min_messages", "min_share", "strength", "strong_messages", "strong_share",
        "strong_strength", "staff_single", "found_server_messages",
        "found_server_strength")}, "guild": {k: 1 for k in (
            "min_channels", "channels_strength", "min_messages", "min_share", "min_talk",
            "strength", "one_channel_strength")}, "account": {k: 1 for k in (
                "min_messages", "strength", "strong_messages", "strong_strength",
                "single_direct", "single_direct_strength", "owner_strength", "keep")}}
    parse_targets_policy(good)
    with pytest.raises(TargetsPolicyError, match=r"channel.strength must be at most 1"):
        parse_targets_policy({**good, "channel": {**good["channel"], "strength": 2}})
    with pytest.raises(TargetsPolicyError, match=r"missing \[guild\]"):
        parse_targets_policy({k: v for k, v in good.items() if k != "guild"})
    with pytest.raises(TargetsPolicyError, match=r"channel.min_messages must be a whole"):
        parse_targets_policy({**good, "channel": {**good["channel"], "min_messages": 0}})
    with pytest.raises(TargetsPolicyError, match=r"strong_messages must be at least"):
        parse_targets_policy({**good, "account": {**good["account"], "min_messages": 3}})
    with pytest.raises(TargetsPolicyError, match=r"found_server_messages must be a whole"):
        parse_targets_policy({**good, "channel": {**good["channel"],
                                                  "found_server_messages": 0.5}})
    # A server's finding must never make every channel in it a finding alone.
    with pytest.raises(TargetsPolicyError, match=r"found_server_strength must stay below"):
        Rollup(parse_targets_policy(good), {c: 0.7 for c in Category})
    Rollup(parse_targets_policy({**good, "channel": {**good["channel"],
                                                      "found_server_strength": 0.5}}))
    with pytest.raises(TargetsPolicyError, match=r"at least channel.found_server_messages"):
        parse_targets_policy({**good, "channel": {**good["channel"], "min_messages": 2,
                                                  "strong_messages": 3,
                                                  "found_server_messages": 3}})


def _server(rollup: Rollup, ctx: _Ctx, gid: str, cat: Category, score: float = 0.9,
            detectors: tuple[str, ...] = ("targets.rollup",)) -> list:
    """The server's finding, made from what is said in it (the roll-up's own) by default."""
    keys = ("messages",) if "targets.rollup" in detectors else ("other",)
    return rollup.take([Finding(Target(TargetKind.GUILD, gid), cat, score, detectors, "e",
                                {"guild_id": gid}, signal_keys=keys)], ctx)


def test_in_a_server_found_of_a_category_one_found_post_makes_its_channel() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR, {c: 0.7 for c in Category}), _Ctx()
    for cid in ("folder", "lobby", "busy"):
        _posts(rollup, cid, "g1", 40 if cid == "busy" else 4)
    one = [_found("m1", Category.CSAM, "folder", "g1", "a"),
           _found("m2", Category.CSAM, "busy", "g1", "b")]
    got = rollup.take(one, ctx)
    assert not any(s.target.kind is TargetKind.CHANNEL and s.strength >= 0.7 for s in got)
    got = _server(rollup, ctx, "g1", Category.CSAM)
    strong = {s.target.id: s for s in got
              if s.target.kind is TargetKind.CHANNEL and s.strength >= 0.7}
    # the folder's one post is a share of its talk; one post in forty is not
    assert set(strong) == {"folder"} and strong["folder"].contextual
    assert "in a server found csam" in strong["folder"].evidence
    assert strong["folder"].key == "messages:server"  # found later on its own: another key
    # Every talking channel gets the server's finding as evidence that joins its own...
    joins = {s.target.id: s.strength for s in got if s.key == "server"}
    assert set(joins) == {"folder", "lobby", "busy"}
    assert all(v < 0.7 for v in joins.values())
    # ... and so does a channel that starts talking later, once.
    got = rollup.observe(MessagePosted(ts=T, message=Message("n1", "new", "g1", "u", "hi")))
    assert [(s.target.id, s.key) for s in got] == [("new", "server")]
    assert rollup.observe(MessagePosted(ts=T, message=Message("n2", "new", "g1", "u", "x"))
                          ) == []
    # Another category, or another server, is not lifted.
    got = rollup.take([_found("m3", Category.NCII, "lobby", "g1", "c")], ctx)
    assert not any(s.target.kind is TargetKind.CHANNEL for s in got)
    assert _server(rollup, ctx, "g1", Category.CSAM) == []  # known already: said once
    _posts(rollup, "elsewhere", "g2", 4)
    got = rollup.take([_found("m5", Category.CSAM, "elsewhere", "g2", "e")], ctx)
    assert not any(s.target.kind is TargetKind.CHANNEL for s in got)


def test_a_channel_found_because_its_server_is_does_not_make_the_server() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR, {c: 0.7 for c in Category}), _Ctx()
    lifted = Finding(Target(TargetKind.CHANNEL, "c1"), Category.CSAM, 0.8,
                     ("targets.rollup",), "e", {"guild_id": "g1", "channel_id": "c1"},
                     own_score=0.45, signal_keys=("server", "meaning:channel"))
    assert rollup.take([lifted], ctx) == []
    own = Finding(Target(TargetKind.CHANNEL, "c2"), Category.CSAM, 0.8, ("text.lexicon",),
                  "e", {"guild_id": "g1", "channel_id": "c2"})
    assert [s.target for s in rollup.take([own], ctx)] == [Target(TargetKind.GUILD, "g1")]


def test_a_server_whose_staff_post_is_found_is_judged_again_when_its_talk_is_enough() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR), _Ctx()
    min_talk = int(rollup.policy.guild["min_talk"])
    for gid in ("g1", "g2"):
        ctx.d.apply(GuildCreated(ts=T, guild=Guild(gid, "x", owner_id=f"boss-{gid}")))

    def talk(gid: str) -> list:
        out = []
        for i in range(min_talk + 5):
            out += rollup.observe(MessagePosted(ts=T, message=Message(
                f"{gid}-t{i}", f"{gid}-chat", gid, "u", "salut")))
        return [(s.target.id, s.category) for s in out if s.target.kind is TargetKind.GUILD]

    # A catalogue's rules and price list come first, found before its talk says anything.
    got = rollup.take([_found("r0", Category.CSAM, "rules", "g1", "boss-g1", score=0.9),
                       *(_found(f"r{i}", Category.CSAM, "prices", "g1", f"a{i}")
                         for i in range(1, 3))], ctx)
    assert not any(s.target.kind is TargetKind.GUILD and s.key == "messages" for s in got)
    assert talk("g1") == [("g1", Category.CSAM)]  # once, at its twentieth message
    # Members' early finds, even enough to make a channel (a gaming server's first "pack",
    # "CP" in a quiet channel), are not judged again.
    got = rollup.take([_found(f"p{i}", Category.CSAM, "quiet", "g2", f"b{i}")
                       for i in range(3)], ctx)
    assert ("channel", "quiet") in _targets(got)
    assert talk("g2") == []


def test_a_server_found_only_by_its_name_or_as_a_successor_lifts_no_channel() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR, {c: 0.7 for c in Category}), _Ctx()
    for gid, detector in (("g1", "places.meaning"), ("g2", "network.links"),
                          ("g3", "text.lexicon")):
        _posts(rollup, f"{gid}-c", gid, 4)
        rollup.take([_found(f"{gid}-m", Category.NCII, f"{gid}-c", gid, "a")], ctx)
        got = _server(rollup, ctx, gid, Category.NCII, detectors=(detector,))
        assert not any(s.target.kind is TargetKind.CHANNEL for s in got), detector
    # ... and the same server found from what is said in it does
    got = _server(rollup, ctx, "g2", Category.NCII,
                  detectors=("network.links", "targets.rollup"))
    assert any(s.target.kind is TargetKind.CHANNEL for s in got)


def test_the_channels_that_made_a_server_are_not_given_its_finding_back() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR, {c: 0.7 for c in Category}), _Ctx()
    for cid in ("c1", "c2", "c3"):
        _posts(rollup, cid, "g1", 5)
    for cid in ("c1", "c2"):
        rollup.take([Finding(Target(TargetKind.CHANNEL, cid), Category.CSAM, 0.8,
                             ("targets.rollup",), "e", {"guild_id": "g1", "channel_id": cid},
                             signal_keys=("messages",))], ctx)
    got = _server(rollup, ctx, "g1", Category.CSAM, detectors=("targets.rollup",))
    assert [s.target.id for s in got if s.key == "server"] == ["c3"]
    # Channels found by their names make a server that lifts nothing.
    for cid in ("n1", "n2", "n3"):
        _posts(rollup, cid, "g2", 5)
    for cid in ("n1", "n2"):
        rollup.take([Finding(Target(TargetKind.CHANNEL, cid), Category.NCII, 0.8,
                             ("places.meaning",), "e", {"guild_id": "g2", "channel_id": cid})],
                    ctx)
    got = rollup.take([Finding(Target(TargetKind.GUILD, "g2"), Category.NCII, 0.8,
                               ("targets.rollup",), "e", {"guild_id": "g2"},
                               signal_keys=("channels:2",))], ctx)
    assert not any(s.target.kind is TargetKind.CHANNEL for s in got)


class _Stub:
    """Finds the ads as csam messages, and reads a channel's name as weak evidence."""

    id = "stub"
    version = "1"

    def detect(self, event, ctx):  # type: ignore[no-untyped-def]
        from veilleur.detect.base import Signal
        if isinstance(event, MessagePosted) and event.message.content.startswith("ad"):
            m = event.message
            return [Signal("stub", "1", Target(TargetKind.MESSAGE, m.id), Category.CSAM, 0.9,
                           "ad", "ad", {"guild_id": m.guild_id, "channel_id": m.channel_id,
                                        "author_id": m.author_id})]
        if isinstance(event, ChannelCreated) and event.channel.name == "folder":
            c = event.channel
            return [Signal("stub", "1", Target(TargetKind.CHANNEL, c.id), Category.CSAM, 0.4,
                           "name", "name", {"guild_id": c.guild_id, "channel_id": c.id})]
        return []


def test_in_the_engine_a_found_servers_channels_join_it_and_feed_nothing_back() -> None:
    from veilleur.decide.policy import load_policy
    policy = load_policy(POLICY_DIR / "policy.toml")
    engine = Engine([_Stub()], policy,  # type: ignore[list-item]
                    rollup=Rollup.load(POLICY_DIR, policy.thresholds))
    events: list = [GuildCreated(ts=T, guild=Guild("g1", "x", owner_id="boss")),
                    ChannelCreated(ts=T, channel=Channel("shop", "g1", "shop")),
                    ChannelCreated(ts=T, channel=Channel("c2", "g1", "folder"))]
    events += [MessagePosted(ts=T, message=Message(f"a{i}", "shop", "g1", f"s{i}", f"ad {i}"))
               for i in range(3)]
    # the folder starts talking after the server is found: `observe` lifts it
    events += [MessagePosted(ts=T, message=Message("f1", "c2", "g1", "u", "merci"))]
    found = {(f.target.kind.value, f.target.id): f for ev in events for f in engine.process(ev)}
    assert ("guild", "g1") in found and ("channel", "shop") in found
    folder = found[("channel", "c2")]
    assert folder.own_score is not None and folder.own_score < 0.7  # contextual: no feedback
    assert "in server g1" in folder.evidence
    assert engine.rollup is not None
    guild = engine.rollup._state.get("rollup.guild", "g1")
    assert guild.channels[Category.CSAM] == {"shop"}  # the folder did not count for it


def test_the_engine_makes_a_catalogue_channel_its_server_and_its_seller_targets() -> None:
    engine = Engine.build()
    events = [GuildCreated(ts=T, guild=Guild("g1", "Le coin", owner_id="boss")),
              ChannelCreated(ts=T, channel=Channel("c1", "g1", "discussion"))]
    ads = ["PACK SPÉCIAL nudes ados 13-15 ans, 20€ en paysafecard, DM moi",
           "vends pack cp mineures, teaser gratuit, le reste en VIP",
           "nouveau pack de gamines 12 ans dispo, paiement crypto en mp"]
    for i, text in enumerate([*ads, "salut", "merci"]):
        events.append(MessagePosted(ts=T + timedelta(minutes=i), message=Message(
            f"m{i}", "c1", "g1", "seller" if i < 3 else f"u{i}", text)))
    found = {(f.target.kind.value, f.target.id, f.category.value)
             for ev in events for f in engine.process(ev)}
    assert {("channel", "c1", "csam"), ("guild", "g1", "csam"), ("user", "seller", "csam")
            } <= found
    assert ("user", "boss", "csam") not in found  # owning it only joins other evidence
    assert not any(k == "user" and i.startswith("u") for k, i, _ in found)


def test_a_staff_posts_own_strength_decides_not_the_one_its_server_lends() -> None:
    rollup, ctx = Rollup.load(POLICY_DIR), _Ctx()
    ctx.d.apply(GuildCreated(ts=T, guild=Guild("g1", "x", owner_id="boss")))
    _posts(rollup, "c1", "g1", 10)
    lent = _found("m1", Category.CSAM, "c1", "g1", "boss", score=0.9, own=0.75)
    assert ("channel", "c1") not in _targets(rollup.take([lent], ctx))
    own = _found("m2", Category.CSAM, "c2", "g1", "boss", score=0.9, own=0.9)
    _posts(rollup, "c2", "g1", 10)
    assert ("channel", "c2") in _targets(rollup.take([own], ctx))
