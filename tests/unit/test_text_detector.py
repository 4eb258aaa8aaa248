from __future__ import annotations

from datetime import UTC, datetime

from veilleur.engine import Engine
from veilleur.events import Channel, ChannelCreated, Guild, GuildCreated, Message, MessagePosted
from veilleur.taxonomy import Category, Target, TargetKind

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def engine_with(guild: str, channels: list[tuple[str, str]]) -> Engine:
    engine = Engine.build()
    engine.process(GuildCreated(ts=T0, guild=Guild(id="g", name=guild)))
    for cid, name in channels:
        engine.process(ChannelCreated(ts=T0, channel=Channel(id=cid, guild_id="g", name=name)))
    return engine


def say(engine: Engine, text: str, mid: str, channel: str = "c1") -> None:
    engine.process(MessagePosted(ts=T0, message=Message(
        id=mid, channel_id=channel, guild_id="g", author_id="u", content=text)))


def flagged(engine: Engine) -> set[tuple[str, str, str]]:
    return {(f.target.kind.value, f.target.id, f.category.value) for f in engine.findings()}


def test_same_words_trade_in_a_catalogue_channel_nothing_in_a_game_shop() -> None:
    bad = engine_with("ADØS NXDES", [("c1", "teaser-mineure")])
    say(bad, "Teaser du pack, le reste en VIP", "m1")
    shop = engine_with("Game Shop", [("c1", "deals")])
    say(shop, "Teaser du pack, le reste en VIP", "m1")
    assert ("message", "m1", "csam") in flagged(bad)
    assert flagged(shop) == set()


def test_server_layout_is_judged() -> None:
    engine = engine_with("Leaks de vos ex", [("c1", "vos-cousines"), ("c2", "vos-soeurs")])
    assert ("guild", "g", "ncii") in flagged(engine)
    assert ("channel", "c1", "ncii") in flagged(engine)


def test_running_profile_makes_later_messages_context() -> None:
    engine = engine_with("Serveur", [("c1", "general")])
    say(engine, "hello", "m0")
    assert flagged(engine) == set()
    say(engine, "Pack VIP -12 ans, prix paypal", "m1")
    say(engine, "collection -13 ans en dm, paypal", "m2")
    say(engine, "le reste en vip", "m3")  # trade talk, now in a server with that profile
    assert ("message", "m3", "csam") in flagged(engine)


def test_links_join_findings_with_zero_weight_and_never_make_one() -> None:
    engine = engine_with("ADØS NXDES", [("c1", "teaser-mineure")])
    say(engine, "le reste sur mega. nz/folder/x, enlevez l'espace", "m1")
    (f,) = [f for f in engine.findings() if f.target == Target(TargetKind.MESSAGE, "m1")]
    assert "link.filehost" in f.detectors and "text.lexicon" in f.detectors
    assert "mega.nz, obfuscated" in f.evidence
    shop = engine_with("Minecraft", [("c1", "mods")])
    say(shop, "mon pack est sur mega. nz/x", "m1")
    assert flagged(shop) == set()


def test_findings_carry_highlight_spans() -> None:
    engine = engine_with("Serveur", [("c1", "general")])
    text = "Salut, 𝓷𝓾𝓭𝓮𝓼 des ADØS"
    say(engine, text, "m1")
    (f,) = engine.findings()
    assert f.category is Category.CSAM
    assert sorted(text[s:e] for s, e in f.spans) == ["ADØS", "𝓷𝓾𝓭𝓮𝓼"]


def test_highlight_escapes_and_marks() -> None:
    from veilleur.report.html import highlight

    assert str(highlight("a <b> nudes ados", ((6, 11), (12, 16)))) == (
        "a &lt;b&gt; <mark>nudes</mark> <mark>ados</mark>")
    assert str(highlight("short", ((2, 99),))) == "short"
