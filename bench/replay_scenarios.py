"""Replay scenarios: event logs (contracts §5) with their oracle, built in code.

Each scenario is one story from the investigations, told with synthetic, non-graphic text and
generated pictures. `write_suite` puts them together (optionally inside a large synthetic
platform's background traffic) and writes `events.jsonl`, `oracle.jsonl` and a hash bank.

    python bench/replay_scenarios.py OUT_FOLDER [--background 1000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.imagegen import make_image

from veilleur.cases.models import iso

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

BENIGN = [
    "salut tout le monde", "quelqu'un pour une partie ce soir ?", "gg bien joué",
    "je reviens dans 5 minutes", "le nouveau patch est sorti", "anyone up for a match?",
    "check the pinned message for the rules", "¿alguien juega esta noche?", "mdr trop drôle",
    "superbe améthyste à la bourse aux minéraux", "bonne nuit à tous",
    "qui a vu le dernier épisode ?", "I'll stream at 9pm", "on se fait un tournoi samedi ?",
]


@dataclass
class EventLog:
    """Events and oracle labels, collected out of order and written sorted by time."""

    folder: Path
    events: list[tuple[datetime, int, dict[str, Any]]] = field(default_factory=list)
    labels: dict[tuple[str, str], str] = field(default_factory=dict)
    bank: list[tuple[str, str, str]] = field(default_factory=list)
    milestones: list[dict[str, Any]] = field(default_factory=list)
    """When each story's harm showed itself (`veilleur.sim.followthrough`): not the oracle's,
    never read by the engine."""
    n: int = 0

    def add(self, ts: datetime, event: dict[str, Any]) -> None:
        self.n += 1
        self.events.append((ts, self.n, {"type": event.pop("type"),
                                         "ts": iso(ts),
                                         **event}))

    def label(self, kind: str, id: str, category: str) -> None:
        self.labels[kind, id] = category

    def milestone(self, kind: str, target_kind: str, tid: str, sign_at: datetime,
                  answer_at: datetime | None = None) -> None:
        m: dict[str, Any] = {"kind": kind, "target": {"kind": target_kind, "id": tid},
                             "sign_at": iso(sign_at)}
        if answer_at is not None:
            m["answer_at"] = iso(answer_at)
        self.milestones.append(m)

    # --- helpers that read like the platform ---------------------------------------------

    def user(self, ts: datetime, uid: str, name: str, age_band: str | None = None) -> None:
        u: dict[str, Any] = {"id": uid, "name": name}
        if age_band:
            u["age_band"] = age_band
        self.add(ts, {"type": "user_seen", "user": u})

    def guild(self, ts: datetime, gid: str, name: str, owner: str) -> None:
        self.add(ts, {"type": "guild_created", "guild": {"id": gid, "name": name,
                                                          "owner_id": owner}})

    def channel(self, ts: datetime, cid: str, gid: str | None, name: str,
                kind: str = "text") -> None:
        self.add(ts, {"type": "channel_created", "channel": {"id": cid, "guild_id": gid,
                                                              "name": name, "kind": kind}})

    def join(self, ts: datetime, gid: str, uid: str) -> None:
        self.add(ts, {"type": "member_joined", "guild_id": gid, "user_id": uid})

    def message(self, ts: datetime, mid: str, cid: str, gid: str | None, author: str,
                content: str, *, attachments: list[tuple[str, str]] = (),  # type: ignore[assignment]
                recipients: list[str] | None = None) -> None:
        m: dict[str, Any] = {"id": mid, "channel_id": cid, "guild_id": gid,
                             "author_id": author, "content": content,
                             "attachments": [{"id": a, "path": p} for a, p in attachments]}
        if recipients:
            m["recipient_ids"] = recipients
        self.add(ts, {"type": "message", "message": m})

    def report(self, ts: datetime, rid: str, source: str, kind: str, tid: str,
               category: str | None = None, **extra: Any) -> None:
        r: dict[str, Any] = {"id": rid, "source": source, "target": {"kind": kind, "id": tid}}
        if category:
            r["category_claimed"] = category
        r.update({k: v for k, v in extra.items() if v is not None})
        self.add(ts, {"type": "report", "report": r})

    def picture(self, name: str, seed: int, kind: str = "photo") -> str:
        media = self.folder / "media"
        media.mkdir(parents=True, exist_ok=True)
        path = media / f"{name}.jpg"
        if not path.exists():
            make_image(seed, kind).save(path, quality=90)
        return f"media/{name}.jpg"

    def write(self) -> tuple[Path, Path, Path]:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.events.sort(key=lambda e: (e[0], e[1]))
        events = self.folder / "events.jsonl"
        with events.open("w", encoding="utf-8") as f:
            for _, _, e in self.events:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
        oracle = self.folder / "oracle.jsonl"
        with oracle.open("w", encoding="utf-8") as f:
            for (kind, tid), cat in sorted(self.labels.items()):
                f.write(json.dumps({"target": {"kind": kind, "id": tid}, "category": cat})
                        + "\n")
        bank = self.folder / "bank.csv"
        with bank.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["signal_type", "signal", "category", "note"])
            w.writerows(self.bank)
        with (self.folder / MILESTONES).open("w", encoding="utf-8") as f:
            for m in sorted(self.milestones, key=lambda m: (m["sign_at"], m["target"]["id"])):
                f.write(json.dumps(m, ensure_ascii=False) + "\n")
        return events, oracle, bank


MILESTONES = "milestones.jsonl"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


# --- the stories -------------------------------------------------------------------------


def stolen_photos_server(log: EventLog, t: datetime) -> None:
    """A server trading stolen intimate photos of women, reported by its victims for weeks
    (the platform closed the reports unanswered). Reports target the posts."""
    log.user(t, "sp-owner", "collector")
    log.guild(t, "sp-guild", "les soirées privées", "sp-owner")
    log.channel(t, "sp-general", "sp-guild", "general")
    log.channel(t, "sp-leaks", "sp-guild", "photos-volees")
    log.label("guild", "sp-guild", "ncii")
    log.label("user", "sp-owner", "ncii")
    for i in range(40):
        log.join(t + minutes(5 + i), "sp-guild", f"sp-member-{i}")
    for day in range(21):
        ts = t + timedelta(days=day, hours=2)
        mid = f"sp-post-{day}"
        poster = f"sp-member-{day % 6}"
        pic = log.picture(f"sp-photo-{day}", 1000 + day)
        log.message(ts, mid, "sp-leaks", "sp-guild", poster, "nouvelle photo, elle sait pas",
                    attachments=[(f"sp-att-{day}", pic)])
        log.label("message", mid, "ncii")
        log.label("attachment", f"sp-att-{day}", "ncii")
        log.label("user", poster, "ncii")
        log.message(ts + minutes(3), f"sp-chat-{day}", "sp-general", "sp-guild",
                    f"sp-member-{10 + day % 7}", random.Random(day).choice(BENIGN))
        if day % 3 == 0:
            log.report(ts + timedelta(hours=5), f"sp-report-{day}", "dsa_notice", "message",
                       mid, "ncii", notifier={"name": "victim", "email": "victim@example.org"},
                       explanation="c'est une photo de moi volée, publiée sans mon accord")


def owner_deletes_after_report(log: EventLog, t: datetime) -> None:
    """A server whose name and words give nothing away trades pictures no bank knows yet. A
    member reports it; its owner deletes everything two hours later."""
    log.user(t, "od-owner", "vendeur")
    log.guild(t, "od-guild", "soirée pyjama", "od-owner")
    log.channel(t, "od-photos", "od-guild", "photos")
    log.label("guild", "od-guild", "csam")
    log.label("channel", "od-photos", "csam")
    log.label("user", "od-owner", "csam")
    for i, text in enumerate(["dispo", "qui veut la suite ?", "nouvelles ce soir"]):
        mid = f"od-msg-{i}"
        pic = log.picture(f"od-pic-{i}", 7000 + i)
        log.message(t + minutes(10 + i), mid, "od-photos", "od-guild", "od-owner", text,
                    attachments=[(f"od-att-{i}", pic)])
        log.label("message", mid, "csam")
        log.label("attachment", f"od-att-{i}", "csam")
    for i in range(120):
        log.join(t + minutes(20 + i / 4), "od-guild", f"od-member-{i}")
    report_at = t + timedelta(hours=3)
    log.report(report_at, "od-report-1", "user", "guild", "od-guild", "csam",
               reporter_id="od-reporter", explanation="ce serveur échange des photos de mineures")
    log.add(report_at + timedelta(hours=2), {"type": "guild_deleted", "guild_id": "od-guild",
                                             "by": "owner"})


def troll_campaign(log: EventLog, t: datetime, reports: int = 1000, trolls: int = 200) -> None:
    """Trolls mass-report an innocent server (a minerals club) and its members' messages."""
    log.user(t, "tc-owner", "geologue")
    log.guild(t, "tc-guild", "Club Minéraux", "tc-owner")
    log.channel(t, "tc-general", "tc-guild", "general")
    rng = random.Random(7)
    for i in range(60):
        log.join(t + minutes(1 + i), "tc-guild", f"tc-member-{i}")
    for i in range(80):
        log.message(t + minutes(60 + i * 3), f"tc-msg-{i}", "tc-general", "tc-guild",
                    f"tc-member-{i % 60}", rng.choice(BENIGN))
    start = t + timedelta(hours=6)
    for i in range(reports):
        kind, tid = (("guild", "tc-guild") if i % 5 == 0 else
                     ("message", f"tc-msg-{rng.randrange(80)}") if i % 5 < 4 else
                     ("user", f"tc-member-{rng.randrange(60)}"))
        log.report(start + timedelta(seconds=i * 9), f"tc-report-{i}", "user", kind, tid,
                   rng.choice(["csam", "csam", "grooming", "ncii"]),
                   reporter_id=f"tc-troll-{i % trolls}", explanation="pédo serveur signalez")


def authority_orders(log: EventLog, t: datetime) -> None:
    """Removal requests from the authority (LCEN 6-1, 24 h): one plain, one interrupted by
    force majeure, one naming content this platform never had (clarification requested)."""
    log.user(t, "ao-seller", "packs4u")
    log.guild(t, "ao-guild", "entraide devoirs", "ao-seller")
    log.channel(t, "ao-general", "ao-guild", "general")
    for i in range(30):
        log.join(t + minutes(i), "ao-guild", f"ao-member-{i}")
    log.message(t + minutes(40), "ao-msg-1", "ao-general", "ao-guild", "ao-seller",
                "collection complète 13-16 ans, paiement crypto, écrivez en mp")
    log.message(t + minutes(41), "ao-msg-2", "ao-general", "ao-guild", "ao-seller",
                "t.me/packs_private pour la suite")
    for mid in ("ao-msg-1", "ao-msg-2"):
        log.label("message", mid, "csam")
    log.label("user", "ao-seller", "csam")
    order_at = t + timedelta(hours=1)
    log.report(order_at, "ao-order-1", "authority", "message", "ao-msg-1", "csam",
               notifier={"name": "OFAC / PHAROS"}, explanation="demande de retrait LCEN 6-1")
    log.report(order_at + minutes(5), "ao-order-2", "authority", "message", "ao-msg-2", "csam",
               notifier={"name": "OFAC / PHAROS"}, explanation="demande de retrait LCEN 6-1")
    log.add(order_at + minutes(6), {"type": "order_update", "report_id": "ao-order-2",
                                    "status": "force_majeure", "note": "datacentre outage"})
    log.add(order_at + timedelta(hours=3), {"type": "order_update", "report_id": "ao-order-2",
                                            "status": "obstacle_cleared"})
    log.report(order_at + minutes(10), "ao-order-3", "authority", "message", "ao-msg-unknown",
               "csam", notifier={"name": "OFAC / PHAROS"}, explanation="demande de retrait")


def victim_reports_extortionist(log: EventLog, t: datetime) -> None:
    """A 14-year-old reports the adult extorting her in DMs."""
    log.user(t, "ve-victim", "lea_14", age_band="13_15")
    log.user(t, "ve-extortionist", "maxime")
    log.channel(t, "ve-dm", None, "dm", kind="dm")
    lines = [("ve-extortionist", "tu as quel âge ? envoie-moi une photo de toi"),
             ("ve-victim", "j'ai 14 ans pourquoi"),
             ("ve-extortionist", "garde ça secret, envoie-moi une photo juste pour moi"),
             ("ve-victim", "non"),
             ("ve-extortionist", "si tu bloques, je vais envoyer à tes parents tes photos"),
             ("ve-extortionist", "j'envoie tout à ton école si tu réponds pas")]
    for i, (who, text) in enumerate(lines):
        other = "ve-victim" if who == "ve-extortionist" else "ve-extortionist"
        mid = f"ve-msg-{i}"
        log.message(t + minutes(10 * i), mid, "ve-dm", None, who, text, recipients=[other])
        if who == "ve-extortionist":
            log.label("message", mid, "sextortion")
    log.label("user", "ve-extortionist", "sextortion")
    log.milestone("sextortion", "user", "ve-extortionist", t + minutes(40))
    log.report(t + minutes(70), "ve-report-1", "user", "user", "ve-extortionist",
               "sextortion", reporter_id="ve-victim",
               explanation="il menace d'envoyer mes photos à mes parents")


def known_media_and_reupload(log: EventLog, t: datetime) -> None:
    """A known image (in the bank) is posted: blocked on upload. A server posts new material
    no bank has; once a reviewer confirms it, the same pictures re-posted in the next server
    are stopped on upload."""
    known = log.picture("km-known", 4242, "scene")
    from veilleur.detect.media.hashing import hash_file

    h = hash_file(log.folder / known)
    log.bank.append(("sha256", h.sha256 or "", "csam", "test bank entry (generated picture)"))
    log.user(t, "km-uploader", "dropper")
    log.guild(t, "km-guild-1", "photos", "km-uploader")
    log.channel(t, "km-chan-1", "km-guild-1", "general")
    log.label("guild", "km-guild-1", "csam")
    log.label("user", "km-uploader", "csam")
    fresh = [log.picture(f"km-fresh-{i}", 5000 + i, "photo") for i in range(3)]
    for i, pic in enumerate(fresh):
        mid = f"km-msg-fresh-{i}"
        log.message(t + minutes(2 + i), mid, "km-chan-1", "km-guild-1", "km-uploader",
                    "nouveau", attachments=[(f"km-att-fresh-{i}", pic)])
        log.label("message", mid, "csam")
        log.label("attachment", f"km-att-fresh-{i}", "csam")
    log.message(t + minutes(10), "km-msg-known", "km-chan-1", "km-guild-1", "km-uploader",
                "et encore", attachments=[("km-att-known", known)])
    log.label("message", "km-msg-known", "csam")
    log.label("attachment", "km-att-known", "csam")
    # The next day, an accomplice re-posts the same pictures in a new server.
    t2 = t + timedelta(days=1)
    log.user(t2, "km-accomplice", "backup")
    log.guild(t2, "km-guild-2", "vip backup", "km-accomplice")
    log.channel(t2, "km-chan-2", "km-guild-2", "general")
    for i, pic in enumerate(fresh):
        log.message(t2 + minutes(10 + i), f"km-repost-{i}", "km-chan-2", "km-guild-2",
                    "km-accomplice", "on reprend ici", attachments=[(f"km-reatt-{i}", pic)])
        log.label("attachment", f"km-reatt-{i}", "csam")
        log.label("message", f"km-repost-{i}", "csam")
    log.label("user", "km-accomplice", "csam")


def hotline_notice(log: EventLog, t: datetime) -> None:
    """A trusted flagger (the French hotline) flags a channel of an ordinary-looking server
    where pictures of minors are swapped; nothing in the words gives it away."""
    log.user(t, "hn-owner", "admin")
    log.guild(t, "hn-guild", "la chill zone", "hn-owner")
    log.channel(t, "hn-general", "hn-guild", "general")
    log.channel(t, "hn-swap", "hn-guild", "echange")
    for i in range(200):
        log.join(t + minutes(1 + i / 10), "hn-guild", f"hn-member-{i}")
    for i in range(30):
        log.message(t + minutes(30 + i), f"hn-chat-{i}", "hn-general", "hn-guild",
                    f"hn-member-{i}", BENIGN[i % len(BENIGN)])
    for i in range(4):
        pic = log.picture(f"hn-pic-{i}", 8000 + i)
        mid = f"hn-swap-{i}"
        log.message(t + minutes(40 + i), mid, "hn-swap", "hn-guild", f"hn-swapper-{i % 2}",
                    "échange ?", attachments=[(f"hn-att-{i}", pic)])
        log.label("message", mid, "csam")
        log.label("attachment", f"hn-att-{i}", "csam")
        log.label("user", f"hn-swapper-{i % 2}", "csam")
    log.label("channel", "hn-swap", "csam")
    log.report(t + timedelta(hours=2), "hn-notice-1", "trusted_flagger", "channel", "hn-swap",
               "csam", flagger="point-de-contact",
               explanation="échange d'images d'abus sexuels sur mineurs (signalement INHOPE)")


def notices_and_complaints(log: EventLog, t: datetime) -> None:
    """A journalist's DSA notice (identity given, two items) about stolen intimate photos; an
    incomplete notice and an anonymous one about the same server; then complaints (Art. 20):
    the poster contests the removal, a troll contests the rejection of his report, a stranger
    contests a decision that does not concern him."""
    log.user(t, "nc-poster", "ex_leaks")
    log.guild(t, "nc-guild", "souvenirs", "nc-poster")
    log.channel(t, "nc-photos", "nc-guild", "vos-ex")
    for i in range(40):
        log.join(t + minutes(i / 4), "nc-guild", f"nc-member-{i}")
    for i in range(3):
        pic = log.picture(f"nc-pic-{i}", 9100 + i)
        mid = f"nc-msg-{i}"
        log.message(t + minutes(20 + i), mid, "nc-photos", "nc-guild", "nc-poster",
                    "la suite en privé", attachments=[(f"nc-att-{i}", pic)])
        log.label("message", mid, "ncii")
        log.label("attachment", f"nc-att-{i}", "ncii")
    log.label("user", "nc-poster", "ncii")
    journalist = {"name": "Camille Durand", "email": "camille.durand@redaction.example",
                  "language": "fr"}
    for i in range(2):
        log.report(t + timedelta(hours=2), f"nc-notice-1-{i}", "dsa_notice", "message",
                   f"nc-msg-{i}", "ncii", notice_id="nc-notice-1", notifier=journalist,
                   bona_fide=True, explanation="photos intimes d'une femme publiées sans son "
                   "consentement, elle me l'a confirmé")
    log.report(t + timedelta(hours=2, minutes=5), "nc-notice-2", "dsa_notice", "message",
               "nc-msg-2", "ncii", notifier={"name": "anonyme"},
               explanation="photo volée")
    log.report(t + timedelta(hours=2, minutes=6), "nc-notice-3", "dsa_notice", "message",
               "nc-msg-2", "ncii", explanation="image intime sans consentement, à retirer")
    later = t + timedelta(days=2)
    log.add(later, {"type": "complaint", "complaint": {
        "id": "nc-complaint-1", "target": {"kind": "message", "id": "nc-msg-0"},
        "by": "affected", "complainant_id": "nc-poster",
        "explanation": "c'est mon ex, j'ai le droit"}})
    log.add(later + minutes(5), {"type": "complaint", "complaint": {
        "id": "nc-complaint-2", "target": {"kind": "guild", "id": "tc-guild"},
        "by": "notifier", "complainant_id": "tc-troll-0", "report_id": "tc-report-0",
        "explanation": "ce serveur est dangereux, revoyez votre décision"}})
    log.add(later + minutes(6), {"type": "complaint", "complaint": {
        "id": "nc-complaint-3", "target": {"kind": "message", "id": "nc-msg-1"},
        "by": "affected", "complainant_id": "nc-member-3",
        "explanation": "je conteste"}})


def network_regroups(log: EventLog, t: datetime) -> None:
    """A server with an ordinary name trades pictures and announces its fallback; a hotline
    reports it. When it is dealt with, its members regroup in the announced server, and its
    owner, suspended, comes back under a near-identical account and re-posts the picture."""
    log.user(t, "nr-boss", "ados_boss")
    log.guild(t, "nr-guild-1", "entraide devoirs 4e", "nr-boss")
    log.channel(t, "nr-chan-1", "nr-guild-1", "general")
    log.label("guild", "nr-guild-1", "csam")
    log.label("user", "nr-boss", "csam")
    for i in range(15):
        log.join(t + minutes(1 + 2 * i), "nr-guild-1", f"nr-member-{i}")
    pic = log.picture("nr-pic", 9300)
    log.message(t + minutes(40), "nr-msg-1", "nr-chan-1", "nr-guild-1", "nr-boss",
                "nouveau", attachments=[("nr-att-1", pic)])
    log.message(t + minutes(45), "nr-msg-0", "nr-chan-1", "nr-guild-1", "nr-boss",
                "si ça ferme on se replie ici : discord . gg / nrbackup")
    log.label("message", "nr-msg-1", "csam")
    log.label("attachment", "nr-att-1", "csam")
    log.report(t + timedelta(hours=2), "nr-notice-1", "trusted_flagger", "guild", "nr-guild-1",
               "csam", flagger="point-de-contact",
               explanation="serveur d'échange d'images d'abus sexuels sur mineurs")
    t2 = t + timedelta(hours=6)
    log.guild(t2, "nr-guild-2", "chill entre potes", "nr-member-3")
    log.channel(t2, "nr-chan-2", "nr-guild-2", "general")
    log.add(t2 + minutes(1), {"type": "invite_created", "invite": {
        "code": "nrbackup", "guild_id": "nr-guild-2", "inviter_id": "nr-member-3"}})
    log.label("guild", "nr-guild-2", "csam")
    log.milestone("successor", "guild", "nr-guild-2", t2 + minutes(1))
    for i in range(12):
        log.join(t2 + minutes(5 + i), "nr-guild-2", f"nr-member-{i}")
    t3 = t + timedelta(days=1)
    log.add(t3, {"type": "user_seen", "user": {"id": "nr-boss-2", "name": "ados_boss2",
                                               "created_at": (t3 - minutes(30)).isoformat()
                                               .replace("+00:00", "Z")}})
    log.join(t3 + minutes(2), "nr-guild-2", "nr-boss-2")
    log.message(t3 + minutes(5), "nr-msg-2", "nr-chan-2", "nr-guild-2", "nr-boss-2",
                "je suis de retour", attachments=[("nr-att-2", pic)])
    log.label("user", "nr-boss-2", "csam")
    log.milestone("returning", "user", "nr-boss-2", t3)
    log.label("message", "nr-msg-2", "csam")
    log.label("attachment", "nr-att-2", "csam")


# --- follow-through at scale: conversations written outside the engine's tuning, and networks
# that regroup in several ways --------------------------------------------------------------

# A request for a picture or a webcam, in the scene writers' languages: only to place the
# grooming milestone (when the child answered it); the engine never reads this.
_PICTURE_ASK = re.compile(r"phot|\bpics?\b|foto|selfie|cam\b|webcam|c[aá]mara|vid[eé]o|"
                          r"\bnudes?\b|image|snap ?(?:me|moi)", re.I)


def scene_conversations(log: EventLog, t: datetime, *, limit: int | None = None) -> None:
    """Every unseen conversation of the scene corpus (the test half and the held-out writer:
    never tuned on) as direct messages over its days: the suspect's decisive lines and account
    labelled, the ordinary conversations (peers, coaches, family) a test of restraint. Every
    other child is a minor the platform knows (age band), the rest say it or not at all."""
    from veilleur.corpus.scenes import Conversation, filler, load_scenes, timed_turns
    from veilleur.corpus.split import scene_split_of

    scenes = [c for c in load_scenes() if isinstance(c, Conversation)
              and scene_split_of(c.key, c.writer) == "test"]
    for k, scene in enumerate(scenes[:limit]):
        start = t + timedelta(minutes=20 * k)
        prefix = f"sc{k}"
        people = {p: f"{prefix}-{p}" for p in scene.people}
        for p, uid in people.items():
            band = "13_15" if scene.people[p] == "minor" and k % 2 == 0 else None
            log.user(start, uid, f"{p}{k}", age_band=band)
        cid = f"{prefix}-dm"
        log.channel(start, cid, None, "dm", kind="dm")
        sign: datetime | None = None
        asked: datetime | None = None
        answer: datetime | None = None
        for j, turn, at, text in timed_turns(scene, filler(scene, 1), start):
            mid = f"{prefix}-m{j}"
            author = people[turn.speaker]
            log.message(at, mid, cid, None, author, text,
                        recipients=[u for p, u in people.items() if p != turn.speaker])
            suspect = scene.category is not None and turn.speaker == scene.suspect
            if suspect and turn.decisive:
                log.label("message", mid, scene.category.value)
                sign = sign or at
                if asked is None and _PICTURE_ASK.search(text):
                    asked = at
            elif asked is not None and answer is None and turn.speaker != scene.suspect:
                answer = at
        if scene.category is not None and scene.suspect and sign is not None:
            uid = people[scene.suspect]
            log.label("user", uid, scene.category.value)
            log.milestone(scene.category.value, "user", uid, sign,
                          answer if scene.category.value == "grooming" else None)


_FALLEN = [("csam", "entraide 4e", "si ça ferme on se replie ici : discord . gg / {code}"),
           ("ncii", "les ex de la fac", "backup si on saute : discord.gg/{code}"),
           ("csam", "young models club", "if we get banned join discord . gg/{code}"),
           ("ncii", "fotos de la prepa", "si nos cierran: discord gg {code}"),
           ("csam", "echange photos", "nouveau lien au cas où : dsc . gg / {code}"),
           ("ncii", "exposed girls", "new server if this one dies: discord.gg / {code}"),
           ("csam", "club des petites", "on bouge ici bientôt discord . gg /{code}"),
           ("ncii", "vos cousines", "serveur de secours : discord.gg/{code}")]


def network_variants(log: EventLog, t: datetime) -> None:
    """Eight servers fall (a trusted flagger's notice, a reviewer's confirmation) and come
    back in a different way each: an announced invite, an echoed name, the owner's new
    account, the same pictures, members in numbers only, a co-admin's server, members who
    trickle in over two days, a member's server named like nothing. Each owner returns under
    a new account: a near-identical name, the same pictures, the same servers in the same
    order, or only a new account that joins the successor."""
    for i, (category, name, announce) in enumerate(_FALLEN):
        v = f"nv{i}"
        t0 = t + timedelta(hours=2 * i)
        owner, coadmin = f"{v}-owner", f"{v}-coadmin"
        members = [f"{v}-member-{j}" for j in range(14)]
        hangouts = [f"{v}-hangout-{j}" for j in range(3)]
        log.user(t0, owner, f"{name.split()[0]}_boss{i}")
        for j, gid in enumerate(hangouts):  # ordinary servers the owner is also in
            log.guild(t0, gid, f"gaming squad {i}{j}", f"{v}-other-{j}")
            log.channel(t0, f"{gid}-c", gid, "general")
            log.join(t0 + minutes(1 + j), gid, owner)
        fallen = f"{v}-fallen"
        log.guild(t0 + minutes(5), fallen, name, owner)
        log.channel(t0 + minutes(5), f"{fallen}-c", fallen, "general")
        log.label("guild", fallen, category)
        log.label("user", owner, category)
        for j, uid in enumerate([coadmin, *members]):
            log.join(t0 + minutes(6 + j), fallen, uid)
        code = f"{v}back"
        pics = [log.picture(f"{v}-pic-{j}", 20_000 + 10 * i + j) for j in range(2)]
        for j, pic in enumerate(pics):
            mid = f"{fallen}-m{j}"
            # Straight after the server opens: before its name can have it removed.
            log.message(t0 + minutes(5.5 + j / 4), mid, f"{fallen}-c", fallen, owner,
                        "nouveau", attachments=[(f"{mid}-a", pic)])
            log.label("message", mid, category)
            log.label("attachment", f"{mid}-a", category)
        if i % 8 == 0:
            log.message(t0 + minutes(6), f"{fallen}-announce", f"{fallen}-c", fallen, owner,
                        announce.format(code=code))
        log.report(t0 + timedelta(hours=1), f"{v}-notice", "trusted_flagger", "guild", fallen,
                   category, flagger="point-de-contact",
                   explanation="serveur d'échange d'images sans consentement ou de mineurs")
        # The successor, three hours later, and the owner's return.
        t1 = t0 + timedelta(hours=3)
        succ = f"{v}-succ"
        back = f"{v}-back"
        shape = i % 8
        succ_owner = {2: back, 5: coadmin}.get(shape, members[0])
        succ_name = {1: f"{name} 2", 7: "random chat"}.get(shape, f"chill {i}")
        if shape == 2 or i % 4 == 0:  # a near-identical name
            log.add(t1 - minutes(30), {"type": "user_seen", "user": {
                "id": back, "name": f"{name.split()[0]}_boss{i}_", "created_at":
                iso(t1 - minutes(40))}})
        else:
            log.add(t1 - minutes(30), {"type": "user_seen", "user": {
                "id": back, "name": f"someone{i}x", "created_at": iso(t1 - minutes(40))}})
        log.guild(t1, succ, succ_name, succ_owner)
        log.channel(t1, f"{succ}-c", succ, "general")
        log.label("guild", succ, category)
        log.label("user", back, category)
        sign = t1 if shape in (1, 2, 5) else None
        if shape == 0:
            log.add(t1 + minutes(1), {"type": "invite_created", "invite": {
                "code": code, "guild_id": succ, "inviter_id": succ_owner}})
            sign = t1 + minutes(1)
        joiners = members[:4] if shape in (1, 3, 5) else members[:12]
        for j, uid in enumerate(joiners):
            gap = timedelta(hours=4 * j) if shape == 6 else minutes(3 + j)
            log.join(t1 + gap, succ, uid)
            sign = sign or t1 + gap
        if shape == 3:  # a member re-posts the fallen server's picture
            log.label("user", members[1], category)
            mid = f"{succ}-repost"
            log.message(t1 + minutes(20), mid, f"{succ}-c", succ, members[1], "on reprend",
                        attachments=[(f"{mid}-a", pics[0])])
            log.label("message", mid, category)
            log.label("attachment", f"{mid}-a", category)
        assert sign is not None
        log.milestone("successor", "guild", succ, sign)
        # How the owner's new account gives itself away (the successor's variants aside).
        # The first sign is the first step that ties it to the owner: its name, the same
        # picture, the third server joined in the same order, the successor joined.
        ret = i % 4
        named = shape == 2 or i % 4 == 0
        log.milestone("returning", "user", back, t1 - minutes(30) if named else {
            1: t1 + minutes(45), 2: t1 + minutes(42)}.get(ret, t1 + minutes(50)))
        if ret == 1:
            mid = f"{back}-repost"
            log.join(t1 + minutes(40), hangouts[0], back)
            log.message(t1 + minutes(45), mid, f"{hangouts[0]}-c", hangouts[0], back, "tiens",
                        attachments=[(f"{mid}-a", pics[1])])
            log.label("message", mid, category)
            log.label("attachment", f"{mid}-a", category)
        elif ret == 2:
            for j, gid in enumerate(hangouts):
                log.join(t1 + minutes(40 + j), gid, back)
        elif shape != 2:
            log.join(t1 + minutes(50), succ, back)


STORIES: dict[str, Callable[[EventLog, datetime], None]] = {
    "troll_campaign": troll_campaign,
    "stolen_photos_server": stolen_photos_server,
    "owner_deletes_after_report": owner_deletes_after_report,
    "authority_orders": authority_orders,
    "victim_reports_extortionist": victim_reports_extortionist,
    "known_media_and_reupload": known_media_and_reupload,
    "hotline_notice": hotline_notice,
    "notices_and_complaints": notices_and_complaints,
    "network_regroups": network_regroups,
    "network_variants": network_variants,
    "scene_conversations": scene_conversations,
}
# Measured, not promised: these hold conversations written outside the engine's tuning, some of
# which it misses (`--follow-through`; the tests keep floors on them).
FOLLOW_THROUGH = ("network_variants", "scene_conversations")


TRADE = [
    "Pack VIP +400 vidéos -12 ans, prix 20€ paypal ou paysafecard",
    "collection complète 13-16 ans, paiement crypto", "vends packs -14 ans, écrivez en mp",
    "nouveau caldo de pollo dispo, psc accepté", "full pack 13yo in dms, paypal only",
    "CP packs dispo, prix en dm",
]


def background(log: EventLog, t: datetime, events: int, *, seed: int = 1,
               guilds: int = 2000, users: int = 50000, days: float = 14.0,
               trade_share: float = 0.0005, traders: int = 50) -> None:
    """Ordinary platform traffic (servers, channels, joins, chat) with, hidden in it, a few
    accounts advertising abuse material in random servers (`trade_share` of the messages;
    labelled, for the engine to find on its own)."""
    rng = random.Random(seed)
    span = days * 86400.0
    per_guild_channels = 3
    n = 0
    for g in range(guilds):
        ts = t + timedelta(seconds=rng.random() * span * 0.1)
        log.guild(ts, f"bg-guild-{g}", f"serveur {g}", f"bg-user-{g % users}")
        for c in range(per_guild_channels):
            log.channel(ts, f"bg-chan-{g}-{c}", f"bg-guild-{g}", ["general", "jeux", "memes"][c])
        n += 1 + per_guild_channels
    while n < events:
        ts = t + timedelta(seconds=rng.random() * span)
        g = rng.randrange(guilds)
        u = rng.randrange(users)
        roll = rng.random()
        if roll < trade_share:
            mid, who = f"bg-trade-{n}", f"bg-trader-{rng.randrange(traders)}"
            log.message(ts, mid, f"bg-chan-{g}-0", f"bg-guild-{g}", who, rng.choice(TRADE))
            log.label("message", mid, "csam")
            log.label("user", who, "csam")
        elif roll < 0.05:
            log.join(ts, f"bg-guild-{g}", f"bg-user-{u}")
        else:
            log.message(ts, f"bg-msg-{n}", f"bg-chan-{g}-{rng.randrange(per_guild_channels)}",
                        f"bg-guild-{g}", f"bg-user-{u}", rng.choice(BENIGN))
        n += 1


def write_suite(folder: Path, *, stories: list[str] | None = None, background_events: int = 0,
                troll_reports: int = 1000, spacing_hours: float = 1.5,
                follow_through: bool = False) -> tuple[Path, Path, Path]:
    """The stories start `spacing_hours` apart, the troll campaign first: its thousand false
    reports (from its sixth hour) run alongside the others' genuine ones. `follow_through`:
    the stories of `FOLLOW_THROUGH` too (when `stories` does not name them)."""
    log = EventLog(folder)
    names = stories or [n for n in STORIES if follow_through or n not in FOLLOW_THROUGH]
    for i, name in enumerate(names):
        start = T0 + timedelta(hours=spacing_hours * i)
        if name == "troll_campaign":
            troll_campaign(log, start, reports=troll_reports)
        else:
            STORIES[name](log, start)
    if background_events:
        background(log, T0 - timedelta(hours=1), background_events)
    return log.write()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--background", type=int, default=0,
                    help="background events of ordinary traffic to add")
    ap.add_argument("--trolls", type=int, default=1000, help="false reports in the campaign")
    ap.add_argument("--follow-through", action="store_true",
                    help="also the unseen scene conversations and the regrouping networks")
    args = ap.parse_args()
    paths = write_suite(args.folder, background_events=args.background,
                        troll_reports=args.trolls, follow_through=args.follow_through)
    for p in paths:
        print(p)


if __name__ == "__main__":
    main()
