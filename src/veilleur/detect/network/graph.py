"""The platform as a graph, kept incrementally: accounts, servers, channels, invites, media and
links, and who is a member of, owns, posted, invited to, links to, shares media with what.

Pure data kept behind keyed state (one record per entity), so the same code runs in memory
or over a store. Bounded where it could grow without limit: an account keeps its first 200
joins and 200 media hashes, a medium the first 200 servers and accounts it was seen in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from veilleur.state import KeyedState

KEEP = 200


@dataclass
class GuildNode:
    id: str
    name: str = ""
    owner: str | None = None
    created_at: datetime | None = None
    members: dict[str, datetime] = field(default_factory=dict)
    """member → when they joined (first time)."""
    media: set[str] = field(default_factory=set)
    invites: set[str] = field(default_factory=set)
    links_to: dict[str, str] = field(default_factory=dict)
    """invite code it points to → the message that pointed."""
    channels: dict[str, str] = field(default_factory=dict)
    """channel → its name."""
    links: dict[str, int] = field(default_factory=dict)
    """other links posted there (file hosts, Telegram, shorteners: `kind:url`) → times."""


@dataclass
class UserNode:
    id: str
    name: str = ""
    created_at: datetime | None = None
    joins: list[tuple[str, datetime]] = field(default_factory=list)
    media: set[str] = field(default_factory=set)
    owns: set[str] = field(default_factory=set)


@dataclass
class MediaNode:
    key: str
    guilds: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)


class Graph:
    """Entities and edges in keyed state: `graph.guild`, `graph.user`, `graph.media`,
    `graph.invite` (code → server), `graph.pointed` (code → servers pointing to it)."""

    def __init__(self, state: KeyedState) -> None:
        self.state = state
        self.edges = 0

    def guild(self, gid: str) -> GuildNode:
        node: GuildNode | None = self.state.get("graph.guild", gid)
        return node if node is not None else GuildNode(gid)

    def user(self, uid: str) -> UserNode:
        node: UserNode | None = self.state.get("graph.user", uid)
        return node if node is not None else UserNode(uid)

    def media(self, key: str) -> MediaNode:
        node: MediaNode | None = self.state.get("graph.media", key)
        return node if node is not None else MediaNode(key)

    def put(self, node: GuildNode | UserNode | MediaNode) -> None:
        kind = {GuildNode: "graph.guild", UserNode: "graph.user", MediaNode: "graph.media"}
        key = node.key if isinstance(node, MediaNode) else node.id
        self.state.put(kind[type(node)], key, node)

    def invite_guild(self, code: str) -> str | None:
        return self.state.get("graph.invite", code.lower())

    # --- edges -------------------------------------------------------------------------------

    def guild_seen(self, gid: str, name: str | None, owner: str | None, at: datetime) -> None:
        g = self.guild(gid)
        g.name = name or g.name
        g.created_at = g.created_at or at
        if owner and owner != g.owner:
            g.owner = owner
            u = self.user(owner)
            if len(u.owns) < KEEP:  # bounded like joins: an export may name one owner of all
                u.owns.add(gid)
                self.put(u)
            self.edges += 1  # owner of
        self.put(g)

    def joined(self, uid: str, gid: str, at: datetime) -> bool:
        g = self.guild(gid)
        if uid in g.members:
            return False
        g.members[uid] = at
        self.put(g)
        u = self.user(uid)
        if len(u.joins) < KEEP:
            u.joins.append((gid, at))
            self.put(u)
        self.edges += 1  # member of
        return True

    def invite(self, code: str, gid: str, inviter: str) -> None:
        self.state.put("graph.invite", code.lower(), gid)
        g = self.guild(gid)
        g.invites.add(code.lower())
        self.put(g)
        self.edges += 2  # invited to, created by

    def pointed(self, from_gid: str, code: str, message_id: str) -> None:
        g = self.guild(from_gid)
        if code.lower() not in g.links_to:
            g.links_to[code.lower()] = message_id
            self.put(g)
            pointers: set[str] = self.state.get("graph.pointed", code.lower()) or set()
            pointers.add(from_gid)
            self.state.put("graph.pointed", code.lower(), pointers)
            self.edges += 1  # links to

    def channel(self, gid: str, cid: str, name: str) -> None:
        g = self.guild(gid)
        if g.channels.get(cid) != name:
            g.channels[cid] = name
            self.put(g)
            self.edges += 1  # channel of

    def linked(self, gid: str, kind: str, url: str) -> None:
        g = self.guild(gid)
        key = f"{kind}:{url}"
        if key in g.links or len(g.links) < KEEP:
            g.links[key] = g.links.get(key, 0) + 1
            self.put(g)
            self.edges += 1  # links to

    def pointers_to(self, code: str) -> set[str]:
        found: set[str] = self.state.get("graph.pointed", code.lower()) or set()
        return found

    def posted(self, uid: str, gid: str | None, media: list[str]) -> None:
        """Files posted (messages without files change nothing here: this runs for every
        message)."""
        if not media:
            return
        if gid is not None:
            g = self.guild(gid)
            g.media.update(media)
            self.put(g)
        u = self.user(uid)
        for key in media:
            if len(u.media) < KEEP:
                u.media.add(key)
            m = self.media(key)
            if len(m.users) < KEEP:
                m.users.add(uid)
            if gid is not None and len(m.guilds) < KEEP:
                m.guilds.add(gid)
            self.put(m)
            self.edges += 2  # posted, shares media with
        self.put(u)


# --- codecs: how the nodes are kept in a store (JSON, never pickles) -------------------------

def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _guild_out(g: GuildNode) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "owner": g.owner, "created_at": _ts(g.created_at),
            "members": {u: _ts(t) for u, t in g.members.items()}, "media": sorted(g.media),
            "invites": sorted(g.invites), "links_to": g.links_to, "channels": g.channels,
            "links": g.links}


def _guild_in(d: dict[str, Any]) -> GuildNode:
    return GuildNode(d["id"], d["name"], d["owner"], _dt(d["created_at"]),
                     {u: _dt(t) or datetime.min for u, t in d["members"].items()},
                     set(d["media"]), set(d["invites"]), dict(d["links_to"]),
                     dict(d.get("channels", {})), dict(d.get("links", {})))


def _user_out(u: UserNode) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "created_at": _ts(u.created_at),
            "joins": [[g, _ts(t)] for g, t in u.joins], "media": sorted(u.media),
            "owns": sorted(u.owns)}


def _user_in(d: dict[str, Any]) -> UserNode:
    return UserNode(d["id"], d["name"], _dt(d["created_at"]),
                    [(g, _dt(t) or datetime.min) for g, t in d["joins"]], set(d["media"]),
                    set(d["owns"]))


CODECS: dict[str, tuple[Any, Any]] = {
    "graph.guild": (_guild_out, _guild_in),
    "graph.user": (_user_out, _user_in),
    "graph.media": (lambda m: {"key": m.key, "guilds": sorted(m.guilds),
                               "users": sorted(m.users)},
                    lambda d: MediaNode(d["key"], set(d["guilds"]), set(d["users"]))),
    "graph.invite": (lambda v: v, lambda v: v),
    "graph.pointed": (lambda v: sorted(v), lambda v: set(v)),
    "network.successors": (lambda v: sorted(v), lambda v: set(v)),
    "network.successor_since": (lambda v: v.isoformat(), lambda v: datetime.fromisoformat(v)),
}
"""namespace → (to JSON, from JSON)."""


# --- merges: one node as two processes saw it (a stream's workers share the graph) ---------
# Each keeps what both saw (unions, the earliest time, the first KEEP), so merging in any
# order, or twice, gives the same node.

def _first(a: Any, b: Any) -> Any:
    """What either knows; when both know different things, the same pick whatever the
    order (the nodes keep no time of change: a rename reaches other processes only as a
    new node would)."""
    if a in (None, ""):
        return b
    if b in (None, ""):
        return a
    return max(a, b)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _merge_guild(a: GuildNode, b: GuildNode) -> GuildNode:
    members = dict(b.members)
    for u, t in a.members.items():
        members[u] = min(t, members.get(u, t))
    links = dict(b.links)
    for k, n in a.links.items():
        links[k] = max(n, links.get(k, 0))
    return GuildNode(a.id, _first(a.name, b.name), _first(a.owner, b.owner),
                     _earliest(a.created_at, b.created_at), members, a.media | b.media,
                     a.invites | b.invites, {**b.links_to, **a.links_to},
                     {**b.channels, **a.channels}, links)


def _merge_user(a: UserNode, b: UserNode) -> UserNode:
    joins = sorted(set(a.joins) | set(b.joins), key=lambda j: (j[1], j[0]))[:KEEP]
    return UserNode(a.id, _first(a.name, b.name), _earliest(a.created_at, b.created_at),
                    joins, set(sorted(a.media | b.media)[:KEEP]), a.owns | b.owns)


MERGES: dict[str, Any] = {
    "graph.guild": _merge_guild,
    "graph.user": _merge_user,
    "graph.media": lambda a, b: MediaNode(a.key, set(sorted(a.guilds | b.guilds)[:KEEP]),
                                          set(sorted(a.users | b.users)[:KEEP])),
    "graph.invite": min,
    "graph.pointed": lambda a, b: a | b,
    "network.successors": lambda a, b: a | b,
    "network.successor_since": min,
}
"""namespace → merge(mine, theirs)."""
