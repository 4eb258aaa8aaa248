"""Scenes: whole conversations and whole servers, written by independent hands, as data.

Families (`families.py`) are ways of saying one message. Grooming and sextortion are done by
accounts over days, and catalogue servers are built by owners in names, topics, rules and bot
embeds; a scene is one such whole, so the engine can be judged on the account, the channel and
the server, not only on the message. Scenes are split by scene like families by family.

Files are TOML, one writer each (`scenes/<writer>*.toml`):

    writer = "c1"
    [[conversation]]
    id = "fr-grooming-fake-coach"   # [a-z0-9-], unique within the writer
    category = "grooming"           # grooming | sextortion | none: what `suspect` does
    lang = "fr"                     # fr | en | es | mixed
    register = "sms"
    about = "what happens"
    relation = "stranger"           # see RELATIONS
    suspect = "a"                   # the speaker whose account is `category` (not for none)
    days = 12                       # the turns are spread over this many days
    people = { a = "adult", k = "minor" }     # adult | minor | unknown: the truth
    turns = ["k: slt", "a: {hey} ça va", "~", "a!: …"]   # "~" a new day; "!" decisive
    [conversation.slots]
    hey = ["", "hé"]

    [[server]]
    id = "fr-catalogue-in-roles"
    category = "csam"               # csam | ncii | none: the server as a whole
    lang = "fr"
    name = "{srv}"                  # a template, like every text below
    description = "…"               # optional
    suspects = ["owner", "seller"]  # accounts that are `category` (not for none)
    [[server.channel]]
    name = "règles"
    topic = "…"                     # optional
    category = "csam"               # csam | ncii | none | ignore (default none)
    messages = ["bot: Bienvenue …", "owner: …", "m1: …"]
    [server.slots]
    srv = ["…"]

Speakers are short ids; in servers `owner` is the server's owner and `bot` a bot account.
Pure: `load_scenes` checks documents and says what is wrong with its place; `expand_scene`
yields one variant deterministically.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from veilleur.corpus.families import (
    LANGS,
    check_template,
    choice,
    fill,
    load_folder,
    parse_slots,
    read_doc,
    stable_seed,
)
from veilleur.taxonomy import Category

SCENE_DIR = Path(__file__).parent / "scenes"
CONVERSATION_CATEGORIES = ("grooming", "sextortion", "none")
SERVER_CATEGORIES = ("csam", "ncii", "none")
CHANNEL_CATEGORIES = ("csam", "ncii", "grooming", "sextortion", "none", "ignore")
PEOPLE = ("adult", "minor", "unknown")
RELATIONS = ("stranger", "online-friend", "peer", "coach", "teacher", "family", "partner",
             "moderator", "seller", "other")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_SPEAKER = re.compile(r"^([a-z][a-z0-9]{0,15})(!?)\s*:\s?(.*)$", re.S)
_SLOT = re.compile(r"\{([a-z0-9_]+)\}")
_BRACE = re.compile(r"[{}]")
_MAX_TEXT = 1200
_MAX_TURNS = 400
_MAX_CHANNELS = 40
MIN_VARIANTS = 4
"""Distinct fillings a scene must allow: the same scene is read several times, differently."""


class SceneError(ValueError):
    """A scene file that cannot be used, with where and what."""


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str
    text: str
    decisive: bool = False
    new_day: bool = False
    """A day passes before this turn."""


@dataclass(frozen=True, slots=True)
class Conversation:
    writer: str
    id: str
    category: Category | None
    lang: str
    register: str
    about: str
    relation: str
    suspect: str | None
    days: int
    people: Mapping[str, str]
    turns: tuple[Turn, ...]
    slots: Mapping[str, tuple[str, ...]]
    resembles: Category | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return f"{self.writer}/{self.id}"


@dataclass(frozen=True, slots=True)
class ChannelScene:
    name: str
    topic: str | None
    category: str
    messages: tuple[Turn, ...]


@dataclass(frozen=True, slots=True)
class Server:
    writer: str
    id: str
    category: Category | None
    lang: str
    register: str
    about: str
    name: str
    description: str | None
    suspects: tuple[str, ...]
    channels: tuple[ChannelScene, ...]
    slots: Mapping[str, tuple[str, ...]]
    resembles: Category | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return f"{self.writer}/{self.id}"


Scene = Conversation | Server


# --- parsing -------------------------------------------------------------------------------

def _str(item: Mapping[str, Any], key: str, where: str, *, required: bool = True,
         limit: int = 300) -> str | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise SceneError(f"{where}: '{key}' must be a non-empty string of at most {limit} "
                         "characters")
    return value


def _choice(item: Mapping[str, Any], key: str, allowed: Sequence[str], where: str,
            default: str | None = None) -> str:
    return choice(item, key, allowed, where, SceneError, default)


def _slots(item: Mapping[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    return parse_slots(item.get("slots", {}), where, SceneError)


def _check_template(text: str, slots: Mapping[str, tuple[str, ...]], where: str,
                    used: set[str]) -> None:
    if len(text) > _MAX_TEXT:
        raise SceneError(f"{where}: {text[:40]!r}… is longer than {_MAX_TEXT} characters")
    check_template(text, slots, where, SceneError, used)


def _turns(raw: Any, where: str, *, allow_days: bool) -> tuple[Turn, ...]:
    if not isinstance(raw, list) or not raw or len(raw) > _MAX_TURNS:
        raise SceneError(f"{where}: must be a list of 1 to {_MAX_TURNS} lines")
    out: list[Turn] = []
    new_day = False
    for i, line in enumerate(raw):
        if not isinstance(line, str):
            raise SceneError(f"{where}: line {i + 1} is not a string")
        if line.strip() == "~":
            if not allow_days:
                raise SceneError(f"{where}: line {i + 1}: '~' (a new day) is for conversations")
            new_day = True
            continue
        m = _SPEAKER.match(line.strip())
        if m is None or not m.group(3).strip():
            raise SceneError(f"{where}: line {i + 1} must read 'speaker: text' (or "
                             f"'speaker!: text' when decisive), got {line[:60]!r}")
        out.append(Turn(m.group(1), m.group(3).strip(), bool(m.group(2)), new_day))
        new_day = False
    if not out:
        raise SceneError(f"{where}: no line says anything")
    return tuple(out)


def _variants(texts: Sequence[str], slots: Mapping[str, tuple[str, ...]]) -> int:
    names = {n for t in texts for n in _SLOT.findall(t)}
    total = 1
    for name in names:
        total *= len(slots[name])
    return total


_CONV_KEYS = {"id", "category", "lang", "register", "about", "relation", "suspect", "days",
              "people", "turns", "slots", "resembles"}
_SERVER_KEYS = {"id", "category", "lang", "register", "about", "name", "description",
                "suspects", "channel", "slots", "resembles"}
_CHANNEL_KEYS = {"name", "topic", "category", "messages"}


def _head(item: Mapping[str, Any], keys: set[str], kinds: Sequence[str], what: str,
          index: int, source: str) -> tuple[str, str, str, str, str, Category | None]:
    where = f"{source}: {what} #{index + 1}"
    if not isinstance(item, dict):
        raise SceneError(f"{where}: not a table")
    unknown = set(item) - keys
    if unknown:
        raise SceneError(f"{where}: unknown key(s) {sorted(unknown)}")
    sid = item.get("id")
    if not isinstance(sid, str) or not _ID.match(sid):
        raise SceneError(f"{where}: 'id' must match [a-z0-9-]+, got {sid!r}")
    where = f"{source}: {what} {sid!r}"
    category = _choice(item, "category", kinds, where)
    lang = _choice(item, "lang", LANGS, where)
    register = item.get("register", "")
    if not isinstance(register, str) or len(register) > 40:
        raise SceneError(f"{where}: 'register' must be a short string")
    _str(item, "about", where)
    resembles = item.get("resembles")
    if resembles is not None:
        if category != "none":
            raise SceneError(f"{where}: 'resembles' is for category none only")
        if resembles not in ("csam", "ncii", "grooming", "sextortion"):
            raise SceneError(f"{where}: 'resembles' must be a category")
    return (where, sid, category, lang, register,
            Category(resembles) if resembles else None)


def _conversation(writer: str, item: Mapping[str, Any], index: int,
                  source: str) -> Conversation:
    where, sid, category, lang, register, resembles = _head(
        item, _CONV_KEYS, CONVERSATION_CATEGORIES, "conversation", index, source)
    relation = _choice(item, "relation", RELATIONS, where)
    people = item.get("people")
    if not isinstance(people, dict) or not 2 <= len(people) <= 6 or not all(
            isinstance(k, str) and re.fullmatch(r"[a-z][a-z0-9]{0,15}", k) and v in PEOPLE
            for k, v in people.items()):
        raise SceneError(f"{where}: 'people' must name 2 to 6 speakers, each adult, minor or "
                         "unknown")
    days = item.get("days", 1)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 90:
        raise SceneError(f"{where}: 'days' must be a whole number from 1 to 90")
    suspect = item.get("suspect")
    if category == "none":
        if suspect is not None:
            raise SceneError(f"{where}: a conversation of category none has no suspect")
    elif suspect not in people:
        raise SceneError(f"{where}: 'suspect' must be one of the people {sorted(people)}")
    slots = _slots(item, where)
    turns = _turns(item.get("turns"), f"{where}: 'turns'", allow_days=True)
    used: set[str] = set()
    for t in turns:
        if t.speaker not in people:
            raise SceneError(f"{where}: speaker {t.speaker!r} is not in 'people'")
        _check_template(t.text, slots, where, used)
    spoke = {t.speaker for t in turns}
    if len(spoke) < 2:
        raise SceneError(f"{where}: a conversation needs two speakers who say something")
    if category != "none" and not any(t.decisive and t.speaker == suspect for t in turns):
        raise SceneError(f"{where}: mark the suspect's decisive turns with '!' "
                         f"('{suspect}!: …')")
    if category == "none" and any(t.decisive for t in turns):
        raise SceneError(f"{where}: a conversation of category none has no decisive turn")
    unused = set(slots) - used
    if unused:
        raise SceneError(f"{where}: slot(s) {sorted(unused)} used by no turn")
    if _variants([t.text for t in turns], slots) < MIN_VARIANTS:
        raise SceneError(f"{where}: allows fewer than {MIN_VARIANTS} fillings; give some "
                         "slots more values")
    return Conversation(writer, sid, None if category == "none" else Category(category),
                        lang, register, item["about"], relation,
                        suspect if isinstance(suspect, str) else None, days,
                        dict(people), turns, slots, resembles, source)


def _server(writer: str, item: Mapping[str, Any], index: int, source: str) -> Server:
    where, sid, category, lang, register, resembles = _head(
        item, _SERVER_KEYS, SERVER_CATEGORIES, "server", index, source)
    slots = _slots(item, where)
    used: set[str] = set()
    name = _str(item, "name", where, limit=200) or ""
    _check_template(name, slots, where, used)
    description = _str(item, "description", where, required=False, limit=1000)
    if description is not None:
        _check_template(description, slots, where, used)
    suspects = item.get("suspects", [])
    if not isinstance(suspects, list) or not all(isinstance(s, str) for s in suspects):
        raise SceneError(f"{where}: 'suspects' must be a list of speaker ids")
    if category == "none" and suspects:
        raise SceneError(f"{where}: a server of category none has no suspects")
    if category != "none" and not suspects:
        raise SceneError(f"{where}: name the accounts that run it in 'suspects' "
                         "(at least 'owner')")
    raw = item.get("channel")
    if not isinstance(raw, list) or not raw or len(raw) > _MAX_CHANNELS:
        raise SceneError(f"{where}: needs 1 to {_MAX_CHANNELS} [[server.channel]] tables")
    channels: list[ChannelScene] = []
    texts = [name] + ([description] if description else [])
    speakers: set[str] = set()
    for j, ch in enumerate(raw):
        cw = f"{where}: channel #{j + 1}"
        if not isinstance(ch, dict):
            raise SceneError(f"{cw}: not a table")
        unknown = set(ch) - _CHANNEL_KEYS
        if unknown:
            raise SceneError(f"{cw}: unknown key(s) {sorted(unknown)}")
        cname = _str(ch, "name", cw, limit=100) or ""
        topic = _str(ch, "topic", cw, required=False, limit=1000)
        ccat = _choice(ch, "category", CHANNEL_CATEGORIES, cw, default="none")
        if category == "none" and ccat not in ("none", "ignore"):
            raise SceneError(f"{cw}: a channel of a server of category none is none")
        msgs = _turns(ch.get("messages"), f"{cw}: 'messages'", allow_days=False)
        for text in [cname, *([topic] if topic else []), *(m.text for m in msgs)]:
            _check_template(text, slots, cw, used)
        texts += [cname, *([topic] if topic else []), *(m.text for m in msgs)]
        speakers |= {m.speaker for m in msgs}
        channels.append(ChannelScene(cname, topic, ccat, msgs))
    missing = [s for s in suspects if s not in speakers and s != "owner"]
    if missing:
        raise SceneError(f"{where}: suspect(s) {missing} never speak")
    if category != "none" and not any(c.category == category for c in channels):
        raise SceneError(f"{where}: no channel is labelled {category!r}; label the channels "
                         "where it shows")
    unused = set(slots) - used
    if unused:
        raise SceneError(f"{where}: slot(s) {sorted(unused)} used by nothing")
    if _variants(texts, slots) < MIN_VARIANTS:
        raise SceneError(f"{where}: allows fewer than {MIN_VARIANTS} fillings")
    return Server(writer, sid, None if category == "none" else Category(category), lang,
                  register, item["about"], name, description, tuple(suspects),
                  tuple(channels), slots, resembles, source)


def parse_scenes(doc: Mapping[str, Any], source: str) -> list[Scene]:
    """The scenes of one TOML document; `SceneError` naming the first fault."""
    writer = doc.get("writer")
    if not isinstance(writer, str) or not _ID.match(writer):
        raise SceneError(f"{source}: 'writer' must be a short lowercase id, got {writer!r}")
    unknown = set(doc) - {"writer", "conversation", "server"}
    if unknown:
        raise SceneError(f"{source}: unknown top-level key(s) {sorted(unknown)}")
    out: list[Scene] = []
    for kind, build in (("conversation", _conversation), ("server", _server)):
        raw = doc.get(kind, [])
        if not isinstance(raw, list):
            raise SceneError(f"{source}: '{kind}' must be [[{kind}]] tables")
        out += [build(writer, item, i, source) for i, item in enumerate(raw)]
    if not out:
        raise SceneError(f"{source}: no [[conversation]] or [[server]] tables")
    seen: set[str] = set()
    for scene in out:
        if scene.id in seen:
            raise SceneError(f"{source}: id {scene.id!r} used twice")
        seen.add(scene.id)
    return out


def load_file(path: Path) -> list[Scene]:
    return parse_scenes(read_doc(path, SceneError), path.name)


def load_scenes(folder: Path = SCENE_DIR) -> list[Scene]:
    """Every scene of every writer's file in `folder`, in a stable order."""
    return load_folder(folder, load_file, SceneError, "scene")


# --- filling -------------------------------------------------------------------------------

def filler(scene: Scene, variant: int) -> dict[str, str]:
    """One value per slot for the scene's `variant`: a slot says the same thing throughout
    (the child's name, the app, the server's name), as in a real conversation."""
    rng = random.Random(stable_seed(scene.key, variant))
    return {name: rng.choice(values) for name, values in scene.slots.items()}


def say(text: str, values: Mapping[str, str]) -> str:
    return fill(text, values)


TURN_GAP = timedelta(minutes=3)


def timed_turns(scene: Conversation, values: Mapping[str, str], start: datetime
                ) -> Iterator[tuple[int, Turn, datetime, str]]:
    """The turns a conversation says (index, turn, when, text): `TURN_GAP` apart, the
    scene's days spread evenly over its day breaks ("~"); a turn whose slots leave it empty
    is not said and takes no time."""
    breaks = sum(1 for t in scene.turns if t.new_day) or 1
    day = timedelta(days=max(1, scene.days) / breaks)
    at = start
    for j, turn in enumerate(scene.turns):
        text = say(turn.text, values)
        if not text:
            continue
        at = at + day if turn.new_day else at + TURN_GAP
        yield j, turn, at, text


def main(argv: list[str]) -> int:
    """`python -m veilleur.corpus.scenes FILE... [--show]`: is a scene file usable."""
    import sys

    show = "--show" in argv
    argv = [a for a in argv if a != "--show"]
    if not argv:
        print("usage: python -m veilleur.corpus.scenes FILE.toml [--show]", file=sys.stderr)
        return 2
    status = 0
    for name in argv:
        try:
            scenes = load_file(Path(name))
        except SceneError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        kinds: dict[str, int] = {}
        for s in scenes:
            kind = "conversation" if isinstance(s, Conversation) else "server"
            label = f"{kind}/{s.lang}/{s.category.value if s.category else 'none'}"
            kinds[label] = kinds.get(label, 0) + 1
        print(f"{name}: {len(scenes)} scenes; "
              + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        if show:
            for s in scenes:
                values = filler(s, 0)
                print(f"  [{s.key}] {s.category.value if s.category else 'none'} {s.lang}")
                if isinstance(s, Conversation):
                    for t in s.turns:
                        mark = "!" if t.decisive else " "
                        day = "~ " if t.new_day else ""
                        print(f"    {day}{t.speaker}{mark} {say(t.text, values)}")
                else:
                    print(f"    server: {say(s.name, values)}")
                    for c in s.channels:
                        print(f"    #{say(c.name, values)} ({c.category})"
                              + (f" topic: {say(c.topic, values)}" if c.topic else ""))
                        for t in c.messages:
                            print(f"      {t.speaker}: {say(t.text, values)[:100]}")
    return status


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
