"""Networks: servers recreated after a removal, offenders returning under new accounts,
servers laid out as catalogues; with the evidence a reviewer needs, and quiet on look-alikes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from veilleur.cases.casework import Casework
from veilleur.cases.review import Verdict
from veilleur.detect.base import DetectorSettings, Signal
from veilleur.detect.network.detector import NetworkDetector
from veilleur.engine import Engine
from veilleur.events import (
    Attachment,
    Channel,
    ChannelCreated,
    Event,
    Guild,
    GuildCreated,
    InviteCreated,
    MemberJoined,
    Message,
    MessagePosted,
    User,
    UserSeen,
)
from veilleur.state import Directory, MemoryState
from veilleur.taxonomy import Category, Target

T = datetime(2026, 3, 1, 12, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T + timedelta(hours=hours)


def photo(aid: str, digest: str) -> Attachment:
    return Attachment(aid, filename=f"{aid}.jpg", sha256=digest * 64)


def fallen_network() -> list[Event]:
    """A server trading pictures, its fallback announced, its members regrouping."""
    ev: list[Event] = [
        GuildCreated(ts=at(0), guild=Guild("g1", "ADOS NUDES", "boss")),
        ChannelCreated(ts=at(0), channel=Channel("c1", "g1", "general")),
        *[MemberJoined(ts=at(0.1 * i), guild_id="g1", user_id=f"m{i}") for i in range(12)],
        MessagePosted(ts=at(2), message=Message(
            "p1", "c1", "g1", "m1", "nouveau", attachments=(photo("a1", "a"),))),
        MessagePosted(ts=at(3), message=Message(
            "p2", "c1", "g1", "boss", "si ça ferme on se replie ici : discord . gg / backup1")),
        GuildCreated(ts=at(4), guild=Guild("g2", "ados nudes 2", "m3")),
        ChannelCreated(ts=at(4), channel=Channel("c2", "g2", "general")),
        InviteCreated(ts=at(4), code="backup1", guild_id="g2", inviter_id="m3"),
        # a large ordinary server that a few of them also use
        GuildCreated(ts=at(-100), guild=Guild("big", "Gaming FR", "admin")),
        *[MemberJoined(ts=at(-99), guild_id="big", user_id=f"b{i}") for i in range(300)],
    ]
    return ev


def run(detector: NetworkDetector, events: list[Event]) -> list:  # type: ignore[type-arg]
    directory = Directory(MemoryState())
    out = []
    for e in events:
        directory.apply(e)
        out += list(detector.detect(e, directory))
    return out


def test_a_recreated_server_is_found_with_its_evidence() -> None:
    d = NetworkDetector.from_settings(DetectorSettings())
    run(d, fallen_network())
    assert run(d, []) == []
    signals = d.on_label(Target.of("guild", "g1"), "removed:csam", at(5))
    regroup = [MemberJoined(ts=at(6 + i / 10), guild_id="g2", user_id=f"m{i}")
               for i in range(12)]
    regroup += [MemberJoined(ts=at(6), guild_id="big", user_id=f"m{i}") for i in range(3)]
    regroup.append(MessagePosted(ts=at(7), message=Message(
        "p3", "c2", "g2", "m1", "on reprend", attachments=(photo("a9", "a"),))))
    signals += run(d, regroup)
    on_g2 = [s for s in signals if s.target == Target.of("guild", "g2")]
    best = max(on_g2, key=lambda s: s.strength)
    assert best.strength >= 0.7 and best.category is Category.CSAM
    for words in ("pointed to it", "echoes", "members came from it", "owner m3 was a member",
                  "files were posted there before"):
        assert words in best.evidence, best.evidence
    assert not [s for s in signals if s.target == Target.of("guild", "big")]


def test_an_offender_back_under_a_new_account_is_linked() -> None:
    d = NetworkDetector.from_settings(DetectorSettings())
    events: list[Event] = [UserSeen(ts=at(0), user=User("u1", "packs4u"))]
    for i, gid in enumerate(("s1", "s2", "s3", "s4")):
        events += [GuildCreated(ts=at(0), guild=Guild(gid, f"server {gid}", "x")),
                   MemberJoined(ts=at(1 + i), guild_id=gid, user_id="u1")]
    events.append(MessagePosted(ts=at(6), message=Message(
        "q1", "c", "s1", "u1", "dispo", attachments=(photo("b1", "b"),))))
    run(d, events)
    d.on_label(Target.of("user", "u1"), "csam_confirmed", at(10))
    later = [UserSeen(ts=at(30), user=User("u2", "packs4u2", created_at=at(29))),
             *[MemberJoined(ts=at(31 + i), guild_id=g, user_id="u2")
               for i, g in enumerate(("s2", "s3", "s4"))],
             MessagePosted(ts=at(40), message=Message(
                 "q2", "c", "s4", "u2", "re", attachments=(photo("b2", "b"),)))]
    signals = run(d, later)
    best = max((s for s in signals if s.target == Target.of("user", "u2")),
               key=lambda s: s.strength)
    assert best.strength >= 0.85
    for words in ("linked to suspended account u1", "same servers in the same order",
                  "posted 1 file(s)", "«packs4u2» ≈ «packs4u»", "after the suspension"):
        assert words in best.evidence, best.evidence
    namesake = run(d, [UserSeen(ts=at(50), user=User("u3", "packs4ux"))])
    assert all(s.strength < 0.7 for s in namesake)  # a name alone is not enough


def test_a_catalogue_server_is_flagged_even_with_mild_names() -> None:
    d = NetworkDetector.from_settings(DetectorSettings())
    chans = ["général", "teaser-mineure", "vip-13-15", "preuves", "verif"]
    signals = run(d, [GuildCreated(ts=at(0), guild=Guild("cz", "la chill zone", "o")),
                      *[ChannelCreated(ts=at(0), channel=Channel(f"k{i}", "cz", n))
                        for i, n in enumerate(chans)]])
    best = max(signals, key=lambda s: s.strength)
    assert best.target == Target.of("guild", "cz") and best.strength >= 0.7
    assert best.category is Category.CSAM
    assert "#teaser-mineure" in best.evidence and "#preuves" in best.evidence
    benign = run(d, [GuildCreated(ts=at(0), guild=Guild("ok", "Club Minéraux", "o")),
                     *[ChannelCreated(ts=at(0), channel=Channel(f"j{i}", "ok", n))
                       for i, n in enumerate(["général", "vip", "bourse-aux-minéraux",
                                              "photos-de-cristaux", "règles"])]])
    assert not [s for s in benign if s.strength >= 0.7]


def test_a_catalogue_of_adults_photos_named_for_minors_is_one_of_minors() -> None:
    """The category follows the content: the owner named it for minors."""
    chans = ["général", "vos-ex", "preuves", "nudes-gratuites"]

    def layout(gid: str, name: str) -> list[Signal]:
        d = NetworkDetector.from_settings(DetectorSettings())
        return [s for s in run(d, [GuildCreated(ts=at(0), guild=Guild(gid, name, "o")),
                                   *[ChannelCreated(ts=at(0), channel=Channel(
                                       f"{gid}{i}", gid, n)) for i, n in enumerate(chans)]])
                if s.target == Target.of("guild", gid)]

    adults = layout("a", "Le Coin des Potes")
    assert adults and {s.category for s in adults} == {Category.NCII}
    minors = layout("m", "ADOS privés 🔞")
    assert minors and {s.category for s in minors} == {Category.CSAM}
    assert "its name reads minors («ADOS privés 🔞»)" in minors[-1].evidence
    assert max(s.strength for s in minors) == max(s.strength for s in adults)
    glued = layout("g", "AdosPrivés")  # camel case read word by word
    assert glued and {s.category for s in glued} == {Category.CSAM}


def test_a_camel_case_channel_name_is_read_word_by_word() -> None:
    d = NetworkDetector.from_settings(DetectorSettings())
    chans = ["général", "TeaserMineure", "vip-13-15", "preuves"]
    signals = run(d, [GuildCreated(ts=at(0), guild=Guild("cc", "la chill zone", "o")),
                      *[ChannelCreated(ts=at(0), channel=Channel(f"c{i}", "cc", n))
                        for i, n in enumerate(chans)]])
    best = max(signals, key=lambda s: s.strength)
    assert best.strength >= 0.7 and "#TeaserMineure" in best.evidence


def test_casework_opens_a_case_on_the_successor_with_the_evidence() -> None:
    cw = Casework(Engine.build())
    for e in fallen_network():
        cw.handle(e)
    # The server's name alone flags it (and marks it as fallen for the network detector).
    case = cw.take_next("rev", at(4.7))
    assert case is not None and Target.of("guild", "g1") in case.targets
    labels = {Target.of("guild", "g1"): Category.CSAM, Target.of("user", "boss"): Category.CSAM}
    cw.decide(case.id, "rev", {t: Verdict(labels.get(t)) for t in case.targets}, at(4.8))
    for i in range(12):
        cw.handle(MemberJoined(ts=at(6 + i / 10), guild_id="g2", user_id=f"m{i}"))
    successor = [i for i in cw.intakes.values() if i.target == Target.of("guild", "g2")]
    assert successor and "successor of server g1" in (successor[0].evidence or "")
    case = cw.cases[successor[0].case_id or ""]
    # The case groups the network: the fallen server is in it, and is its grouping key.
    assert Target.of("guild", "g1") in case.targets and "network:guild:g1" in case.keys
    # A second successor of the same server joins that case: one network, one case.
    cw.handle(GuildCreated(ts=at(8), guild=Guild("g3", "ados nudes 3", "m4")))
    for i in range(12):
        cw.handle(MemberJoined(ts=at(8 + i / 10), guild_id="g3", user_id=f"m{i}"))
    third = [i for i in cw.intakes.values() if i.target == Target.of("guild", "g3")]
    assert third and third[0].case_id == case.id
    assert Target.of("guild", "g3") in cw.cases[case.id].targets


def test_a_returning_offender_is_barred_at_the_door_by_policy() -> None:
    from veilleur.events import Report, ReportFiled, ReportSource

    cw = Casework(Engine.build())
    cw.handle(UserSeen(ts=at(0), user=User("u1", "packs4u")))
    for i, gid in enumerate(("s1", "s2", "s3", "s4")):
        cw.handle(GuildCreated(ts=at(0), guild=Guild(gid, f"server {gid}", "x")))
        cw.handle(MemberJoined(ts=at(1 + i), guild_id=gid, user_id="u1"))
    cw.handle(MessagePosted(ts=at(6), message=Message(
        "q1", "c", "s1", "u1", "salut", attachments=(photo("b1", "b"),))))
    cw.handle(ReportFiled(ts=at(7), report=Report(
        "r1", ReportSource.USER, Target.of("user", "u1"), "csam", "il vend des photos",
        "someone")))
    case = cw.take_next("rev", at(8))
    assert case is not None
    cw.decide(case.id, "rev", {t: Verdict(Category.CSAM if t.id in ("u1", "q1") else None)
                               for t in case.targets}, at(8.1))
    assert cw.enforcement.suspended("u1", at(9)) is not None
    cw.handle(UserSeen(ts=at(30), user=User("u2", "packs4u2", created_at=at(29))))
    for i, gid in enumerate(("s2", "s3")):
        cw.handle(MemberJoined(ts=at(31 + i), guild_id=gid, user_id="u2"))
    cw.handle(MessagePosted(ts=at(40), message=Message(
        "q2", "c", "s3", "u2", "re", attachments=(photo("b2", "b"),))))
    barred = cw.enforcement.join_blocked("u2")
    assert barred is not None and barred.automated and "linked to suspended account u1" in (
        barred.reason or "")
    cw.handle(MemberJoined(ts=at(41), guild_id="s4", user_id="u2"))
    assert cw.prevented[-1].subject == Target.of("user", "u2")
    sor = [d for d in cw.compliance.of_kind("statement_of_reasons")
           if d.refs["decision_id"] == barred.id]
    assert sor and "barred from joining servers" in (sor[0].body or "")


def test_the_memory_of_conversations_and_networks_survives_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Kept in the store (`StoredMemory`): a conversation continued in a later run is judged
    on all of it; a server removed before a restart still has its successors found after."""
    from veilleur.events import ChannelKind
    from veilleur.store.db import connect
    from veilleur.store.memory import StoredMemory
    from veilleur.store.models import MemoryRow

    db = connect(f"sqlite:///{tmp_path / 'v.db'}")

    def engine() -> Engine:
        return Engine.build(DetectorSettings(memory=StoredMemory(db)))

    first = engine()
    first.process(ChannelCreated(ts=at(0), channel=Channel("dm", None, "dm",
                                                           kind=ChannelKind.DM)))
    lines = [("man", "moi j'ai 16 ans et toi ?"), ("kid", "j'ai 13 ans"),
             ("man", "garde ça secret, dis rien à tes parents"),
             ("man", "en vrai j'ai 31 ans")]
    for i, (who, text) in enumerate(lines):
        first.process(MessagePosted(ts=at(i), message=Message(
            f"d{i}", "dm", None, who, text, recipient_ids=("kid" if who == "man" else "man",))))
    for e in fallen_network():
        first.process(e)
    network = next(d for d in first.detectors if isinstance(d, NetworkDetector))
    network.on_label(Target.of("guild", "g1"), "removed:csam", at(5))
    first.close()
    with db.connect() as conn:
        assert conn.execute(MemoryRow.__table__.select()).first() is not None  # type: ignore[attr-defined]
    second = engine()
    second.remember(Target.of("guild", "g1"), "removed:csam", at(5))
    found = []
    for i, (who, text) in enumerate([("man", "envoie moi une photo, juste pour moi"),
                                     ("man", "on se voit samedi ?")]):
        found += second.process(MessagePosted(ts=at(24 + i), message=Message(
            f"e{i}", "dm", None, who, text, recipient_ids=("kid",))))
    for i in range(12):
        found += second.process(MemberJoined(ts=at(30 + i / 10), guild_id="g2",
                                             user_id=f"m{i}"))
    targets = {(f.target.kind.value, f.target.id, f.category.value) for f in found}
    assert ("user", "man", "grooming") in targets  # the first run's stages still count
    assert ("guild", "g2", "csam") in targets  # the first run's graph still links g2 to g1
    db.dispose()


def test_a_verification_rule_demanding_intimate_photos_is_a_sign_of_the_server() -> None:
    d = NetworkDetector.from_settings(DetectorSettings())
    base: list[Event] = [GuildCreated(ts=at(0), guild=Guild("vz", "la chill zone", "o")),
                         ChannelCreated(ts=at(0), channel=Channel("r", "vz", "règles")),
                         ChannelCreated(ts=at(0), channel=Channel("v", "vz", "vip-13-15"))]
    demand = MessagePosted(ts=at(1), message=Message(
        "rule", "r", "vz", "o", "pour accéder au serveur, envoie ta verif : une photo nue "
        "avec ton pseudo en mp"))
    signals = run(d, [*base, demand])
    best = max(signals, key=lambda s: s.strength)
    assert best.strength >= 0.7 and best.category is Category.CSAM
    assert "verification demand (message rule)" in best.evidence
    quiet = NetworkDetector.from_settings(DetectorSettings())
    benign = run(quiet, [GuildCreated(ts=at(0), guild=Guild("ok", "club photo", "o")),
                         ChannelCreated(ts=at(0), channel=Channel("r", "ok", "règles")),
                         MessagePosted(ts=at(1), message=Message(
                             "rule", "r", "ok", "o", "ne partagez jamais de photos intimes, "
                             "la vérification se fait par le staff"))])
    assert not [s for s in benign if s.strength >= 0.7]


def _homework_server(*posts: tuple[str, str]) -> list[float]:
    """The strengths of the signals on a server with a homework channel and these posts."""
    d = NetworkDetector.from_settings(DetectorSettings())
    events: list[Event] = [GuildCreated(ts=at(0), guild=Guild("a", "le salon", "o")),
                           ChannelCreated(ts=at(0), channel=Channel("h", "a", "devoirs"))]
    events += [MessagePosted(ts=at(1 + i), message=Message(f"p{i}", "h", "a", who, text))
               for i, (who, text) in enumerate(posts)]
    return [s.strength for s in run(d, events)]


def test_an_adults_only_age_check_is_no_verification_demand() -> None:
    """A homework channel and an adult server's age check ("NSFW reserved to verified members,
    adults only") are not a catalogue: the check refuses minors, it demands no picture."""
    assert max(_homework_server(
        ("o", "Le contenu NSFW est réservé aux membres vérifiés (majeurs uniquement), vérif "
              "d'âge par un admin"),
        ("bot", "welcome!! grab roles in #roles, verify in #verify to see the NSFW channels"),
        ("bot", "To unlock n_s_f_w, verify with a mod"),
        ("bot", "to see the n$fw channels, verify with a mod")),
        default=0.0) < 0.45
    # A verification asking for a picture is the catalogue's sign, whatever else it says.
    for demand in ("welcome!! verify in #verify to see the NSFW channels: send a nude with "
                   "your username",
                   "18+ only. verification: send a nude with your username in dm",
                   "verification: send nsfw with your username to the owner",
                   "verif obligatoire : envoie du contenu nsfw au staff",
                   "verificacion: manda contenido nsfw al admin",
                   "verification: post a topless selfie to unlock nsfw",
                   "verif obligatoire : envoie une photo n_s_f_w avec ton pseudo"):
        assert max(_homework_server(("bot", demand))) >= 0.45, demand


def test_the_graph_keeps_channels_links_and_survives_its_codec() -> None:
    from veilleur.detect.network.graph import CODECS

    d = NetworkDetector.from_settings(DetectorSettings())
    run(d, [*fallen_network(), MessagePosted(ts=at(3), message=Message(
        "p9", "c1", "g1", "boss", "la suite sur mega. nz/folder/abc et t.me/packs"))])
    g1 = d.graph.guild("g1")
    assert g1.channels == {"c1": "general"} and g1.owner == "boss" and len(g1.members) == 12
    assert any(k.startswith("filehost:") for k in g1.links)
    assert "backup1" in g1.links_to and d.graph.invite_guild("backup1") == "g2"
    assert d.graph.user("m1").media and d.graph.edges > 30
    out, back = CODECS["graph.guild"]
    assert back(out(g1)) == g1
    out, back = CODECS["graph.user"]
    assert back(out(d.graph.user("m1"))) == d.graph.user("m1")


def test_the_same_events_read_again_into_a_kept_graph_give_the_same_findings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A scan of exports the store already holds: the graph kept from the first run must not
    lend the events their future (the joins that came later), and a join read again is
    judged again."""
    from veilleur.store.db import connect
    from veilleur.store.memory import StoredMemory

    db = connect(f"sqlite:///{tmp_path / 'v.db'}")
    events = fallen_network() + [MemberJoined(ts=at(5 + i / 10), guild_id="g2",
                                              user_id=f"m{i}") for i in range(12)]
    runs = []
    for _ in range(2):
        engine = Engine.build(DetectorSettings(memory=StoredMemory(db), semantic=False))
        engine.remember(Target.of("guild", "g1"), "removed:csam", at(1))
        for e in events:
            engine.process(e)
        engine.close()
        runs.append(sorted((f.target, f.category, f.score, f.evidence)
                           for f in engine.findings()))
    db.dispose()
    assert any(t == Target.of("guild", "g2") for t, *_ in runs[0])
    assert runs[1] == runs[0]


def _suspended_owner(name: str) -> NetworkDetector:
    """An owner (never a member of the server it owned) whose server fell and who was
    suspended at hour 10."""
    d = NetworkDetector.from_settings(DetectorSettings())
    run(d, [UserSeen(ts=at(0), user=User("boss", name)),
            GuildCreated(ts=at(0), guild=Guild("g1", "club", "boss")),
            *[MemberJoined(ts=at(0.1 * i), guild_id="g1", user_id=f"m{i}") for i in range(12)]])
    d.on_label(Target.of("guild", "g1"), "removed:csam", at(9))
    d.on_label(Target.of("user", "boss"), "csam_confirmed", at(10))
    return d


def test_the_same_name_straight_after_the_suspension_is_queued_for_review() -> None:
    d = _suspended_owner("ados_boss")
    same = run(d, [UserSeen(ts=at(12), user=User("b2", "ados_boss_", created_at=at(11)))])
    assert max(s.strength for s in same) >= 0.7  # a finding: a reviewer sees the link
    assert "after the suspension of boss" in same[0].evidence
    # a month later, or a short name that collides by chance, stays below the finding line
    late = run(d, [UserSeen(ts=at(900), user=User("b3", "ados.boss", created_at=at(899)))])
    assert all(s.strength < 0.7 for s in late)
    d2 = _suspended_owner("max")
    short = run(d2, [UserSeen(ts=at(12), user=User("b4", "max", created_at=at(11)))])
    assert all(s.strength < 0.7 for s in short)


def test_joining_the_successor_of_the_server_an_offender_owned_links_the_new_account() -> None:
    d = _suspended_owner("xq_owner")
    regroup: list[Event] = [GuildCreated(ts=at(11), guild=Guild("g2", "chill", "m0")),
                            *[MemberJoined(ts=at(11.1 + i / 100), guild_id="g2",
                                           user_id=f"m{i}") for i in range(12)]]
    assert any(s.target == Target.of("guild", "g2") for s in run(d, regroup))
    newcomer = run(d, [UserSeen(ts=at(12), user=User("n1", "someone", created_at=at(11.5))),
                       MemberJoined(ts=at(12.5), guild_id="g2", user_id="n1")])
    linked = [s for s in newcomer if s.target == Target.of("user", "n1")]
    assert linked and "a successor of a server boss was in" in linked[-1].evidence


def test_links_to_several_offenders_named_alike_are_one_suspicion_not_two() -> None:
    from veilleur.decide.policy import FindingBook, load_policy

    d = NetworkDetector.from_settings(DetectorSettings())
    run(d, [UserSeen(ts=at(0), user=User("o1", "Jessica")),
            UserSeen(ts=at(0), user=User("o2", "jessica."))])
    d.on_label(Target.of("user", "o1"), "sextortion_confirmed", at(1))
    d.on_label(Target.of("user", "o2"), "sextortion_confirmed", at(1))
    signals = run(d, [UserSeen(ts=at(20), user=User("n1", "jessica", created_at=at(19)))])
    assert {s.context["linked_to"] for s in signals} == {"o1", "o2"}  # both links named
    book = FindingBook(load_policy(DetectorSettings().policy_dir / "policy.toml"))
    found = book.add(signals)
    assert found and max(f.score for f in found) <= 0.76  # one link's weight, not two
    # a stronger link later lifts the score to its own, not beyond
    later = run(d, [MessagePosted(ts=at(21), message=Message(
        "q", "c", "s", "n1", "x", attachments=(photo("z1", "z"),)))])
    assert later == []  # no file in common: nothing new


def _shipped_network_policy() -> dict:  # type: ignore[type-arg]
    import tomllib

    from veilleur.detect.base import POLICY_DIR

    return tomllib.loads((POLICY_DIR / "network.toml").read_text())


def test_a_network_policy_without_a_key_is_refused_naming_its_table() -> None:
    import pytest

    from veilleur.detect.network.config import NetworkPolicyError, parse_network_policy

    data = _shipped_network_policy()
    del data["returning"]["name_min_chars"]
    with pytest.raises(NetworkPolicyError, match=r"\[returning\]: missing name_min_chars"):
        parse_network_policy(data, "network.toml")


def test_a_network_policy_number_must_be_finite() -> None:
    import pytest

    from veilleur.detect.network.config import NetworkPolicyError, parse_network_policy

    for bad in (float("nan"), float("inf"), -1, True, "0.5"):
        data = _shipped_network_policy()
        data["successor"]["threshold"] = bad
        with pytest.raises(NetworkPolicyError, match=r"successor\.threshold"):
            parse_network_policy(data, "network.toml")
    assert parse_network_policy(_shipped_network_policy()).returning["name_min_chars"] == 6


def test_a_network_policy_typo_is_refused_with_its_entry_named() -> None:
    import pytest

    from veilleur.detect.network.config import NetworkPolicyError, parse_network_policy

    cases = (
        (lambda d: d["successor"].__setitem__("treshold", 0.5), r"successor\.treshold: unknown"),
        (lambda d: d["catalogue"]["signs"]["minors"].__setitem__("set", ["x"]),
         r"signs\.minors: unknown key"),
        (lambda d: d["catalogue"]["signs"]["minors"].__setitem__("regex", "x?"),
         r"signs\.minors\.regex: matches an empty name"),
        (lambda d: d["catalogue"]["signs"].__setitem__("empty", {}),
         r"signs\.empty: needs term sets or a regex"),
        # zero-width: matches no empty name, but an empty stretch of every name
        (lambda d: d["catalogue"]["signs"]["minors"].__setitem__("regex", r"\b(?:ados?|)"),
         r"signs\.minors\.regex: matches an empty name"),
        (lambda d: d["catalogue"]["signs"]["minors"].__setitem__("regex", "(?=.)"),
         r"signs\.minors\.regex: matches an empty name"),
        (lambda d: d["catalogue"]["signs"]["minors"].__setitem__("regex", r"(?<=\w\w)(?:ans|)"),
         r"signs\.minors\.regex: matches an empty name"),
        (lambda d: d["catalogue"]["signs"]["minors"].__setitem__("regex", r"(?:ados?|)(?=\w{3})"),
         r"signs\.minors\.regex: matches an empty name"),
        (lambda d: d["catalogue"]["signs"]["minors"].__setitem__("regex", 5),
         r"signs\.minors\.regex"),
        (lambda d: d["catalogue"]["signs"].__setitem__("minors", "x"),
         r"signs\.minors: must be a table"),
        (lambda d: d["catalogue"].__setitem__("signs", []), r"catalogue\.signs: must be a table"),
        (lambda d: d["successor"].__setitem__("weights", {"x": 1}),
         r"successor\.weights: unknown key"),
        (lambda d: d.__setitem__("catalog", {}), r"top level: unknown key"),
    )
    for spoil, match in cases:
        data = _shipped_network_policy()
        spoil(data)
        with pytest.raises(NetworkPolicyError, match=match):
            parse_network_policy(data, "network.toml")
    data = _shipped_network_policy()
    data["catalogue"]["signs"]["sexual"]["sets"] = ["sexual", "tributes"]
    policy = parse_network_policy(data, "network.toml")
    analyzer = NetworkDetector.from_settings(DetectorSettings()).analyzer
    with pytest.raises(NetworkPolicyError, match=r"signs\.sexual\.sets: no such term set.*"
                       r"tributes"):
        NetworkDetector(analyzer, policy)


def test_joining_the_big_public_servers_in_the_usual_order_is_no_link() -> None:
    d = NetworkDetector.from_settings(DetectorSettings())
    crowd = [MemberJoined(ts=at(0), guild_id=f"big{g}", user_id=f"x{g}-{i}")
             for g in range(3) for i in range(1001)]
    path = [MemberJoined(ts=at(1 + g), guild_id=gid, user_id="boss")
            for g, gid in enumerate(("big0", "big1", "big2", "s0", "s1", "s2"))]
    run(d, [UserSeen(ts=at(0), user=User("boss", "zorglub")), *crowd, *path])
    d.on_label(Target.of("user", "boss"), "csam_confirmed", at(10))
    big = run(d, [UserSeen(ts=at(11), user=User("n1", "newbie", created_at=at(10.5))),
                  *[MemberJoined(ts=at(12 + g), guild_id=f"big{g}", user_id="n1")
                    for g in range(3)]])
    assert not any("same order" in s.evidence for s in big)
    small = run(d, [UserSeen(ts=at(11), user=User("n2", "other", created_at=at(10.5))),
                    *[MemberJoined(ts=at(12 + g), guild_id=f"s{g}", user_id="n2")
                      for g in range(3)]])
    assert any("joined 3 of the same servers in the same order" in s.evidence for s in small)


def test_an_account_already_known_is_looked_at_again_after_a_suspension() -> None:
    # Events read a second time into a kept graph: the returning account is no news to the
    # graph, but its first sighting since the suspension must still link it.
    d = NetworkDetector.from_settings(DetectorSettings())
    seen = UserSeen(ts=at(12), user=User("b2", "ados_boss_", created_at=at(11)))
    assert run(d, [UserSeen(ts=at(0), user=User("boss", "ados_boss")), seen]) == []
    d.on_label(Target.of("user", "boss"), "csam_confirmed", at(10))
    again = run(d, [seen])
    assert again and "linked to suspended account boss" in again[0].evidence
    assert run(d, [seen]) == []  # and only once
    # an account older than every suspension is not looked at again
    old = UserSeen(ts=at(12), user=User("b3", "ados_boss__", created_at=at(1)))
    run(d, [old])
    assert run(d, [old]) == []


def test_an_invite_to_the_successor_posted_anywhere_later_is_itself_a_finding() -> None:
    """Once a successor is known, its invite posted in another server (the regrouping
    recruiting) is flagged on the message; an invite to an ordinary server is not."""
    cw = Casework(Engine.build())
    for e in fallen_network():
        cw.handle(e)
    case = cw.take_next("rev", at(4.7))
    assert case is not None
    labels = {Target.of("guild", "g1"): Category.CSAM, Target.of("user", "boss"): Category.CSAM}
    cw.decide(case.id, "rev", {t: Verdict(labels.get(t)) for t in case.targets}, at(4.8))
    for i in range(12):
        cw.handle(MemberJoined(ts=at(6 + i / 10), guild_id="g2", user_id=f"m{i}"))
    cw.handle(InviteCreated(ts=at(7), code="gamingfr", guild_id="big", inviter_id="admin"))
    for mid, text in (("p9", "venez, on est ici maintenant discord.gg/backup1"),
                      ("p10", "le serveur gaming : discord.gg/gamingfr")):
        cw.handle(MessagePosted(ts=at(8), message=Message(mid, "cx", "big", "b7", text)))
    found = [i for i in cw.intakes.values() if i.target == Target.of("message", "p9")]
    assert found and found[0].category is Category.CSAM
    # The successor, once its case was opened, is itself held as fallen: either way the
    # finding names the server it invites to.
    assert any(k.startswith("network.invite:g") for k in found[0].signal_keys)
    assert "invites (code backup1)" in (found[0].evidence or "")
    assert not [i for i in cw.intakes.values() if i.target == Target.of("message", "p10")]
