"""`network.links`: servers recreated after a removal, offenders back under new accounts,
servers laid out as catalogues.

Keyed state like every detector: the graph (`graph.py`), the servers that fell (removed or
flagged: told through labels, the engine's cross-event memory), the accounts suspended for a
confirmed violation. A server is a *successor* of a fallen one when evidence adds up: the
fallen server's members join it in numbers, its messages or invites point to it ("si ça ferme
on se replie ici : discord.gg/…"), its name echoes the fallen one, its owner owned or frequented
the fallen one, the fallen one's media reappears there. An account is *returning* when it
posts what a suspended account posted, joins the same servers in the same order, has a
near-identical name, was created right after the suspension, or joins a successor of a server
the suspended account was in. Each signal names its evidence, for the reviewer to agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import Any

from veilleur.detect.base import Context, DetectorSettings, Signal
from veilleur.detect.network.config import (
    NetworkPolicy,
    NetworkPolicyError,
    Sign,
    load_network_policy,
)
from veilleur.detect.network.graph import Graph
from veilleur.detect.text.analyzer import TextAnalyzer
from veilleur.detect.text.fold import collapse, fold, with_words
from veilleur.events import (
    ChannelCreated,
    Event,
    GuildCreated,
    GuildUpdated,
    InviteCreated,
    MemberJoined,
    MessagePosted,
    UserSeen,
    only_roles,
)
from veilleur.state import KeyedState, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_NSFW = r"n[\W_]{0,2}s[\W_]{0,2}f[\W_]{0,2}w"
_NSFW_PLACE = re.compile(
    r"\b(?:salons?|channels?|canal(?:es)?|sections?|zones?|acces|access|acceso|unlock|"
    r"debloquer|desbloquear)[\W_]+" + _NSFW + "|" + _NSFW +
    r"(?=[\W_]*(?:channels?|chans?|salons?|canal(?:es)?|roles?|sections?|zones?|categor\w*|"
    r"access|acces|acceso)\b)"
    r"|\b(?:le|the|el)[\W_]+(?:contenu|content|contenido)[\W_]+" + _NSFW +
    r"(?=[\W_]+(?:est|is|es|sera|will)\b)")
""""NSFW" naming a place ("the NSFW channels", "unlock NSFW", "NSFW access", "the NSFW
content is reserved to"), read in the folded, collapsed text (look-alikes and leet undone,
v and x read as u); "send nsfw content" names a picture."""
_ASKS = re.compile(r"\b(?:send|post|upload|dm|en[vu]oi\w*|poste|manda\w*|en[vu]ia\w*|sube|"
                   r"selfie|pics?|photos?|fotos?|[vu]ideos?)\b")
"""What a verification demanding a picture says beside it, once a place's "NSFW" is set aside."""
FALLEN_LABELS = ("removed", "violation", "flagged")


def _name(text: str | None) -> str:
    return _NOT_ALNUM.sub(" ", fold(text or "").plain).strip()


def similar(a: str, b: str, floor: float = 0.0) -> float:
    """How alike two folded names are (0 to 1); below `floor` the exact figure is not
    computed (the cheap upper bounds rule it out first)."""
    if not a or not b:
        return 0.0
    m = SequenceMatcher(None, a, b)
    if m.real_quick_ratio() < floor or m.quick_ratio() < floor:
        return 0.0
    return m.ratio()


def _combine(weights: Iterable[float]) -> float:
    return 1.0 - math.prod(1.0 - w for w in weights)


STATE: dict[str, Any] = {"network.signs": dict[str, str]}
"""Kept state beyond the graph's (`graph.CODECS`), for stores that encode it (a stream
worker's). Not in the database's store: a server's catalogue signs are read again from its
channels by each scan, so a second scan into the same database finds what the first did."""


class NetworkDetector:
    id = "network.links"

    def __init__(self, analyzer: TextAnalyzer, policy: NetworkPolicy,
                 state: KeyedState | None = None) -> None:
        self.analyzer = analyzer
        self.policy = policy
        known = analyzer.pack.features
        for sign in policy.signs:
            if unknown := sign.sets - known:
                # A misspelt set never matches: the sign would be off without a word.
                raise NetworkPolicyError(
                    f"network.toml: catalogue.signs.{sign.name}.sets: no such term set in "
                    f"the language packs: {sorted(unknown)}")
        self.version = f"{policy.version}+{analyzer.version}"
        self.graph = Graph(state if state is not None else MemoryState())
        self.fallen: dict[str, tuple[Category, datetime, str]] = {}
        """server → (category, when, the label that said so)."""
        self.offenders: dict[str, tuple[Category, datetime]] = {}
        self._first_suspension: datetime | None = None
        # Kept state, read at each use (on a bus other workers' successors merge in):
        # `network.successors`: fallen server → servers signalled as its successors;
        # `network.successor_since`: when each was first signalled strongly (an invite to it
        # is a finding from then on).
        self._emitted: dict[tuple[str, str], float] = {}
        self._links: dict[tuple[str, Category], dict[str, float]] = {}
        """(account, category) → suspended account → strength signalled for that link."""
        # `network.signs` (kept state, with the server): server → catalogue sign → the
        # channel name that showed it.

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> NetworkDetector:
        return cls(TextAnalyzer.load(settings.policy_dir),
                   load_network_policy(settings.policy_dir), state=settings.memory)

    def close(self) -> None:
        flush = getattr(self.graph.state, "flush", None)
        if flush is not None:
            flush()

    # --- events ----------------------------------------------------------------------------

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        g = self.graph
        if isinstance(event, GuildCreated | GuildUpdated):
            if isinstance(event, GuildUpdated) and only_roles(event.guild):
                return ()  # its name and owner are what they were
            guild = ctx.guild(event.guild.id) or event.guild
            g.guild_seen(guild.id, guild.name, guild.owner_id, event.ts)
            return self._check_guild(guild.id, event.ts)
        if isinstance(event, ChannelCreated) and event.channel.guild_id:
            return self._catalogue(event)
        if isinstance(event, MemberJoined):
            # A join already known is news only when it is the same join read again (a scan
            # of exports the store already holds): it is judged again, as the first time.
            if not g.joined(event.user_id, event.guild_id, event.ts) and g.guild(
                    event.guild_id).members.get(event.user_id) != event.ts:
                return []
            return [*self._check_guild(event.guild_id, event.ts, joiner=event.user_id),
                    *self._check_user(event.user_id, event.ts, joined=event.guild_id)]
        if isinstance(event, InviteCreated):
            g.invite(event.code, event.guild_id, event.inviter_id)
            return self._check_guild(event.guild_id, event.ts)
        if isinstance(event, UserSeen):
            u = g.user(event.user.id)
            name = _name(event.user.name)
            if (u.name, u.created_at) == (name, event.user.created_at or u.created_at):
                # Nothing new about the account; but one created just after a suspension is
                # looked at again: in a store that already knows it (events read a second
                # time) this sighting may be the first since that suspension.
                if not self._created_after_a_suspension(u.created_at):
                    return []
                return self._check_user(event.user.id, event.ts, named=True)
            u.name = name
            u.created_at = u.created_at or event.user.created_at
            g.put(u)
            return self._check_user(event.user.id, event.ts, named=True)
        if isinstance(event, MessagePosted):
            return self._message(event)
        return ()

    def _message(self, event: MessagePosted) -> list[Signal]:
        m = event.message
        media = [a.sha256 or a.md5 for a in m.attachments if a.sha256 or a.md5]
        self.graph.posted(m.author_id, m.guild_id, [k for k in media if k])
        out: list[Signal] = []
        if m.guild_id is not None:
            # The text detector has just read this text: the shared analyzer remembers it.
            analysis = self.analyzer.analyze(m.content)
            out += self._verification_rule(m.guild_id, m.id, m.content,
                                           set(analysis.features))
            for link in analysis.links:
                if link.kind != "invite":
                    self.graph.linked(m.guild_id, link.kind, link.url)
                if link.kind == "invite" and link.code:
                    self.graph.pointed(m.guild_id, link.code, m.id)
                    target = self.graph.invite_guild(link.code)
                    if target is not None and m.guild_id in self.fallen:
                        out += self._check_guild(target, event.ts)
                    if target is not None and target != m.guild_id:
                        out += self._invites_to_fallen(m.id, link.code, target, event.ts)
        if m.guild_id is not None and media:
            out += self._check_guild(m.guild_id, event.ts)
        if media:
            out += self._check_user(m.author_id, event.ts, media=[k for k in media if k])
        return out

    # --- labels: what casework confirmed --------------------------------------------------

    def on_label(self, target: Target, label: str, at: datetime, *, emit: bool = True
                 ) -> list[Signal]:
        """`emit` False: only remember (stored casework picked up again in a new process)."""
        kind, _, cat = label.partition(":")
        out: list[Signal] = []
        if target.kind is TargetKind.GUILD and kind in FALLEN_LABELS and cat:
            if target.id in self.fallen:
                return []
            self.fallen[target.id] = (Category(cat), at, label)
            if not emit:
                return []
            for candidate in self._candidates(target.id):
                out += self._successor(candidate, target.id, at)
        elif target.kind is TargetKind.USER and label.endswith("_confirmed"):
            category = Category(label.removesuffix("_confirmed"))
            if target.id in self.offenders:
                return []
            self.offenders[target.id] = (category, at)
            self._first_suspension = min(self._first_suspension or at, at)
            if not emit:
                return []
            u = self.graph.user(target.id)
            others: set[str] = set()
            for key in u.media:
                others |= self.graph.media(key).users
            for gid in [g for g, _ in u.joins[:20]] + sorted(u.owns)[:20]:
                others |= set(list(self.graph.guild(gid).members)[:500])
            for other in sorted(others - {target.id}):
                out += self._returning(other, target.id, at)
        return out

    def _candidates(self, fallen: str) -> set[str]:
        g = self.graph
        f = g.guild(fallen)
        found: set[str] = set()
        for member in list(f.members)[:2000]:
            found |= {gid for gid, _ in g.user(member).joins}
        for code in f.links_to:
            gid = g.invite_guild(code)
            if gid:
                found.add(gid)
        if f.owner:
            found |= g.user(f.owner).owns
        for key in list(f.media)[:500]:
            found |= g.media(key).guilds
        found.discard(fallen)
        return found

    # --- successors ------------------------------------------------------------------------

    def _check_guild(self, gid: str, at: datetime, joiner: str | None = None) -> list[Signal]:
        if not self.fallen or gid in self.fallen:
            return []
        g = self.graph.guild(gid)
        related: set[str] = set()
        if joiner is not None:
            related |= {x for x, _ in self.graph.user(joiner).joins if x in self.fallen}
        else:
            for code in g.invites:
                related |= self.graph.pointers_to(code) & self.fallen.keys()
            for key in g.media:
                related |= self.graph.media(key).guilds & self.fallen.keys()
            if g.owner:
                related |= {x for x, _ in self.graph.user(g.owner).joins if x in self.fallen}
                related |= self.graph.user(g.owner).owns & self.fallen.keys()
            name = _name(g.name)
            floor = self.policy.successor["name_similarity"]
            related |= {f for f in self.fallen
                        if similar(name, _name(self.graph.guild(f).name), floor) >= floor}
        out = []
        for fallen in sorted(related - {gid}):
            out += self._successor(gid, fallen, at)
        return out

    def _successor(self, gid: str, fallen: str, at: datetime) -> list[Signal]:
        p = self.policy.successor
        g, f = self.graph.guild(gid), self.graph.guild(fallen)
        category, fell_at, label = self.fallen[fallen]
        evidence: list[tuple[float, str]] = []
        if g.created_at and f.created_at and g.created_at < f.created_at:
            return []  # a successor is newer than what it succeeds
        if g.created_at and g.created_at > at:
            return []  # not made yet (a graph kept from an earlier scan knows it)
        window = timedelta(days=p["window_days"])
        # Only who had joined by now: a graph kept from an earlier scan of the same events
        # must not lend their future to the events read again.
        members = {u: joined for u, joined in g.members.items() if joined <= at}
        moved = [u for u, joined in members.items()
                 if u in f.members and joined >= f.members[u]
                 and fell_at - window <= joined <= fell_at + window]
        share = len(moved) / max(1, len(members))
        if share < 0.1 or (share < 0.2 and len(moved) < p["members_many"]):
            moved = []  # a few members among many: a big server, not a regrouping
        if len(moved) >= p["members_many"]:
            evidence.append((p["weight_members_many"], f"{len(moved)} of its members came from "
                             f"it ({', '.join(moved[:5])}…)"))
        elif len(moved) >= p["members_some"]:
            evidence.append((p["weight_members_some"], f"{len(moved)} of its members came from "
                             f"it ({', '.join(moved[:5])})"))
        pointed = [(code, mid) for code, mid in f.links_to.items() if code in g.invites]
        if pointed:
            evidence.append((p["weight_pointed"], "the fallen server pointed to it (invite "
                             f"{pointed[0][0]} in message {pointed[0][1]})"))
        ratio = similar(_name(g.name), _name(f.name))
        if ratio >= p["name_similarity"]:
            evidence.append((p["weight_name"], f"its name «{g.name}» echoes «{f.name}» "
                             f"({ratio:.2f})"))
        if g.owner and g.owner == f.owner:
            evidence.append((p["weight_owner_same"], f"same owner ({g.owner})"))
        elif g.owner and g.owner in f.members:
            evidence.append((p["weight_owner_member"], f"its owner {g.owner} was a member"))
        shared = g.media & f.media
        if shared:
            evidence.append((p["weight_media"], f"{len(shared)} of its files were posted "
                             "there before"))
        if not evidence:
            return []
        score = _combine(w for w, _ in evidence)
        key = (gid, fallen)
        if score < self._emitted.get(key, 0.0) + 0.05:
            return []
        self._emitted[key] = score
        if score >= p["threshold"]:
            if self.graph.state.get("network.successor_since", gid) is None:
                self.graph.state.put("network.successor_since", gid, at)
            known = self.successors_of(fallen)
            if gid not in known:
                self.graph.state.put("network.successors", fallen, known | {gid})
        return [Signal(
            self.id, self.version, Target(TargetKind.GUILD, gid), category, round(score, 4),
            f"successor of server {fallen} «{f.name}» ({label} on {fell_at:%Y-%m-%d}): "
            + "; ".join(t for _, t in evidence),
            f"network.successor:{fallen}", {"guild_id": gid, "fallen_guild_id": fallen})]

    def successors_of(self, fallen: str) -> set[str]:
        """The servers signalled as successors of `fallen` (by any process)."""
        known: set[str] | None = self.graph.state.get("network.successors", fallen)
        return set(known) if known else set()

    def _invites_to_fallen(self, mid: str, code: str, gid: str, at: datetime
                           ) -> list[Signal]:
        """A message inviting to a removed server, or to a strong successor of one: the
        regrouping recruits where its members are (a community server, a DM)."""
        # Only what was known when the message was posted: a graph kept from an earlier
        # scan knows successors found later.
        if gid in self.fallen and self.fallen[gid][1] <= at:
            fallen: str | None = gid
        else:
            since: datetime | None = self.graph.state.get("network.successor_since", gid)
            fallen = next((f for f in self.fallen if gid in self.successors_of(f)), None) \
                if since is not None and since <= at else None
        if fallen is None:
            return []
        category, fell_at, label = self.fallen[fallen]
        f = self.graph.guild(fallen)
        what = ("the removed server" if fallen == gid else
                f"server {gid} «{self.graph.guild(gid).name}», a successor of the removed "
                "server")
        return [Signal(
            self.id, self.version, Target(TargetKind.MESSAGE, mid), category,
            self.policy.successor["invite_to_fallen"],
            f"invites (code {code}) to {what} {fallen} «{f.name}» ({label} on "
            f"{fell_at:%Y-%m-%d})", f"network.invite:{fallen}",
            {"guild_id": gid, "fallen_guild_id": fallen, "code": code})]

    # --- returning offenders ---------------------------------------------------------------

    def _check_user(self, uid: str, at: datetime, *, joined: str | None = None,
                    media: Iterable[str] = (), named: bool = False) -> list[Signal]:
        """Only what the event changed is looked at: the server just joined, the files just
        posted, the name just seen (this runs for every join and every post)."""
        if not self.offenders or uid in self.offenders:
            return []
        related: set[str] = set()
        for key in media:
            related |= self.graph.media(key).users & self.offenders.keys()
        if joined is not None:
            members = self.graph.guild(joined).members
            related |= {o for o in self.offenders if o in members}
            for fallen in self.fallen:
                if joined in self.successors_of(fallen):
                    f = self.graph.guild(fallen)
                    related |= {o for o in self.offenders if o in f.members or o == f.owner}
        if named:
            name = self.graph.user(uid).name
            threshold = self.policy.returning["name_similarity"]
            related |= {o for o in self.offenders
                        if similar(name, self.graph.user(o).name, threshold) >= threshold}
        out = []
        for offender in sorted(related):
            out += self._returning(uid, offender, at)
        return out

    def _created_after_a_suspension(self, created: datetime | None) -> bool:
        if created is None or self._first_suspension is None or created < self._first_suspension:
            return False  # (most accounts: older than any suspension, no loop)
        window = timedelta(days=self.policy.returning["created_window_days"])
        return any(at <= created <= at + window for _, at in self.offenders.values())

    def _returning(self, uid: str, offender: str, at: datetime) -> list[Signal]:
        p = self.policy.returning
        u, o = self.graph.user(uid), self.graph.user(offender)
        category, suspended_at = self.offenders[offender]
        evidence: list[tuple[float, str]] = []
        shared = u.media & o.media
        if shared:
            evidence.append((p["weight_media"], f"posted {len(shared)} file(s) {offender} "
                             "posted"))
        # Servers everybody joins (the big public ones, often in the same order) say nothing
        # of who an account is: only servers of at most `join_order_max_members` count. Only
        # servers both joined can match, so only theirs are looked up (dropping the others
        # keeps the order of the rest).
        mine = [gid for gid, _ in u.joins]
        both = set(mine)
        cap = p["join_order_max_members"]
        order = _in_order(mine, [gid for gid, _ in o.joins if gid in both
                                 and len(self.graph.guild(gid).members) <= cap])
        if order >= p["join_order_min"]:
            evidence.append((p["weight_join_order"], f"joined {order} of the same servers in "
                             "the same order"))
        ratio = similar(u.name, o.name)
        if ratio >= p["name_similarity"]:
            evidence.append((_name_weight(p, ratio, u.name),
                             f"name «{u.name}» ≈ «{o.name}» ({ratio:.2f})"))
        window = timedelta(days=p["created_window_days"])
        if u.created_at is not None and suspended_at <= u.created_at <= suspended_at + window:
            soon = u.created_at - suspended_at <= timedelta(hours=p["created_soon_hours"])
            evidence.append((p["weight_created_soon" if soon else "weight_created_after"],
                             f"created {u.created_at:%Y-%m-%d %H:%M}, after the suspension of "
                             f"{offender} on {suspended_at:%Y-%m-%d %H:%M}"))
        # The servers it owned count as much as those it joined: an owner is not a member.
        was_in = {gid for gid, _ in o.joins} | o.owns
        into = [gid for gid, _ in u.joins
                if any(gid in self.successors_of(f) for f in was_in if f in self.fallen)]
        if into:
            evidence.append((p["weight_successor"], f"joined {into[0]}, a successor of a server "
                             f"{offender} was in"))
        if not evidence:
            return []
        score = _combine(w for w, _ in evidence)
        key = (uid, offender)
        if score < self._emitted.get(key, 0.0) + 0.05:
            return []
        self._emitted[key] = score
        # Links to several suspended accounts are one suspicion, not several (two offenders
        # named alike must not double a namesake's score): the policy adds signals of
        # different keys, so each link signals only what lifts the strongest link so far to
        # its own score.
        held = self._links.setdefault((uid, category), {})
        others = _combine(v for o, v in held.items() if o != offender)
        want = max(score, _combine(held.values()))
        lift = 0.0 if others >= 1.0 else 1.0 - (1.0 - want) / (1.0 - others)
        strength = max(lift, held.get(offender, 0.0))
        held[offender] = strength
        return [Signal(
            self.id, self.version, Target(TargetKind.USER, uid), category, round(strength, 4),
            f"linked to suspended account {offender} ({category.value}, suspended "
            f"{suspended_at:%Y-%m-%d}): " + "; ".join(t for _, t in evidence),
            f"network.returning:{offender}", {"author_id": uid, "linked_to": offender})]

    # --- catalogue layout ------------------------------------------------------------------

    def _catalogue(self, event: ChannelCreated) -> list[Signal]:
        c = event.channel
        assert c.guild_id is not None
        self.graph.channel(c.guild_id, c.id, c.name)
        reading = self._name_reading(" ".join(x for x in (with_words(c.name), c.topic) if x))
        signs = self._signs_of(c.guild_id)
        new = False
        for sign in self.policy.signs:
            if sign.name in signs:
                continue
            if _shows(sign, reading):
                signs[sign.name] = f"#{c.name}"
                new = True
        if not new:
            return []
        self.graph.state.put("network.signs", c.guild_id, signs)
        return self._layout(c.guild_id, signs)

    def _signs_of(self, guild_id: str) -> dict[str, str]:
        signs: dict[str, str] | None = self.graph.state.get("network.signs", guild_id)
        return dict(signs) if signs is not None else {}

    def _verification_rule(self, guild_id: str, message_id: str, text: str,
                           features: set[str]) -> list[Signal]:
        """Entry "verification" demanding an intimate photo: a sign of the server itself.

        An adults-only server's welcome ("verify in #verify to see the NSFW channels", "le
        contenu NSFW est réservé aux membres vérifiés") names the same words and demands no
        picture: "NSFW" there names a place, and once such names are set aside, a sexual word,
        an image request or an intimate-image word must remain."""
        if "verification" not in features or \
                not features & {"sexual", "image_request", "intimate_image"} or \
                "prevention" in features:
            return []
        if not features & {"image_request", "intimate_image"}:
            plain = collapse(fold(text).plain)
            bare = _NSFW_PLACE.sub(" ", plain)
            if bare != plain and _ASKS.search(bare) is None and \
                    "sexual" not in self.analyzer.analyze(bare).features:
                return []
        signs = self._signs_of(guild_id)
        if "verification_demand" in signs:
            return []
        signs["verification_demand"] = f"message {message_id}"
        self.graph.state.put("network.signs", guild_id, signs)
        return self._layout(guild_id, signs)

    def _layout(self, guild_id: str, signs: dict[str, str]) -> list[Signal]:
        demand = "verification_demand" in signs
        if len(signs) < 2 and not demand:
            return []
        p = self.policy.catalogue
        strong = len(signs) >= p["signs_for_signal"] or (demand and len(signs) >= 2)
        weight = p["weight_strong"] if strong else p["weight_two"]
        category = (Category.CSAM if "minors" in signs
                    else Category.NCII if signs.keys() & {"relations", "proofs"} or demand
                    else None)
        if category is None or ("minors" not in signs and "relations" not in signs
                                and not strong and not demand):
            return []
        layout = ", ".join(f"{k.replace('_', ' ')} ({v})" for k, v in sorted(signs.items()))
        if category is Category.NCII and (name := self._named_for_minors(guild_id)):
            # The category follows the content: a catalogue its owner named for minors is
            # one of minors, whatever its channels say of adults' photos.
            category = Category.CSAM
            layout += f"; its name reads minors («{name[:80]}»)"
        return [Signal(self.id, self.version, Target(TargetKind.GUILD, guild_id), category,
                       weight, f"server laid out as a catalogue: {layout}",
                       f"network.catalogue:{len(signs)}", {"guild_id": guild_id})]

    def _named_for_minors(self, guild_id: str) -> str:
        """The server's name when it reads as the catalogue sign for minors ("" if not)."""
        name = self.graph.guild(guild_id).name
        sign = next((s for s in self.policy.signs if s.name == "minors"), None)
        if not name or sign is None:
            return ""
        return name if _shows(sign, self._name_reading(with_words(name))) else ""

    def _name_reading(self, text: str) -> tuple[frozenset[str], str]:
        """A channel's or server's name as the catalogue signs read it: its features (words
        joined by "-" or "_" read apart) and its folded text."""
        features = self.analyzer.analyze(text.replace("-", " ").replace("_", " ")).features
        return frozenset(features), fold(text).plain


def _shows(sign: Sign, reading: tuple[frozenset[str], str]) -> bool:
    features, plain = reading
    return bool(features & sign.sets) or (
        sign.regex is not None and sign.regex.search(plain) is not None)


def _name_weight(p: Mapping[str, float], ratio: float, name: str) -> float:
    """From `weight_name` at the similarity floor to `weight_name_same` for the same name,
    for names long enough not to collide by chance; short ones keep the floor's weight."""
    low, high, floor = p["weight_name"], p["weight_name_same"], p["name_similarity"]
    if len(_NOT_ALNUM.sub("", name)) < p["name_min_chars"] or high <= low or floor >= 1:
        return low
    return low + (high - low) * min(1.0, max(0.0, (ratio - floor) / (1.0 - floor)))


def _in_order(mine: list[str], theirs: list[str]) -> int:
    """How many of `mine` appear in `theirs` in the same order (greedy, both bounded)."""
    pos = {gid: i for i, gid in enumerate(theirs)}
    count, last = 0, -1
    for gid in mine:
        i = pos.get(gid)
        if i is not None and i > last:
            count, last = count + 1, i
    return count
