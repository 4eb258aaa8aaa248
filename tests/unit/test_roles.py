"""A server's role names through the engine (`TextDetector._roles`): each role is read alone as
the server's name is, once; what the roles are found of is evidence that joins the server's
others, never a finding alone nor the context its members' talk is read in; what ordinary
roles say side by side is nothing. Role names here are invented for the tests (the corpus's
writers' lists are measured in the floors, not copied)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veilleur.detect.base import DetectorSettings
from veilleur.detect.text.detector import ROLE_STRENGTH
from veilleur.engine import Engine
from veilleur.events import (
    Channel,
    ChannelCreated,
    Guild,
    GuildCreated,
    GuildUpdated,
    Message,
    MessagePosted,
)
from veilleur.taxonomy import Category, TargetKind

T = datetime(2026, 5, 1, tzinfo=UTC)


def _engine() -> Engine:
    return Engine.build(DetectorSettings(semantic=False))


def _servers(engine: Engine, events: list) -> list:
    return [f for e in events for f in engine.process(e) if f.target.kind is TargetKind.GUILD]


def test_a_role_named_for_abuse_material_is_evidence_that_joins_never_a_finding_alone() -> None:
    engine = _engine()
    detector = next(d for d in engine.detectors if d.id == "text.lexicon")
    events = [GuildCreated(ts=T, guild=Guild("g", "Chill", owner_id="o")),
              ChannelCreated(ts=T, channel=Channel("c", "g", "general")),
              GuildUpdated(ts=T, guild=Guild("g", roles=("Admin", "Modo", "VIP")))]
    assert _servers(engine, events) == []
    told = GuildUpdated(ts=T, guild=Guild("g", roles=("Vendeur nvdes ados", "Pack ados 🔞")))
    engine.directory.apply(told)
    signals = list(detector.detect(told, engine.directory))
    # two roles, one observation, below the threshold: it joins the server's name, layout,
    # channels and posts (noisy-OR), never a finding alone
    assert {(s.target.kind, s.category, s.key) for s in signals} == {
        (TargetKind.GUILD, Category.CSAM, "roles")}
    assert all(s.strength <= ROLE_STRENGTH < 0.7 for s in signals)
    assert "in a role name" in signals[0].evidence
    assert engine.directory.guild("g").roles == (
        "Admin", "Modo", "VIP", "Vendeur nvdes ados", "Pack ados 🔞")
    engine2 = _engine()
    assert _servers(engine2, [*events, told]) == []
    # ... nor the context its members' talk is read in.
    assert not [f for f in engine2.process(MessagePosted(ts=T, message=Message(
        "m1", "c", "g", "u", "dispo en mp, 10€ le lot")))]


@pytest.mark.parametrize("roles", [
    # a community sorting its members by age, with shops' ranks and a game's leaks
    ("Admin", "13-15 ans", "16-17 ans", "Majeur", "Mineur", "VIP", "Vendeur vérifié",
     "Acheteur", "Pack 10€", "✅ Vérifié", "Leaks", "NSFW"),
    # children's tiers beside sellers' ranks, a leaks role beside an NSFW one: the signs a
    # list reading would use are ordinary side by side (clubs' groups, shifts, sizes, game
    # leaks with an NSFW opt-in), so a list is not read as a whole
    ("🍬 8-10", "🍭 11-12", "Vendeur", "Uploader"), ("Leaks", "NSFW", "Exposed", "Ex-Staff"),
    # a code word is its own cover's word in its own server
    ("🍕 Team Cheese Pizza", "Pizzaiolo", "Caldo de pollo", "CP", "CE1"),
])
def test_ordinary_roles_side_by_side_make_nothing(roles: tuple[str, ...]) -> None:
    engine = _engine()
    found = [f for e in (GuildCreated(ts=T, guild=Guild("g", "Le QG", owner_id="o",
                                                        roles=roles)),
                         ChannelCreated(ts=T, channel=Channel("c", "g", "boutique")),
                         MessagePosted(ts=T, message=Message(
                             "m1", "c", "g", "u", "le pack de skins est dispo à 10€")))
             for f in engine.process(e)]
    assert found == []


def test_each_role_is_read_once_however_often_it_is_told() -> None:
    """An export tells a server's roles again in every channel's file."""
    engine = _engine()
    detector = next(d for d in engine.detectors if d.id == "text.lexicon")
    read: list[tuple[str, ...]] = []
    original = detector._roles  # type: ignore[attr-defined]

    def counting(gid: str, roles: tuple[str, ...]) -> list:
        read.append(roles)
        return original(gid, roles)

    detector._roles = counting  # type: ignore[attr-defined]
    engine.process(GuildCreated(ts=T, guild=Guild("g", "Chill", owner_id="o",
                                                  roles=("Admin", "Modo"))))
    for _ in range(3):
        engine.process(GuildUpdated(ts=T, guild=Guild("g", roles=("Modo", "Admin"))))
    engine.process(GuildUpdated(ts=T, guild=Guild("g", roles=("Modo", "Photos volées"))))
    assert read == [("Admin", "Modo"), (), (), (), ("Photos volées",)]
