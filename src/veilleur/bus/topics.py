"""The bus's topics and the partition key of an event.

Kafka keeps the order of one key's messages and gives one partition to one worker of a
consumer group, so the key decides which events meet in one worker's memory. The key is
the *place* an event belongs to:

- `guild:<id>` for everything in a server (its creation and renames, its channels, joins,
  leaves, invites, and every message posted in any of its channels): a server's layout,
  profile and talk, and the conversations in it, are read by one worker;
- `dm:<channel id>` for a direct conversation (a message without a server; a DM channel's
  creation): both sides of a conversation meet;
- `user:<id>` for what concerns an account alone (`user_seen`);
- `message:<id>` for a deletion, which names only the message.

An account's events in several places do not meet: what the engine keeps per account
across places (ages said in one DM and read in another, its roll-up, suspended accounts,
the platform graph) is shared memory, which travels as labels on `labels`, a topic every
worker reads whole (`state.py`).
"""

from __future__ import annotations

from veilleur import events as ev

EVENTS = "events"
FINDINGS = "findings"
DEAD_LETTERS = "events-dead"
"""Input a worker could not take (not JSON, not an event, a type not detected here), with
why: kept, never dropped, never the end of a worker."""
MEDIA_HASHES = "media-hashes"
"""Every attachment's hashes and where it was posted, keyed by attachment id and compacted
(the last word per attachment is kept, with no time limit): what a retroactive replay
(`retro.py`) reads when a bank learns new entries. `media.py` says what a message holds."""
LABELS = "labels"
"""Shared memory (accounts, the platform graph) and casework's labels, read whole by every
detect worker; compacted: the last label per key (`bus/state.py`)."""
ACTIONS = "actions"
"""Enforcement actions casework took or lifted (`wire.action_message`), keyed by their
target (`message:<id>`, `user:<id>`...): what a platform's enforcement service carries out,
a target's actions in order."""
DOCUMENTS = "documents"
"""The documents the law asks for (statements of reasons, notifiers' replies, NCMEC
reports...; `wire.document_message`), keyed by document id: what a records system keeps."""
COMPACTED = frozenset({MEDIA_HASHES, LABELS})


def names(prefix: str = "") -> dict[str, str]:
    """The topics' names under a deployment's prefix (several deployments on one cluster;
    each test its own)."""
    return {t: prefix + t for t in (EVENTS, FINDINGS, DEAD_LETTERS, MEDIA_HASHES, LABELS,
                                    ACTIONS, DOCUMENTS)}


def partition_key(event: ev.Event) -> str:
    """The place `event` belongs to (see the module's docstring)."""
    if isinstance(event, ev.MessagePosted):
        m = event.message
        return f"guild:{m.guild_id}" if m.guild_id else f"dm:{m.channel_id}"
    if isinstance(event, ev.GuildCreated | ev.GuildUpdated):
        return f"guild:{event.guild.id}"
    if isinstance(event, ev.GuildDeleted | ev.MemberJoined | ev.MemberLeft):
        return f"guild:{event.guild_id}"
    if isinstance(event, ev.ChannelDeleted):
        return f"guild:{event.guild_id}" if event.guild_id else f"dm:{event.channel_id}"
    if isinstance(event, ev.ChannelCreated):
        c = event.channel
        return f"guild:{c.guild_id}" if c.guild_id else f"dm:{c.id}"
    if isinstance(event, ev.InviteCreated):
        return f"guild:{event.guild_id}"
    if isinstance(event, ev.UserSeen):
        return f"user:{event.user.id}"
    if isinstance(event, ev.MessageDeleted):
        return f"message:{event.message_id}"
    # Reports, complaints and orders are casework's, not detection's: never on `events`.
    raise ValueError(f"{event.type!r} events are casework's: they do not go on `events`")
