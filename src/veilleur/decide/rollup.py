"""Channels, servers and accounts as targets, from the findings on what they hold and say.

Detectors judge what they read: a message, a channel's name, a server's description, a
conversation. Who is behind it and where it gathers is a question over findings, so it is
answered here, after the policy: every message finding is remembered under its channel, its
server and its author (by message id, so a message read again counts once), and each of
those is judged again:
- a channel from how many of its messages are found of a category and what share of its
  talk they are; posts by the server's owner and by bots (rules, welcome embeds, role menus)
  count more, because they say what the place is for;
- a server from its found channels, and from its found messages as a share of its talk;
- an account from its own found messages, wherever it wrote them, and from owning a server
  found of a category.
The category is always the content's: a channel whose found messages are about adults'
stolen photos is found `ncii`, whatever its name suggests.

What is remembered lives behind `KeyedState` (namespaces `rollup.channel`, `rollup.guild`,
`rollup.account`, `rollup.seen`, `rollup.known`, `rollup.holds`; their types in `STATE`),
in memory by default, so a stream
worker can keep it in its state store; pure apart from it: no I/O. A remembered place is put
back after every change (a store outside the process keeps what was put, not what was
changed in place).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veilleur.decide.policy import Finding
from veilleur.detect.base import (
    Context,
    PolicyDataError,
    Signal,
    is_staff,
    load_policy_toml,
)
from veilleur.events import Event, MessagePosted
from veilleur.state import KeyedState, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

DETECTOR = "targets.rollup"
_CONVERSATION = "conversation.risk"
_READ_ONLY = frozenset({"places.meaning"})


class TargetsPolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class TargetsPolicy:
    version: str
    staff_weight: int
    channel: Mapping[str, float]
    guild: Mapping[str, float]
    account: Mapping[str, float]
    single_direct_categories: frozenset[Category] = frozenset()


_FIELDS = {
    "channel": ("min_messages", "min_share", "strength", "strong_messages", "strong_share",
                "strong_strength", "staff_single", "found_server_messages",
                "found_server_strength"),
    "guild": ("min_channels", "channels_strength", "min_messages", "min_share", "min_talk",
              "strength", "one_channel_strength"),
    "account": ("min_messages", "strength", "strong_messages", "strong_strength",
                "single_direct", "single_direct_strength", "owner_strength", "keep"),
}


def load_targets_policy(policy_dir: Path) -> TargetsPolicy:
    path = policy_dir / "targets.toml"
    return parse_targets_policy(load_policy_toml(path, TargetsPolicyError), str(path))


def parse_targets_policy(data: Mapping[str, Any], where: str = "targets") -> TargetsPolicy:
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise TargetsPolicyError(f"{where}: missing 'version'")
    staff = data.get("staff_weight", 1)
    if not isinstance(staff, int) or isinstance(staff, bool) or not 1 <= staff <= 10:
        raise TargetsPolicyError(f"{where}: 'staff_weight' must be a whole number 1-10")
    unknown = set(data) - {"version", "staff_weight", "single_direct_categories", *_FIELDS}
    if unknown:
        raise TargetsPolicyError(f"{where}: unknown key(s) {sorted(unknown)}")
    sections: dict[str, dict[str, float]] = {}
    for name, fields in _FIELDS.items():
        raw = data.get(name)
        if not isinstance(raw, dict):
            raise TargetsPolicyError(f"{where}: missing [{name}]")
        extra = set(raw) - set(fields)
        if extra:
            raise TargetsPolicyError(f"{where}: [{name}] has unknown key(s) {sorted(extra)}")
        out: dict[str, float] = {}
        for f in fields:
            value = raw.get(f)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise TargetsPolicyError(f"{where}: {name}.{f} must be a number >= 0")
            if (f.endswith("strength") or f.endswith("share")
                    or f in ("single_direct", "staff_single")) \
                    and value > 1:
                raise TargetsPolicyError(f"{where}: {name}.{f} must be at most 1")
            if f in _COUNTS and (value != int(value) or not 1 <= value <= _MAX_COUNT):
                raise TargetsPolicyError(f"{where}: {name}.{f} must be a whole number from 1 "
                                         f"to {_MAX_COUNT}")
            out[f] = float(value)
        for low, high in (("found_server_messages", "min_messages"),
                          ("min_messages", "strong_messages"), ("min_share", "strong_share"),
                          ("strength", "strong_strength")):
            if low in out and high in out and out[high] < out[low]:
                raise TargetsPolicyError(f"{where}: {name}.{high} must be at least "
                                         f"{name}.{low}")
        sections[name] = out
    raw_single = data.get("single_direct_categories", [])
    try:
        single = frozenset(Category(c) for c in raw_single)
    except (ValueError, TypeError):
        raise TargetsPolicyError(f"{where}: 'single_direct_categories' must list categories"
                                 ) from None
    return TargetsPolicy(version, staff, sections["channel"], sections["guild"],
                         sections["account"], single)


_COUNTS = frozenset({"min_messages", "strong_messages", "min_channels", "keep", "min_talk",
                     "found_server_messages"})
_MAX_COUNT = 10_000
_MAX_ACTIVE = 256
_MAX_TEXTS = 64
"""Distinct texts remembered per account and category: more than any count a rule asks for."""


@dataclass(slots=True)
class _Found:
    """The found messages of one category under one target (ids, each counted once)."""

    weight: float = 0.0
    ids: dict[str, float] = field(default_factory=dict)
    """A few message ids and their weight, kept as evidence (and to count each once)."""
    places: set[str] = field(default_factory=set)
    direct_max: float = 0.0
    staff_max: float = 0.0
    """The strongest finding among the owner's and bots' posts."""
    count: int = 0
    excerpts: list[tuple[str, str]] = field(default_factory=list)
    """(message id, excerpt) of the first few: shown in id order, so the evidence does not
    depend on which tier found a message first."""
    texts: set[int] = field(default_factory=set)
    """Hashes of the distinct texts (an account's one sentence pasted twice is one)."""


@dataclass(slots=True)
class _Place:
    messages: int = 0
    found: dict[Category, _Found] = field(default_factory=dict)
    channels: dict[Category, set[str]] = field(default_factory=dict)
    """For a server: its channels found of each category."""
    active: set[str] = field(default_factory=set)
    """For a server: the channels where something was said (bounded)."""


_WORDS = re.compile(r"\w+")


def _text_key(text: str) -> int:
    """A text's key among a place's or an account's distinct texts: its words, in any order
    ("le pack est dispo — mon frère est en CP" and "mon frère est en CP, le pack est dispo"
    say one thing, twice: a gaming server's two ordinary sentences in every order are not a
    catalogue's many posts). The same in every process (Python's own `hash` of a string
    changes from one process to the next, and this is kept)."""
    words = " ".join(sorted(set(_WORDS.findall(text)))) or text
    return int.from_bytes(hashlib.blake2b(words.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "big") >> 1


def merge_places(a: _Place, b: _Place) -> _Place:
    """One account's place as two processes counted it (a stream's workers, each with the
    servers it reads): what both saw, so merging in any order, or twice, gives the same.
    Counts and weights take the larger (each process counts only its own messages: the
    distinct texts, which judge an account, are exact)."""
    found: dict[Category, _Found] = {}
    for cat in a.found.keys() | b.found.keys():
        x, y = a.found.get(cat, _Found()), b.found.get(cat, _Found())
        excerpts = dict(y.excerpts)
        excerpts.update(x.excerpts)
        found[cat] = _Found(
            weight=max(x.weight, y.weight), ids=dict(sorted({**y.ids, **x.ids}.items())[:64]),
            places=set(sorted(x.places | y.places)[:_MAX_TEXTS]),
            direct_max=max(x.direct_max, y.direct_max),
            staff_max=max(x.staff_max, y.staff_max), count=max(x.count, y.count),
            excerpts=sorted(excerpts.items())[:_MAX_TEXTS],
            texts=set(sorted(x.texts | y.texts)[:_MAX_TEXTS]))
    channels = {c: a.channels.get(c, set()) | b.channels.get(c, set())
                for c in a.channels.keys() | b.channels.keys()}
    return _Place(max(a.messages, b.messages), found, channels,
                  set(sorted(a.active | b.active)[:_MAX_ACTIVE]))


STATE: dict[str, Any] = {"rollup.channel": _Place, "rollup.guild": _Place,
                         "rollup.account": _Place, "rollup.seen": bool, "rollup.known": bool,
                         "rollup.holds": bool}
"""What each namespace keeps (for stores that encode it: `statecodec`)."""


def _overshadowed(place: _Place, cat: Category) -> bool:
    """Intimate images in a place found at least as much for children's: the place is what
    the worse category says ("nudes" posted in a catalogue of minors is not a leak board)."""
    if cat is not Category.NCII:
        return False
    csam, ncii = place.found.get(Category.CSAM), place.found.get(Category.NCII)
    if csam is not None and (ncii is None or csam.count >= ncii.count):
        return True
    return len(place.channels.get(Category.CSAM, ())) >= max(
        1, len(place.channels.get(Category.NCII, ())))


_LIFTED = frozenset({"server", "messages:server"})
"""The keys of this roll-up's signals on a channel of a server found of their category."""


def _from_posts(f: Finding) -> bool:
    """Found by this roll-up from its found posts (not from a name, a layout, a successor)."""
    return DETECTOR in f.detectors and "messages" in f.signal_keys


def _known_key(gid: str, cat: Category) -> str:
    return f"{gid}\x1f{cat.value}"


class Rollup:
    """Remembers found messages under their channel, server and author; says which of those
    are targets in their own right."""

    def __init__(self, policy: TargetsPolicy,
                 thresholds: Mapping[Category, float] | None = None,
                 minor: Callable[[str], bool] | None = None,
                 state: KeyedState | None = None) -> None:
        self.policy = policy
        self._thresholds = dict(thresholds or {})
        lowest = min(self.threshold(c) for c in Category)
        if policy.channel["found_server_strength"] >= lowest:
            raise TargetsPolicyError(
                f"channel.found_server_strength must stay below the lowest finding threshold "
                f"({lowest}): a server found never makes each of its channels a finding alone")
        self._minor = minor
        """Whether an account is known to be a child (the conversation tier's estimate)."""
        self.version = policy.version
        self._state = state if state is not None else MemoryState()
        # `rollup.seen`: (message id, category) already counted: a message read again
        # counts once.
        self._owned: set[tuple[str, Category]] = set()

    @classmethod
    def load(cls, policy_dir: Path, thresholds: Mapping[Category, float] | None = None,
             minor: Callable[[str], bool] | None = None,
             state: KeyedState | None = None) -> Rollup:
        try:
            return cls(load_targets_policy(policy_dir), thresholds, minor, state)
        except TargetsPolicyError as exc:
            raise TargetsPolicyError(f"{policy_dir / 'targets.toml'}: {exc}") from None

    def _place(self, namespace: str, key: str) -> _Place:
        place: _Place | None = self._state.get(namespace, key)
        return place if place is not None else _Place()

    def threshold(self, category: Category) -> float:
        return self._thresholds.get(category, 0.7)

    # --- what is said where --------------------------------------------------------------

    def observe(self, event: Event) -> list[Signal]:
        """Counts what is said where; a channel that starts talking in a server found of a
        category gets that server's finding as evidence, and a server whose talk just grew
        enough for its share to say something is judged again."""
        # Only servers' channels: a direct conversation is never a place found by share
        # (its accounts are `conversation.risk`'s), and counting every DM would only grow.
        if not isinstance(event, MessagePosted) or event.message.guild_id is None:
            return []
        m = event.message
        gid = event.message.guild_id
        channel = self._place("rollup.channel", m.channel_id)
        channel.messages += 1
        self._state.put("rollup.channel", m.channel_id, channel)
        guild = self._place("rollup.guild", gid)
        guild.messages += 1
        out: list[Signal] = []
        if m.channel_id not in guild.active and len(guild.active) < _MAX_ACTIVE:
            guild.active.add(m.channel_id)
            out += [self._in_server(gid, m.channel_id, cat) for cat in Category
                    if self._state.get("rollup.known", _known_key(gid, cat))
                    and m.channel_id not in guild.channels.get(cat, ())]
        self._state.put("rollup.guild", gid, guild)
        if guild.messages != self.policy.guild["min_talk"]:
            return out
        # A catalogue's rules and price list are found first, before the talk its share
        # needs: it is judged again when that talk is there, in the categories where a post
        # by its owner or a bot is found as strongly as one that makes a channel alone.
        # Members' found posts alone would not do: a gaming server's first "pack" and "CP"
        # are found before its talk shows they are ordinary there, and would make it a
        # catalogue at its twentieth message (tested over many servers).
        single = self.policy.channel["staff_single"]
        return out + [s for cat in sorted(guild.found, key=lambda c: c.value)
                      if guild.found[cat].staff_max >= single
                      for s in self._judge_guild(gid, guild, cat)]

    # --- findings to targets -------------------------------------------------------------

    def take(self, findings: Iterable[Finding], ctx: Context) -> list[Signal]:
        """Signals on channels, servers and accounts from new or changed findings."""
        out: list[Signal] = []
        for f in findings:
            kind = f.target.kind
            if kind is TargetKind.MESSAGE:
                out += self._message(f, ctx)
            elif kind is TargetKind.CHANNEL:
                out += self._channel_found(f, ctx)
            elif kind is TargetKind.GUILD:
                out += self._guild_found(f, ctx)
        return out

    def _message(self, f: Finding, ctx: Context) -> list[Signal]:
        mid, cat = f.target.id, f.category
        seen = f"{mid}\x1f{cat.value}"
        if self._state.get("rollup.seen", seen):
            return []
        if f.own_score is not None and f.own_score < self.threshold(cat):
            # Found only because of where it was said: the place's suspicion must not
            # feed itself (nor the author: "pago por bizum" in a shop named like a catalogue).
            return []
        # Only what counts for the message's own score: a contextual signal beside the
        # conversation's evidence (the learned tier's `message_only`) must not make it count.
        if set(f.detectors if f.own_detectors is None else f.own_detectors) <= {_CONVERSATION}:
            # The conversation's own evidence, already on the account it names (not marked
            # seen: if another tier finds the message too, it counts then).
            return []
        self._state.put("rollup.seen", seen, True)
        cid = f.context.get("channel_id")
        gid = f.context.get("guild_id")
        author = f.context.get("author_id")
        if gid is None and cat is Category.GROOMING and author is not None \
                and self._minor is not None and self._minor(author):
            return []  # a child's words to another child are not grooming
        user = ctx.user(author)
        bot = user is not None and user.is_bot
        staff = is_staff(ctx, gid, author, user)
        weight = float(self.policy.staff_weight if staff else 1)
        excerpt = (f.excerpt or "")[:80]
        # A staff post's own strength: not lent by the server's suspicious name.
        staff_score = (f.score if f.own_score is None else f.own_score) if staff else 0.0
        out: list[Signal] = []
        if cid is not None and gid is not None:
            place = self._place("rollup.channel", cid)
            self._add(place, cat, mid, weight, excerpt, cid)
            found = place.found[cat]
            found.staff_max = max(found.staff_max, staff_score)
            self._state.put("rollup.channel", cid, place)
            out += self._judge_channel(cid, gid, place, cat)
        if gid is not None:
            place = self._place("rollup.guild", gid)
            self._add(place, cat, mid, weight, excerpt, cid or "")
            found = place.found[cat]
            found.staff_max = max(found.staff_max, staff_score)
            self._state.put("rollup.guild", gid, place)
            out += self._judge_guild(gid, place, cat)
        if author is not None and not bot:
            place = self._place("rollup.account", author)
            self._add(place, cat, mid, 1.0, excerpt, cid or "", direct=gid is None,
                      score=f.score if f.own_score is None else f.own_score)
            self._state.put("rollup.account", author, place)
            out += self._judge_account(author, place, cat, f.context)
        return out

    def _add(self, place: _Place, cat: Category, mid: str, weight: float, excerpt: str,
             where: str, *, direct: bool = False, score: float = 0.0) -> None:
        found = place.found.setdefault(cat, _Found())
        found.weight += weight
        found.count += 1
        if len(found.places) < _MAX_TEXTS:
            found.places.add(where)
        if len(found.texts) < _MAX_TEXTS:  # no excerpt: the message itself is the unit
            found.texts.add(_text_key(excerpt.casefold() if excerpt else "\x00" + mid))
        if direct:
            found.direct_max = max(found.direct_max, score)
        if len(found.ids) < self.policy.account["keep"]:
            found.ids[mid] = weight
            if excerpt:
                found.excerpts.append((mid, excerpt))

    def _judge_channel(self, cid: str, gid: str, place: _Place, cat: Category
                       ) -> list[Signal]:
        p = self.policy.channel
        found = place.found[cat]
        if _overshadowed(place, cat):
            return []
        # Messages found through a path that was not observed here (a bank that learnt an
        # old file, a restart) still have a channel: the talk is at least what was found.
        talk = max(place.messages, found.count)
        share = min(1.0, found.weight / talk)
        distinct = len(found.texts)
        strength = 0.0
        # Weight (the owner's and bots' posts weigh more) sets the share; the count of
        # different posts is never less than asked: one post, however official, is one.
        # ... unless that post is the owner's or a bot's and unambiguous: a welcome embed or
        # pinned rules found strongly say what the channel is for.
        enough = distinct >= p["min_messages"] or found.staff_max >= p["staff_single"]
        # ... or the server is found of the same category: a catalogue's folders each hold a
        # line or two that is unambiguous only there, and the server says what they are.
        in_found = not enough and distinct >= p["found_server_messages"] \
            and bool(self._state.get("rollup.known", _known_key(gid, cat)))
        if distinct >= p["strong_messages"] and share >= p["strong_share"]:
            strength = p["strong_strength"]
        elif (enough or in_found) and share >= p["min_share"]:
            strength = p["strength"]
        if not strength:
            return []
        staff = (f", the owner's and bots' posts weighing {self.policy.staff_weight}"
                 if found.weight > found.count else "")
        server = f", in a server found {cat.value}" if in_found else ""
        return [self._signal(Target(TargetKind.CHANNEL, cid), cat, strength,
                             f"{found.count} of its {talk} messages found {cat.value} "
                             f"({share:.0%} of its talk{staff}{server}): "
                             f"{self._quotes(found)}",
                             {"guild_id": gid, "channel_id": cid}, contextual=in_found,
                             # its own key: the channel found later on its own posts is
                             # a different observation, not one this one shadows
                             key="messages:server" if in_found else "messages")]

    def _judge_guild(self, gid: str, place: _Place, cat: Category) -> list[Signal]:
        p = self.policy.guild
        found = place.found.get(cat)
        if found is None or _overshadowed(place, cat):
            return []
        talk = max(place.messages, found.count)
        share = min(1.0, found.weight / talk)
        signals = []
        # A server's first messages are too few to say what it is for: the words its members
        # use every day (a "pack" of skins, "CP" of a school year) look like trade before its
        # talk shows they are ordinary there.
        if len(found.texts) >= p["min_messages"] and share >= p["min_share"] \
                and talk >= p["min_talk"]:
            signals.append(self._signal(
                Target(TargetKind.GUILD, gid), cat, p["strength"],
                f"{found.count} of its {talk} messages found {cat.value} "
                f"({share:.0%} of its talk, in {len(found.places)} channel(s)): "
                f"{self._quotes(found)}", {"guild_id": gid}, key="messages"))
        return signals

    def _channel_found(self, f: Finding, ctx: Context) -> list[Signal]:
        gid = f.context.get("guild_id")
        if gid is None:
            channel = ctx.channel(f.target.id)
            gid = channel.guild_id if channel is not None else None
        if gid is None:
            return []
        if f.own_score is not None and f.own_score < self.threshold(f.category) \
                and _LIFTED.intersection(f.signal_keys):
            return []  # found because its server is: it does not make the server in turn
        if _from_posts(f):  # the server it makes is found from what is said in it
            self._state.put("rollup.holds", _known_key(gid, f.category), True)
        place = self._place("rollup.guild", gid)
        channels = place.channels.setdefault(f.category, set())
        if f.target.id in channels:
            return []
        channels.add(f.target.id)
        self._state.put("rollup.guild", gid, place)
        if _overshadowed(place, f.category):
            return []
        p = self.policy.guild
        talking = channels & place.active
        if len(channels) >= p["min_channels"]:
            strength, what = p["channels_strength"], f"{len(channels)} of its channels"
        elif talking and 2 * len(talking) >= len(place.active):
            # Half the channels where anything is said: the server is what they are for.
            strength, what = p["channels_strength"], (
                f"{len(talking)} of the {len(place.active)} channels where its members talk")
        else:
            strength, what = p["one_channel_strength"], "one of its channels"
        return [self._signal(Target(TargetKind.GUILD, gid), f.category, strength,
                             f"{what} found {f.category.value}", {"guild_id": gid},
                             key=f"channels:{min(len(channels), int(p['min_channels']))}")]

    def _guild_found(self, f: Finding, ctx: Context) -> list[Signal]:
        # Only a server found from what is said in it (its found messages as a share of its
        # talk): one found from how its name or layout reads, from channels found by their
        # names, or as the successor of another, says nothing yet of what its channels hold.
        holds = _from_posts(f) or bool(
            self._state.get("rollup.holds", _known_key(f.target.id, f.category)))
        return (self._server_channels(f.target.id, f.category) if holds else []) + \
            self._owner(f, ctx)

    def _server_channels(self, gid: str, cat: Category) -> list[Signal]:
        """The server is found of `cat` from now on: its channels that hold found messages
        of it are judged again (what was too little alone may be enough there)."""
        key = _known_key(gid, cat)
        if self._state.get("rollup.known", key):
            return []
        self._state.put("rollup.known", key, True)
        guild: _Place | None = self._state.get("rollup.guild", gid)
        found = guild.found.get(cat) if guild is not None else None
        out: list[Signal] = []
        for cid in sorted(found.places if found is not None else ()):
            place: _Place | None = self._state.get("rollup.channel", cid) if cid else None
            if place is not None and cat in place.found:
                out += self._judge_channel(cid, gid, place, cat)
        if guild is None:
            return out
        made = guild.channels.get(cat, set())  # its evidence already: not given it back
        return out + [self._in_server(gid, cid, cat) for cid in sorted(guild.active - made)]

    def _in_server(self, gid: str, cid: str, cat: Category) -> Signal:
        """A channel where members talk, in a server found of `cat`: evidence that joins
        what its own name, topic or posts say (noisy-OR), never a finding alone."""
        return self._signal(Target(TargetKind.CHANNEL, cid), cat,
                            self.policy.channel["found_server_strength"],
                            f"in server {gid}, found {cat.value}",
                            {"guild_id": gid, "channel_id": cid}, key="server",
                            contextual=True)

    def _owner(self, f: Finding, ctx: Context) -> list[Signal]:
        if set(f.detectors) <= _READ_ONLY:
            # A server found only from how its name or description reads: evidence about
            # the place, too thin to accuse the person who named it.
            return []
        guild = ctx.guild(f.target.id)
        owner = guild.owner_id if guild is not None else None
        if owner is None or (owner, f.category) in self._owned:
            return []
        self._owned.add((owner, f.category))
        return [self._signal(Target(TargetKind.USER, owner), f.category,
                             self.policy.account["owner_strength"],
                             f"owns server {f.target.id}, found {f.category.value}",
                             {"guild_id": f.target.id, "author_id": owner},
                             key=f"owner:{f.target.id}")]

    def judge_account(self, author: str) -> list[Signal]:
        """The account judged again from what is remembered of it, in every category (its
        count grew elsewhere: another process's merged in)."""
        place: _Place | None = self._state.get("rollup.account", author)
        if place is None:
            return []
        return [s for cat in sorted(place.found, key=lambda c: c.value)
                for s in self._judge_account(author, place, cat, {})]

    def _judge_account(self, author: str, place: _Place, cat: Category,
                       context: Mapping[str, str | None]) -> list[Signal]:
        p = self.policy.account
        found = place.found[cat]
        distinct = len(found.texts)
        strength = 0.0
        if distinct >= p["strong_messages"]:
            strength = p["strong_strength"]
        elif distinct >= p["min_messages"]:
            strength = p["strength"]
        elif found.direct_max >= p["single_direct"] and \
                cat in self.policy.single_direct_categories:
            strength = p["single_direct_strength"]
        if not strength:
            return []
        why = (f"one {cat.value} message of {found.direct_max:.2f} in a direct conversation"
               if distinct < p["min_messages"] else
               f"{distinct} different messages of its found {cat.value}")
        return [self._signal(Target(TargetKind.USER, author), cat, strength,
                             f"{why} in "
                             f"{len(found.places)} place(s): {self._quotes(found)}",
                             {"author_id": author, "guild_id": context.get("guild_id"),
                              "channel_id": context.get("channel_id")})]

    def _quotes(self, found: _Found) -> str:
        shown = sorted(found.excerpts, key=lambda me: (len(me[0]), me[0]))[:4]
        return "; ".join(f"«{e}»" for _, e in shown)

    def _signal(self, target: Target, cat: Category, strength: float, evidence: str,
                context: Mapping[str, str | None], key: str = "messages",
                contextual: bool = False) -> Signal:
        return Signal(DETECTOR, self.version, target, cat, round(strength, 4), evidence,
                      key, dict(context), contextual=contextual)
