"""The one small interface every detector implements, and the signal it emits."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from veilleur.events import Channel, Event, Guild, User
from veilleur.taxonomy import Category, Target

if TYPE_CHECKING:
    from veilleur.detect.media.matcher import BankMatcher

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"


class PolicyDataError(ValueError):
    """A policy data file (packs, rules, links, exemplars, thresholds) is unusable."""


def load_policy_toml(path: Path, error: type[PolicyDataError] = PolicyDataError
                     ) -> dict[str, Any]:
    """A policy data file as a dict; an unreadable or invalid file raises `error`, naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise error(f"{path}: cannot load: {exc}") from None


_EMPTY_PROBE = "a b 1 ? - ab cd 12 éè ?-\nxyz abcd 13 ans ados"
"""Single and paired letters, digits, accents, punctuation, a line break and words: a
pattern that matches an empty stretch anywhere in ordinary text matches one here."""


def matches_empty(regex: re.Pattern[str]) -> bool:
    """Whether a policy's pattern can match an empty stretch of text ("x?", "\\b(?:ados?|)",
    "(?=.)"): it would then match, or open a window on, every text. Checked at load."""
    return regex.search("") is not None or any(
        m.end() == m.start() for m in regex.finditer(_EMPTY_PROBE))


@dataclass(frozen=True, slots=True)
class Signal:
    """One detector's observation on one target."""

    detector: str
    version: str
    target: Target
    category: Category
    strength: float
    evidence: str
    key: str
    """What this observation is (a rule id, a bank entry): reading the same input twice gives
    the same key, so the policy never counts one observation twice."""
    context: Mapping[str, str | None] = field(default_factory=dict)
    excerpt: str | None = None
    spans: tuple[tuple[int, int], ...] = ()
    """Where in `excerpt`'s text the evidence lies (character offsets), for highlighting."""
    contextual: bool = False
    """Observed only because of where it was said (a rule that needs the channel's or the
    server's suspicion), or evidence of the message alone (`learned.toml`'s `message_only`):
    it never makes that place, its server or its writer a target in turn."""


class Context(Protocol):
    """What a detector may know beyond the event: read-only, keyed state."""

    def guild(self, guild_id: str | None) -> Guild | None: ...

    def channel(self, channel_id: str | None) -> Channel | None: ...

    def user(self, user_id: str | None) -> User | None: ...


def is_staff(ctx: Context, guild_id: str | None, author_id: str | None,
             user: User | None = None) -> bool:
    """A server post by its owner or by a bot (rules, welcome embeds, role menus,
    announcements): what says what a place is for. `user`: the author, if already looked up."""
    if guild_id is None or author_id is None:
        return False
    user = user if user is not None else ctx.user(author_id)
    if user is not None and user.is_bot:
        return True
    guild = ctx.guild(guild_id)
    return guild is not None and guild.owner_id == author_id


class Detector(Protocol):
    id: str
    version: str

    def detect(self, event: Event, ctx: Context) -> Iterable[Signal]: ...


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """What a deployment hands its detectors: where the policy data lives, which banks."""

    policy_dir: Path = POLICY_DIR
    matcher: BankMatcher | None = None
    """The hash banks to match attachments against (stored banks and `--bank` files)."""
    semantic: bool = True
    """Use the semantic layer on borderline messages (when its encoder is installed)."""
    learned: bool = True
    """Run the learned tier (`text.learned`) on every message."""
    rollup: bool = True
    """Judge channels, servers and accounts from the findings on what they hold and say
    (`decide/rollup.py`)."""
    memory: Any = None
    """Where detectors with a memory (conversations, the platform graph) keep it: a
    `KeyedState` (the store's `StoredMemory`), or None for memory of this process only."""
