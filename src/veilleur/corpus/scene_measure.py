"""The engine measured on scenes: accounts, channels and servers, not only messages.

Each scene is read `variants` times (different slot fillings) through one real engine, each
reading in a place and a stretch of time of its own: a conversation as a direct conversation
whose turns fall on the days the writer gave; a server as a server created with its name,
description and owner, its channels with their topics, and their messages interleaved as
members would post them. Nothing tells the engine who is a child: only what is said.

Labels: a conversation's suspect is its category and every other speaker is a negative (the
peer, the coach, the aunt must stay quiet), and so are all speakers of a `none` scene; a
server is its category, each channel its own label, the suspects their category; other
members of an abusive server are not scored (who is a customer is not in the text). The
decisive turns are message positives, the turns of `none` scenes message negatives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from veilleur.corpus.scenes import Conversation, Scene, Server, filler, say, timed_turns
from veilleur.detect.base import DetectorSettings
from veilleur.engine import Engine
from veilleur.evaluate import EvalResult, Key, Labels, Place, score_findings
from veilleur.events import (
    Channel,
    ChannelCreated,
    ChannelKind,
    Guild,
    GuildCreated,
    Message,
    MessagePosted,
    User,
)
from veilleur.taxonomy import Category, TargetKind

_START = datetime(2026, 2, 2, 8, 0, tzinfo=UTC)
_SCENE_SPAN = timedelta(days=100)
_CATS = frozenset(c.value for c in Category)


@dataclass
class SceneResult:
    result: EvalResult
    scenes: int
    readings: int
    messages: int
    missed: Counter[str] = field(default_factory=Counter)
    """Scene key → readings where its account, channel or server was missed."""
    flagged: Counter[str] = field(default_factory=Counter)
    """Scene key → readings where a negative account, channel or server was flagged."""
    wrong_accounts: list[str] = field(default_factory=list)
    """Accounts of conversations found although they are not the suspect (the peer, the
    coach, the aunt, the child): `scene key: speaker (who they are)`."""


class _Run:
    def __init__(self, settings: DetectorSettings | None) -> None:
        self.engine = Engine.build(settings or DetectorSettings())
        self.messages = 0

    def message(self, at: datetime, mid: str, cid: str, gid: str | None, author: str,
                text: str, recipients: Sequence[str] = (), bot: bool = False) -> None:
        self.messages += 1
        self.engine.process(MessagePosted(
            ts=at, source="scenes",
            message=Message(id=mid, channel_id=cid, guild_id=gid, author_id=author,
                            content=text, recipient_ids=tuple(recipients)),
            author=User(id=author, name=author, is_bot=bot)))


def measure_scenes(scenes: Sequence[Scene], *, variants: int = 3,
                   settings: DetectorSettings | None = None) -> SceneResult:
    """Every scene read `variants` times; accounts, channels, servers and decisive messages
    scored per category."""
    run = _Run(settings)
    positives: set[tuple[TargetKind, str, Category]] = set()
    negatives: set[Place] = set()
    ignored: set[Place] = set()
    texts: dict[Place, str] = {}
    owner_of: dict[Place, str] = {}
    conversational: set[Place] = set()
    k = 0
    for scene in scenes:
        for v in range(variants):
            base = _START + k * _SCENE_SPAN
            prefix = f"s{k}"
            k += 1
            values = filler(scene, v)
            if isinstance(scene, Conversation):
                _conversation(run, scene, values, base, prefix, positives, negatives,
                              ignored, texts, owner_of)
                conversational |= {(TargetKind.USER, f"{prefix}-{p}") for p in scene.people}
            else:
                _server(run, scene, values, base, prefix, positives, negatives, ignored,
                        texts, owner_of)
    run.engine.close()
    labels = Labels(frozenset(positives), frozenset(negatives), frozenset(ignored))
    findings = run.engine.findings()
    result = score_findings(findings, labels, texts=texts)
    out = SceneResult(result, scenes=len(scenes), readings=k, messages=run.messages)
    found = {(f.target.kind, f.target.id, f.category) for f in findings}
    flagged = {(f.target.kind, f.target.id) for f in findings}
    for key in positives:
        if key[0] is not TargetKind.MESSAGE and key not in found:
            out.missed[owner_of[key[:2]]] += 1
    for place in negatives:
        if place[0] is not TargetKind.MESSAGE and place in flagged:
            out.flagged[owner_of[place]] += 1
            if place[0] is TargetKind.USER and place in conversational:
                out.wrong_accounts.append(texts[place])
    out.wrong_accounts.sort()
    return out


def _conversation(run: _Run, scene: Conversation, values: dict[str, str], base: datetime,
                  prefix: str, positives: set[Key], negatives: set[Place],
                  ignored: set[Place], texts: dict[Place, str],
                  owner_of: dict[Place, str]) -> None:
    cid = f"{prefix}-dm"
    people = {p: f"{prefix}-{p}" for p in scene.people}
    for p, uid in people.items():
        place = (TargetKind.USER, uid)
        texts[place] = f"{scene.key}: {p} ({scene.people[p]})"
        owner_of[place] = scene.key
        if scene.category is not None and p == scene.suspect:
            positives.add((TargetKind.USER, uid, scene.category))
        else:
            negatives.add(place)
    for j, turn, at, text in timed_turns(scene, values, base):
        mid = f"{prefix}-m{j}"
        author = people[turn.speaker]
        others = [u for p, u in people.items() if p != turn.speaker]
        run.message(at, mid, cid, None, author, text, recipients=others)
        texts[(TargetKind.MESSAGE, mid)] = text
        if scene.category is None:
            negatives.add((TargetKind.MESSAGE, mid))
        elif turn.decisive:
            positives.add((TargetKind.MESSAGE, mid, scene.category))
        else:  # the ordinary talk around the abuse: not what the scene is scored on
            ignored.add((TargetKind.MESSAGE, mid))


def _server(run: _Run, scene: Server, values: dict[str, str], base: datetime, prefix: str,
            positives: set[Key], negatives: set[Place], ignored: set[Place],
            texts: dict[Place, str], owner_of: dict[Place, str]) -> None:
    gid = f"{prefix}-g"
    owner = f"{prefix}-owner"
    name = say(scene.name, values)
    description = say(scene.description, values) if scene.description else None
    run.engine.process(GuildCreated(ts=base, source="scenes", guild=Guild(
        id=gid, name=name, owner_id=owner, description=description or None)))
    place = (TargetKind.GUILD, gid)
    texts[place] = f"{scene.key}: {name}"
    owner_of[place] = scene.key
    if scene.category is not None:
        positives.add((TargetKind.GUILD, gid, scene.category))
    else:
        negatives.add(place)
    at = base
    queues = []
    speakers: set[str] = set()
    for c, channel in enumerate(scene.channels):
        cid = f"{prefix}-c{c}"
        at += timedelta(seconds=30)
        cname = say(channel.name, values) or f"channel-{c}"
        run.engine.process(ChannelCreated(ts=at, source="scenes", channel=Channel(
            id=cid, guild_id=gid, name=cname,
            topic=say(channel.topic, values) or None if channel.topic else None,
            kind=ChannelKind.TEXT)))
        cplace = (TargetKind.CHANNEL, cid)
        texts[cplace] = f"{scene.key}: #{cname}"
        owner_of[cplace] = scene.key
        if channel.category == "ignore":
            ignored.add(cplace)
        elif channel.category == "none":
            negatives.add(cplace)
        else:
            positives.add((TargetKind.CHANNEL, cid, Category(channel.category)))
        queues.append((cid, channel, list(enumerate(channel.messages))))
        speakers |= {t.speaker for t in channel.messages}
    suspects = set(scene.suspects)
    for speaker in speakers | {"owner"}:
        uid = owner if speaker == "owner" else f"{prefix}-{speaker}"
        uplace = (TargetKind.USER, uid)
        texts[uplace] = f"{scene.key}: {speaker}"
        owner_of[uplace] = scene.key
        if speaker in suspects and scene.category is not None:
            positives.add((TargetKind.USER, uid, scene.category))
        elif scene.category is None and speaker != "bot":
            negatives.add(uplace)
        else:
            ignored.add(uplace)
    # Channels fill up side by side, the first lines of each (rules, welcome) first.
    while any(q for _, _, q in queues):
        for cid, _channel, queue in queues:
            if not queue:
                continue
            j, turn = queue.pop(0)
            channel_cat = _channel.category
            text = say(turn.text, values)
            if not text:
                continue
            at += timedelta(minutes=7)
            mid = f"{cid}-m{j}"
            author = owner if turn.speaker == "owner" else f"{prefix}-{turn.speaker}"
            run.message(at, mid, cid, gid, author, text, bot=turn.speaker == "bot")
            texts[(TargetKind.MESSAGE, mid)] = text
            if scene.category is None:
                negatives.add((TargetKind.MESSAGE, mid))
            elif turn.decisive:
                cat = channel_cat if channel_cat in _CATS else scene.category.value
                positives.add((TargetKind.MESSAGE, mid, Category(cat)))
            else:
                ignored.add((TargetKind.MESSAGE, mid))
