"""What has been done to whom, what it covers, and which attempts it stops.

Actions on a server count for its channels and messages; actions on an account count for what
it does afterwards (contracts §6). Every action can be reverted; the record stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from veilleur.cases.content import ContentView
from veilleur.cases.models import Action, iso
from veilleur.events import (
    ChannelCreated,
    Event,
    GuildCreated,
    InviteCreated,
    MemberJoined,
    MessagePosted,
)
from veilleur.taxonomy import Target, TargetKind

RESTRICTING = frozenset({"remove_content", "block_upload", "suspend_account", "delete_guild",
                         "block_join"})


@dataclass(frozen=True, slots=True)
class Prevented:
    """An attempt that was stopped (contracts §6: scored as prevented)."""

    ts: datetime
    event: str
    subject: Target
    reason: str
    action_id: str

    def to_json(self) -> dict[str, Any]:
        return {"ts": iso(self.ts), "event": self.event, "subject": self.subject.to_json(),
                "reason": self.reason, "action_id": self.action_id}


def subject_of(event: Event) -> Target:
    """What an event would have created or done: the post, the joining user, the server..."""
    if isinstance(event, MessagePosted):
        return Target(TargetKind.MESSAGE, event.message.id)
    if isinstance(event, MemberJoined):
        return Target(TargetKind.USER, event.user_id)
    if isinstance(event, GuildCreated):
        return Target(TargetKind.GUILD, event.guild.id)
    if isinstance(event, ChannelCreated):
        return Target(TargetKind.CHANNEL, event.channel.id)
    if isinstance(event, InviteCreated):
        return Target(TargetKind.INVITE, event.code)
    raise ValueError(f"a {event.type} event is never stopped")


@dataclass(frozen=True, slots=True)
class Stopped:
    """An attempt the platform would have prevented, and the action that prevents it."""

    reason: str
    action: Action
    join: bool = False
    """A join attempt: it gets its own `block_join` action."""


class Enforcement:
    def __init__(self, content: ContentView) -> None:
        self.content = content
        self.actions: dict[str, Action] = {}
        self._by_target: dict[Target, list[Action]] = {}
        self._removed: dict[Target, Action] = {}
        self._suspended: dict[str, Action] = {}
        self._deleted: dict[str, Action] = {}
        self._join_blocked: dict[str, Action] = {}

    def apply(self, action: Action) -> None:
        self.actions[action.id] = action
        t = action.target
        self._by_target.setdefault(t, []).append(action)
        if not action.active:
            return  # a reverted action (read back from the store) is history, not in force
        if action.action in ("remove_content", "block_upload"):
            self._removed.setdefault(t, action)
        elif action.action == "suspend_account" and t.kind is TargetKind.USER:
            self._suspended.setdefault(t.id, action)
        elif action.action == "delete_guild" and t.kind is TargetKind.GUILD:
            self._deleted.setdefault(t.id, action)
        elif action.action == "block_join" and t.kind is TargetKind.USER and action.case_id \
                and action.detail.get("bars_joins"):
            self._join_blocked.setdefault(t.id, action)

    def revert(self, action_id: str, at: datetime, by: str, reason: str) -> Action:
        action = self.actions[action_id]
        if action.reverted_at is None:
            action.reverted_at, action.reverted_by, action.revert_reason = at, by, reason
            t = action.target
            if self._removed.get(t) is action:
                del self._removed[t]
            for table in (self._suspended, self._deleted, self._join_blocked):
                if table.get(t.id) is action:
                    del table[t.id]
        return action

    def on_target(self, target: Target) -> list[Action]:
        return self._by_target.get(target, [])

    def done(self, target: Target, measure: str) -> bool:
        """Whether the measure is already in force on exactly this target."""
        if measure == "remove_content":
            return target in self._removed
        if measure == "suspend_account":
            return target.id in self._suspended and target.kind is TargetKind.USER
        if measure == "delete_guild":
            return target.id in self._deleted and target.kind is TargetKind.GUILD
        return False

    def suspended(self, user_id: str | None, at: datetime | None = None) -> Action | None:
        """The suspension in force on the account at `at` (a time-limited one, e.g. under
        DSA Art. 23, ends at its `until`)."""
        action = self._suspended.get(user_id) if user_id else None
        if action is not None and at is not None:
            until = action.detail.get("until")
            if until is not None and datetime.fromisoformat(until.replace("Z", "+00:00")) <= at:
                return None
        return action

    def join_blocked(self, user_id: str) -> Action | None:
        """An account barred from joining servers (linked to a suspended one)."""
        return self._join_blocked.get(user_id)

    def deleted(self, guild_id: str | None) -> Action | None:
        return self._deleted.get(guild_id) if guild_id else None

    def covering(self, target: Target) -> Action | None:
        """The active action that already took care of this target, if any."""
        direct = self._removed.get(target)
        if direct is not None:
            return direct
        kind = target.kind
        if kind is TargetKind.USER:
            return self._suspended.get(target.id)
        if kind is TargetKind.GUILD:
            return self._deleted.get(target.id)
        if kind is TargetKind.ATTACHMENT:
            att = self.content.attachment(target.id)
            if att is not None:
                return self.covering(Target(TargetKind.MESSAGE, att.message_id))
        if kind is TargetKind.MESSAGE:
            msg = self.content.message(target.id)
            if msg is not None:
                channel = self._removed.get(Target(TargetKind.CHANNEL, msg.channel_id))
                if channel is not None:
                    return channel
        return self.deleted(self.content.guild_of(target))

    def stops(self, event: Event) -> Stopped | None:
        """Whether a real platform would have refused this event, given what was done."""
        if isinstance(event, MessagePosted):
            m = event.message
            if (a := self.suspended(m.author_id, event.ts)) is not None:
                return Stopped("its author's account is suspended", a)
            if (a := self.deleted(m.guild_id)) is not None:
                return Stopped("its server was deleted", a)
            if (a := self._removed.get(Target(TargetKind.CHANNEL, m.channel_id))) is not None:
                return Stopped("its channel was removed", a)
        elif isinstance(event, MemberJoined):
            if (a := self.suspended(event.user_id, event.ts)) is not None:
                return Stopped("the account is suspended", a, join=True)
            if (a := self.deleted(event.guild_id)) is not None:
                return Stopped("the server was deleted", a)
            if (a := self._join_blocked.get(event.user_id)) is not None:
                return Stopped("the account is barred from joining (linked to a suspended "
                               "one)", a)
        elif isinstance(event, GuildCreated):
            if (a := self.suspended(event.guild.owner_id, event.ts)) is not None:
                return Stopped("its owner's account is suspended", a)
        elif isinstance(event, ChannelCreated):
            if (a := self.deleted(event.channel.guild_id)) is not None:
                return Stopped("its server was deleted", a)
        elif isinstance(event, InviteCreated):
            if (a := self.suspended(event.inviter_id, event.ts)) is not None:
                return Stopped("its creator's account is suspended", a)
            if (a := self.deleted(event.guild_id)) is not None:
                return Stopped("its server was deleted", a)
        return None
