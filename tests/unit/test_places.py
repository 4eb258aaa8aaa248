"""`places.meaning`: what is read by meaning, and what says too little to be read."""

from __future__ import annotations

from datetime import UTC, datetime

from veilleur.cases.casework import Casework
from veilleur.decide.policy import Finding
from veilleur.detect.base import DetectorSettings
from veilleur.detect.places import PlacesDetector, load_places_policy
from veilleur.engine import Engine
from veilleur.events import Channel, ChannelCreated, Guild, GuildCreated, Message, MessagePosted
from veilleur.state import Directory, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

T = datetime(2026, 3, 1, 12, tzinfo=UTC)


class Reader:
    """Reads everything as non-consensual imagery, and remembers what it was asked."""

    version = "stub"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def scores(self, texts: list[str]) -> list[dict[Category, float]]:
        self.asked += texts
        return [{Category.NCII: 0.95} for _ in texts]


def detector() -> tuple[PlacesDetector, Reader]:
    reader = Reader()
    policy = load_places_policy(DetectorSettings().policy_dir)
    return PlacesDetector(policy, reader), reader  # type: ignore[arg-type]


def test_names_of_fewer_than_three_words_are_not_read_numbers_are_not_words() -> None:
    d, reader = detector()
    ctx = Directory(MemoryState())
    short = [GuildCreated(ts=T, guild=Guild("g1", "gaming squad 22", "o")),
             GuildCreated(ts=T, guild=Guild("g2", "serveur 12 345", "o")),
             ChannelCreated(ts=T, channel=Channel("c1", "g1", "random-chat")),
             ChannelCreated(ts=T, channel=Channel("c2", "g1", "general"))]
    for e in short:
        ctx.apply(e)
        assert list(d.detect(e, ctx)) == []
    assert reader.asked == []
    long = GuildCreated(ts=T, guild=Guild("g3", "les ex de la fac", "o"))
    ctx.apply(long)
    signals = list(d.detect(long, ctx))
    assert reader.asked == ["les ex de la fac"]
    assert signals and signals[0].target == Target(TargetKind.GUILD, "g3")
    topic = ChannelCreated(ts=T, channel=Channel("c3", "g3", "annonces",
                                                 topic="les photos de la semaine"))
    ctx.apply(topic)
    assert list(d.detect(topic, ctx)) and reader.asked[-1] == "annonces\nles photos de la semaine"


def test_the_owners_short_posts_are_not_read() -> None:
    d, reader = detector()
    ctx = Directory(MemoryState())
    g = GuildCreated(ts=T, guild=Guild("g1", "club", "boss"))
    ctx.apply(g)
    for i, text in enumerate(("ok 12 34 56", "gg à tous 2", "bienvenue sur le serveur")):
        e = MessagePosted(ts=T, message=Message(f"m{i}", "c", "g1", "boss", text))
        ctx.apply(e)
        list(d.detect(e, ctx))
    assert reader.asked == ["bienvenue sur le serveur"]


def test_an_owners_post_says_what_its_channel_is_for_read_once() -> None:
    d, reader = detector()
    ctx = Directory(MemoryState())
    g = GuildCreated(ts=T, guild=Guild("g1", "club", "boss"))
    ctx.apply(g)
    e = MessagePosted(ts=T, message=Message("m1", "rules", "g1", "boss",
                                            "postez vos photos de la semaine ici"))
    ctx.apply(e)
    got = {(s.target.kind, s.target.id, s.key) for s in d.detect(e, ctx)}
    assert (TargetKind.MESSAGE, "m1", "meaning:staff") in got
    assert (TargetKind.CHANNEL, "rules", "meaning:staff_channel") in got
    assert reader.asked == ["postez vos photos de la semaine ici"]
    member = MessagePosted(ts=T, message=Message("m2", "rules", "g1", "someone",
                                                 "postez vos photos de la semaine ici"))
    ctx.apply(member)
    assert list(d.detect(member, ctx)) == []  # a member's post is chat, read elsewhere
    # ... unless it is pinned: what the place puts first says what it is for.
    pinned = MessagePosted(ts=T, message=Message("m3", "rules", "g1", "someone",
                                                 "vos photos de la semaine ici svp",
                                                 pinned=True))
    ctx.apply(pinned)
    assert (TargetKind.MESSAGE, "m3", "meaning:staff") in {
        (s.target.kind, s.target.id, s.key) for s in d.detect(pinned, ctx)}


def test_a_server_flagged_only_as_a_successor_seeds_no_further_search() -> None:
    cw = Casework(Engine.build())

    def found(gid: str, detectors: tuple[str, ...]) -> None:
        cw._intake_finding(Finding(Target(TargetKind.GUILD, gid), Category.CSAM, 0.8,
                                   detectors, "x", {}), T)

    found("inferred", ("network.links",))
    found("held", ("places.meaning",))
    found("both", ("network.links", "targets.rollup"))
    labels = {t.id: sorted(v) for t, v in cw.labels.items()}
    assert "inferred" not in labels
    assert labels["held"] == ["flagged:csam"] and labels["both"] == ["flagged:csam"]
    # Found later for what it holds (a weaker score is still what it holds): it seeds then,
    # and a stronger finding brings its evidence and detectors to the pending intake.
    cw._intake_finding(Finding(Target(TargetKind.GUILD, "inferred"), Category.CSAM, 0.7,
                               ("targets.rollup",), "its channels", {}), T)
    assert sorted(cw.labels[Target(TargetKind.GUILD, "inferred")]) == ["flagged:csam"]
    cw._intake_finding(Finding(Target(TargetKind.GUILD, "inferred"), Category.CSAM, 0.9,
                               ("targets.rollup",), "its channels, stronger", {}), T)
    intake = next(i for i in cw.intakes.values()
                  if i.target == Target(TargetKind.GUILD, "inferred"))
    assert intake.evidence == "its channels, stronger" and intake.score == 0.9
    assert intake.detectors == ("network.links", "targets.rollup")


def test_words_are_counted_as_the_rules_read_them_links_left_out() -> None:
    from veilleur.detect.places import words

    assert words("𝓷𝓾𝓭𝓮𝓼 vip access") == 3  # fancy letters are letters
    assert words("n00dz vip 4cc3s") == 3  # leet spelled words are words
    assert words("discord.gg/abcdef https://mega.nz/folder/xyz") == 0  # links alone say nothing
    assert words("rejoignez discord.gg/abcdef") == 1
    assert words("gaming squad 22") == 2


class Votes:
    """Reads everything with the votes it is given."""

    version = "stub"

    def __init__(self, votes: dict[Category, float]) -> None:
        self.votes = votes

    def scores(self, texts: list[str]) -> list[dict[Category, float]]:
        return [dict(self.votes) for _ in texts]


def test_a_channel_read_weakly_only_joins_other_evidence() -> None:
    policy = load_places_policy(DetectorSettings().policy_dir)
    ctx = Directory(MemoryState())
    event = ChannelCreated(ts=T, channel=Channel("c1", "g1", "menu du jour",
                                                 topic="prix fixes, commande en privé"))
    ctx.apply(event)
    for vote, strengths in ((0.49, []), (0.5, [0.4]), (0.95, [0.4])):
        d = PlacesDetector(policy, Votes({Category.CSAM: vote}))  # type: ignore[arg-type]
        got = [s.strength for s in d.detect(event, ctx) if s.category is Category.CSAM]
        assert got == strengths, vote


def test_a_name_glued_in_camel_case_is_read_with_its_words() -> None:
    d, reader = detector()
    ctx = Directory(MemoryState())
    for e in (GuildCreated(ts=T, guild=Guild("g1", "LesExDeLaFac", "o")),
              ChannelCreated(ts=T, channel=Channel("c1", "g1", "PhotosDeVosCousines"))):
        ctx.apply(e)
        assert list(d.detect(e, ctx))
    assert reader.asked == ["LesExDeLaFac (Les Ex De La Fac)",
                            "PhotosDeVosCousines (Photos De Vos Cousines)"]
