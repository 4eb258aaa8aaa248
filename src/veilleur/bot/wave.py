"""Waves: a raid on one server, seen as many flagged messages (the engine's answer not
`allow`) or many joins (of young accounts, above all) within a short window, and what the
mod log says about it. Pure: no Discord, no clock of its own (every observation carries its
time); `incidents.py` does the I/O.

- **One decision per wave.** Reaching a threshold of the server's `[wave]` policy starts a
  wave: pause invites and DMs until `at + pause_minutes`. While that pause runs, the wave
  is the same one: a threshold reached again extends it (at most once per window, so a
  flood makes one call to Discord per window, not one per message), and nothing starts it
  twice. Once the pause is over, a new burst is a new wave.
- **Why, in numbers.** Each decision carries the counts in the window and which thresholds
  were reached, and the accounts whose flagged messages took part (first seen first), for a
  moderator's bulk ban: the bot never bans by itself.
- **Bounded memory.** Per server, two deques trimmed by time and capped (`MAX_EVENTS`); at
  most `max_guilds` servers, the one quiet for longest forgotten first; at most
  `MAX_ACCOUNTS` accounts per wave.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from veilleur.bot.modlog import MAX_TEXT, fit, quoted
from veilleur.bot.policy import MAX_PAUSE_MINUTES, WavePolicy

MAX_EVENTS = 5000
"""Per server and kind, the observations kept (a threshold is at most 1,000)."""
MAX_ACCOUNTS = 1000
"""Per wave, the flagged accounts kept for the moderator's list."""
MAX_GUILDS = 10_000
MAX_AHEAD = timedelta(minutes=MAX_PAUSE_MINUTES) - timedelta(minutes=1)
"""Discord refuses a pause more than 24 hours ahead of its own clock: a minute short of it,
a clock a little ahead of Discord's is not refused."""


class Step(Enum):
    START = "start"
    EXTEND = "extend"


@dataclass(frozen=True, slots=True)
class WaveDecision:
    guild_id: int
    step: Step
    started: datetime
    until: datetime
    """The pause's end (`MAX_AHEAD` at most after the observation)."""
    pause: bool
    """The policy makes the pause automatic; else the mod log proposes it."""
    flagged: int
    """Flagged messages in the window, ..."""
    authors: int
    """... from this many accounts."""
    joins: int
    young_joins: int
    young_days: int
    window_seconds: int
    reached: tuple[str, ...]
    """The thresholds reached ("flagged", "joins", "young_joins")."""
    accounts: tuple[int, ...]
    """Authors of flagged messages in the wave (first seen first): a moderator's bulk ban
    to propose, never automatic."""

    def why(self) -> str:
        """The counts, in English, for the bot's log and an audit-log reason."""
        return (f"{self.flagged} flagged messages from {self.authors} accounts, "
                f"{self.joins} joins ({self.young_joins} accounts under {self.young_days} "
                f"days) in {minutes(self.window_seconds)} (reached: "
                f"{', '.join(self.reached)})")


@dataclass(slots=True)
class _Wave:
    started: datetime
    until: datetime
    sent: datetime
    """When the last decision was given (extensions wait a window after it)."""
    accounts: dict[int, None] = field(default_factory=dict)


@dataclass(slots=True)
class _Guild:
    flagged: deque[tuple[datetime, int]] = field(
        default_factory=lambda: deque(maxlen=MAX_EVENTS))
    joins: deque[tuple[datetime, bool]] = field(
        default_factory=lambda: deque(maxlen=MAX_EVENTS))
    seen: OrderedDict[int, None] = field(default_factory=OrderedDict)
    """The latest flagged messages' ids, counted once."""
    young: int = 0
    """Young accounts among `joins` (kept in step with it)."""
    wave: _Wave | None = None


class Detector:
    """One server's sliding window."""

    def __init__(self, guild_id: int, policy: WavePolicy) -> None:
        self.guild_id = guild_id
        self.policy = policy
        self._g = _Guild()

    def flagged(self, author_id: int, at: datetime, message_id: int | None = None
                ) -> WaveDecision | None:
        g = self._g
        if message_id is not None:
            if message_id in g.seen:
                return None  # one message, two events (AutoMod's and its own): once
            g.seen[message_id] = None
            if len(g.seen) > MAX_EVENTS:
                g.seen.popitem(last=False)
        self._trim(at)
        g.flagged.append((at, author_id))
        if g.wave is not None and at < g.wave.until and \
                len(g.wave.accounts) < MAX_ACCOUNTS:
            g.wave.accounts.setdefault(author_id)
        return self._decide(at)

    def joined(self, created_at: datetime, at: datetime) -> WaveDecision | None:
        g = self._g
        self._trim(at)
        young = at - created_at < timedelta(days=self.policy.young_days)
        if len(g.joins) == g.joins.maxlen and g.joins[0][1]:
            g.young -= 1  # pushed out by the append below
        g.joins.append((at, young))
        g.young += young
        return self._decide(at)

    def end(self) -> None:
        """A moderator lifted the pause: the next burst is a new wave."""
        self._g.wave = None

    @property
    def active_until(self) -> datetime | None:
        return self._g.wave.until if self._g.wave else None

    def _trim(self, at: datetime) -> None:
        g, start = self._g, at - timedelta(seconds=self.policy.window_seconds)
        while g.flagged and g.flagged[0][0] <= start:
            g.flagged.popleft()
        while g.joins and g.joins[0][0] <= start:
            g.young -= g.joins.popleft()[1]

    def _reached(self) -> tuple[str, ...]:
        p, g = self.policy, self._g
        counts = {"flagged": len(g.flagged), "joins": len(g.joins), "young_joins": g.young}
        return tuple(k for k, n in counts.items() if getattr(p, k) and n >= getattr(p, k))

    def _decide(self, at: datetime) -> WaveDecision | None:
        g, p = self._g, self.policy
        if g.wave is not None and at >= g.wave.until:
            g.wave = None  # over: the next burst is a new wave
        reached = self._reached()
        if not reached:
            return None
        until = at + min(timedelta(minutes=p.pause_minutes), MAX_AHEAD)
        if g.wave is None:
            g.wave = _Wave(started=at, until=until, sent=at, accounts=dict.fromkeys(
                list(dict.fromkeys(a for _, a in g.flagged))[:MAX_ACCOUNTS]))
            step = Step.START
        elif at - g.wave.sent >= timedelta(seconds=p.window_seconds) and until > g.wave.until:
            g.wave.until, g.wave.sent = until, at
            step = Step.EXTEND
        else:
            return None  # the same wave, extended a moment ago
        return WaveDecision(
            guild_id=self.guild_id, step=step, started=g.wave.started, until=g.wave.until,
            pause=p.automatic, flagged=len(g.flagged),
            authors=len({a for _, a in g.flagged}), joins=len(g.joins),
            young_joins=g.young, young_days=p.young_days, window_seconds=p.window_seconds,
            reached=reached, accounts=tuple(g.wave.accounts))


class Waves:
    """Every server's detector, for the gateway's handlers: call `flagged` for each
    message the engine did not allow and `joined` for each member who joins; a decision
    (rarely) comes back, for `incidents.respond`."""

    def __init__(self, policy_of: Callable[[int], WavePolicy | None], *,
                 max_guilds: int = MAX_GUILDS) -> None:
        self.policy_of = policy_of
        """A server's `[wave]` policy (None: not watched)."""
        self.max_guilds = max_guilds
        self._guilds: OrderedDict[int, Detector] = OrderedDict()

    def _detector(self, guild_id: int) -> Detector | None:
        policy = self.policy_of(guild_id)
        if policy is None:
            self._guilds.pop(guild_id, None)
            return None
        d = self._guilds.get(guild_id)
        if d is None or d.policy != policy:  # new, or its policy was reloaded
            d = Detector(guild_id, policy)
            self._guilds[guild_id] = d
            while len(self._guilds) > self.max_guilds:
                self._guilds.popitem(last=False)  # the one quiet for longest
        self._guilds.move_to_end(guild_id)
        return d

    def observe_flagged(self, guild_id: int, author_id: int, at: datetime, *,
                        message_id: int | None = None) -> WaveDecision | None:
        """`at`: the bot's clock when the answer came (not the message's timestamp: the
        window is trimmed in arrival order). With `message_id`, a message judged twice
        counts once."""
        d = self._detector(guild_id)
        return d.flagged(author_id, at, message_id) if d else None

    def observe_join(self, guild_id: int, member_id: int, created_at: datetime,
                     at: datetime) -> WaveDecision | None:
        """`created_at`: the account's (`Member.created_at`), not the join's; `at`: the
        bot's clock."""
        d = self._detector(guild_id)
        return d.joined(created_at, at) if d else None

    def end(self, guild_id: int) -> None:
        """After `incidents.resume`: the pause was lifted before its time."""
        d = self._guilds.get(guild_id)
        if d is not None:
            d.end()

    def __len__(self) -> int:
        return len(self._guilds)


# The mod log's words ---------------------------------------------------------------------

WORDS: dict[str, dict[str, str]] = {
    "en": {"head": "wave (raid)", "extend": "the wave goes on", "server": "server",
           "paused": "Invites and DMs paused until {until} (automatic; Discord lifts it "
                     "then, or a moderator earlier)",
           "extended": "Pause of invites and DMs extended until {until}",
           "proposed": "Invites and DMs not paused: the policy leaves it to a moderator "
                       "(pause them until {until}?)",
           "not_done": "Not done",
           "why": "{flagged} flagged messages from {authors} accounts and {joins} joins "
                  "({young} accounts under {days} days) in {window}",
           "since": "since {started}",
           "accounts": "Accounts with flagged messages (ids; a ban is a moderator's "
                       "decision, their messages are kept as evidence)",
           "none": "none (joins only)", "more": "and {n} more",
           "banned": "Banned by moderator {by}", "ban_failed": "Not banned (Discord "
                                                              "refused or did not say)"},
    "fr": {"head": "vague (raid)", "extend": "la vague continue", "server": "serveur",
           "paused": "Invitations et MP suspendus jusqu'à {until} (automatique ; Discord "
                     "les rétablit alors, ou un modérateur avant)",
           "extended": "Suspension des invitations et MP prolongée jusqu'à {until}",
           "proposed": "Invitations et MP non suspendus : la politique laisse ce choix à "
                       "un modérateur (les suspendre jusqu'à {until} ?)",
           "not_done": "Pas fait",
           "why": "{flagged} messages signalés de {authors} comptes et {joins} arrivées "
                  "({young} comptes de moins de {days} jours) en {window}",
           "since": "depuis {started}",
           "accounts": "Comptes aux messages signalés (ids ; un bannissement est la "
                       "décision d'un modérateur, leurs messages sont gardés comme preuves)",
           "none": "aucun (arrivées seulement)", "more": "et {n} de plus",
           "banned": "Bannis par le modérateur {by}",
           "ban_failed": "Non bannis (Discord a refusé ou n'a rien dit)"},
}


def minutes(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def when(t: datetime) -> str:
    """A time as Discord shows it in each reader's own zone, and in UTC for the record."""
    return f"<t:{int(t.timestamp())}:f> ({t.strftime('%Y-%m-%d %H:%M')} UTC)"


def _ids(head: str, ids: tuple[int, ...], room: int, w: dict[str, str]) -> str:
    """`head: id, id, ...` within `room` characters, the ids left out counted."""
    if not ids:
        return head
    line = f"{head}: "
    for n, i in enumerate(ids):
        piece = ("" if n == 0 else ", ") + str(i)
        left = len(ids) - n - 1
        more = f" … {w['more'].format(n=left)}" if left else ""
        if len(line) + len(piece) + len(more) > room:
            return line.rstrip() + f" … {w['more'].format(n=len(ids) - n)}"
        line += piece
    return line


def text(d: WaveDecision, locale: str = "en", *, problem: str | None = None,
         guild_name: str | None = None) -> str:
    """The mod log's line for a decision, once the pause was asked for (`problem`: why it
    was not done, in the bot's English like every failure). Ids only, no mention; the
    server's name (the platform's string) quoted inert."""
    w = WORDS.get(locale, WORDS["en"])
    where = f"{w['server']} {d.guild_id}" + (f" ({quoted(guild_name)[:100]})"
                                            if guild_name else "")
    head = f"**Veilleur** · {w['head'] if d.step is Step.START else w['extend']} · {where}"
    until = when(d.until)
    if problem is not None:
        action = f"{w['not_done']}: {problem}"
    elif not d.pause:
        action = w["proposed"].format(until=until)
    else:
        action = w["paused" if d.step is Step.START else "extended"].format(until=until)
    why = w["why"].format(flagged=d.flagged, authors=d.authors, joins=d.joins,
                          young=d.young_joins, days=d.young_days,
                          window=minutes(d.window_seconds))
    if d.step is Step.EXTEND:
        why += f" ({w['since'].format(started=when(d.started))})"
    lines = [head, action, why]
    room = MAX_TEXT - len("\n".join(lines)) - 1
    lines.append(_ids(w["accounts"], d.accounts, room, w) if d.accounts
                 else f"{w['accounts']}: {w['none']}")
    return fit("\n".join(lines))


def ban_text(guild_id: int, moderator_id: int, banned: tuple[int, ...],
             failed: tuple[int, ...], problems: tuple[str, ...], locale: str = "en") -> str:
    """The mod log's line after a moderator's bulk ban: who was banned, who was not."""
    w = WORDS.get(locale, WORDS["en"])
    lines = [f"**Veilleur** · {w['head']} · {w['server']} {guild_id}"]
    tail = [f"{w['not_done']}: " + "; ".join(problems)] if problems else []
    tail_len = len("\n".join(tail)) + 1 if tail else 0
    room = (MAX_TEXT - len(lines[0]) - tail_len - 2) // (2 if failed else 1)
    lines.append(_ids(f"{w['banned'].format(by=moderator_id)} ({len(banned)})", banned,
                      room, w))
    if failed:
        lines.append(_ids(f"{w['ban_failed']} ({len(failed)})", failed, room, w))
    return fit("\n".join(lines + tail))
