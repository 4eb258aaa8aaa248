"""Keyed state behind one small interface (design: SQLite today, stream state tomorrow).

Detectors and the engine read and write state only through `KeyedState`, keyed by a
namespace ("guild", "channel", "conversation", ...) and an id, so a distributed engine can
partition it by key.
"""

from __future__ import annotations

from typing import Any, Protocol

from veilleur.events import (
    MAX_ROLES,
    Channel,
    ChannelCreated,
    Event,
    Guild,
    GuildCreated,
    GuildUpdated,
    MessagePosted,
    User,
    UserSeen,
)


class KeyedState(Protocol):
    def get(self, namespace: str, key: str) -> Any | None: ...

    def put(self, namespace: str, key: str, value: Any) -> None: ...


class MemoryState:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], Any] = {}

    def get(self, namespace: str, key: str) -> Any | None:
        return self._data.get((namespace, key))

    def put(self, namespace: str, key: str, value: Any) -> None:
        self._data[(namespace, key)] = value


class Directory:
    """Names of guilds, channels and users, learnt from the events themselves."""

    def __init__(self, state: KeyedState) -> None:
        self._state = state

    def apply(self, event: Event) -> bool:
        """Record what the event says about guilds and channels; True if something changed."""
        if isinstance(event, GuildCreated | GuildUpdated):
            old = self.guild(event.guild.id)
            new = _merge_guild(old, event.guild)
            if new != old:
                self._state.put("guild", new.id, new)
                return True
        elif isinstance(event, ChannelCreated) and self.channel(event.channel.id) != event.channel:
            self._state.put("channel", event.channel.id, event.channel)
            return True
        elif isinstance(event, UserSeen | MessagePosted):
            user = event.user if isinstance(event, UserSeen) else event.author
            if user is not None and self.user(user.id) != user:
                self._state.put("user", user.id, user)
                return True
        return False

    def guild(self, guild_id: str | None) -> Guild | None:
        return None if guild_id is None else self._state.get("guild", guild_id)

    def channel(self, channel_id: str | None) -> Channel | None:
        return None if channel_id is None else self._state.get("channel", channel_id)

    def user(self, user_id: str | None) -> User | None:
        return None if user_id is None else self._state.get("user", user_id)


def _merge_guild(old: Guild | None, new: Guild) -> Guild:
    # guild_updated carries only what changed.
    if old is None:
        return new
    return Guild(
        id=new.id,
        name=new.name if new.name is not None else old.name,
        owner_id=new.owner_id if new.owner_id is not None else old.owner_id,
        description=new.description if new.description is not None else old.description,
        roles=merge_roles(old.roles, new.roles),
    )


def merge_roles(old: tuple[str, ...] | None, new: tuple[str, ...] | None
                ) -> tuple[str, ...] | None:
    """The role names known of a server: those known before, then the new ones (a role
    renamed or deleted since stays known: it was seen), at most `MAX_ROLES`."""
    if new is None or old == new:
        return old
    if old is None:
        return tuple(dict.fromkeys(new))[:MAX_ROLES]
    return tuple(dict.fromkeys(old + new))[:MAX_ROLES]
