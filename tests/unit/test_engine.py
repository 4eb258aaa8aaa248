from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from veilleur.detect.base import Context, DetectorSettings, Signal
from veilleur.detect.registry import DetectorRegistry, UnknownDetectorError, default_registry
from veilleur.engine import Engine
from veilleur.events import (
    Channel,
    ChannelCreated,
    Event,
    Guild,
    GuildCreated,
    GuildUpdated,
    Message,
    MessagePosted,
    User,
)
from veilleur.taxonomy import Category, Target, TargetKind

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def posted(content: str, id: str = "m1", channel: str = "c1", guild: str | None = "g1"
           ) -> MessagePosted:
    return MessagePosted(ts=T0, message=Message(id=id, channel_id=channel, guild_id=guild,
                                                author_id="u1", content=content))


class Flaky:
    id = "test.flaky"
    version = "1"

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        raise RuntimeError("boom")


class SeesChannelNames:
    """A detector that reads keyed state: flags messages posted in a channel named 'bad'."""

    id = "test.channel"
    version = "1"

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if isinstance(event, MessagePosted):
            channel = ctx.channel(event.message.channel_id)
            if channel is not None and channel.name == "bad":
                yield Signal(detector=self.id, version=self.version,
                             target=Target(TargetKind.MESSAGE, event.message.id),
                             category=Category.CSAM, strength=0.9, evidence="in #bad",
                             key="bad-channel")


def test_default_engine_finds_text_end_to_end() -> None:
    engine = Engine.build()
    assert engine.process(posted("hello there")) == []
    (finding,) = engine.process(posted("garde ça secret, envoie-moi une photo", id="m2"))
    assert finding.category is Category.GROOMING
    assert finding.target == Target(TargetKind.MESSAGE, "m2")
    assert finding.context == {"guild_id": "g1", "channel_id": "c1", "author_id": "u1"}
    assert engine.stats.messages == 2 and engine.stats.events == 2


def test_guild_and_channel_names_are_judged() -> None:
    engine = Engine.build()
    engine.process(GuildCreated(ts=T0, guild=Guild(id="g9", name="ADØS NXDES")))
    engine.process(ChannelCreated(ts=T0, channel=Channel(id="c9", guild_id="g9",
                                                         name="caldo-de-pollo")))
    targets = {(f.target.kind, f.category) for f in engine.findings()}
    assert targets == {(TargetKind.GUILD, Category.CSAM), (TargetKind.CHANNEL, Category.CSAM)}


def test_guild_update_is_judged_with_the_whole_guild() -> None:
    engine = Engine.build()
    engine.process(GuildCreated(ts=T0, guild=Guild(id="g9", name="nudes")))
    assert engine.findings() == []
    engine.process(GuildUpdated(ts=T0, guild=Guild(id="g9", description="ados only")))
    (f,) = engine.findings()
    assert f.target == Target(TargetKind.GUILD, "g9")
    assert engine.directory.guild("g9") == Guild(id="g9", name="nudes", description="ados only")


def test_directory_learns_users_from_messages() -> None:
    engine = Engine.build(detector_ids=[])
    engine.process(MessagePosted(ts=T0, author=User(id="u1", name="kim"), message=Message(
        id="m", channel_id="c", guild_id=None, author_id="u1", content="")))
    assert engine.directory.user("u1") == User(id="u1", name="kim")
    assert engine.directory.user("u2") is None


def test_detectors_read_keyed_state() -> None:
    engine = Engine.build(detector_ids=[])
    engine.detectors.append(SeesChannelNames())
    engine.process(ChannelCreated(ts=T0, channel=Channel(id="c1", guild_id="g1", name="bad")))
    engine.process(posted("anything"))
    (f,) = engine.findings()
    assert f.evidence == "in #bad"


def test_a_failing_detector_is_reported_not_fatal() -> None:
    failures: list[str] = []
    engine = Engine.build(on_detector_failure=lambda d, e, x: failures.append(f"{d.id}: {x}"))
    engine.detectors.insert(0, Flaky())
    findings = engine.process(posted("garde ça secret, envoie-moi une photo"))
    assert len(findings) == 1  # the other detectors still ran
    assert failures == ["test.flaky: boom"]
    assert engine.stats.detector_failures == 1


def test_without_a_failure_handler_errors_surface() -> None:
    engine = Engine.build(detector_ids=[])
    engine.detectors.append(Flaky())
    with pytest.raises(RuntimeError):
        engine.process(posted("x"))


def test_registry() -> None:
    registry = default_registry(plugins=False)
    assert registry.ids() == ["conversation.risk", "media.hash", "network.links",
                              "places.meaning", "text.learned", "text.lexicon"]
    with pytest.raises(UnknownDetectorError,
                       match=r"known: conversation\.risk, media\.hash, network\.links"):
        registry.create("nope", DetectorSettings())
    with pytest.raises(ValueError, match="already registered"):
        registry.register("text.lexicon", lambda s: Flaky())
    custom = DetectorRegistry()
    custom.register("test.flaky", lambda s: Flaky())
    assert [d.id for d in custom.create_all(DetectorSettings())] == ["test.flaky"]
