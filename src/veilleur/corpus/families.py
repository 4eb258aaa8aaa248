"""Phrasing families: templates with slots, written by independent hands, as data.

A family is one way of saying one thing (an adult asking a child to keep their talks secret,
a shop announcing a skins pack), in one language and register, with its category (or `none`
for the ordinary and hard-negative talk that must stay quiet). Its templates hold `{slot}`
places filled from the family's own lists, so one family yields many messages that differ in
the details while the way of speaking stays the family's. Families are the unit of the
train/test split (`split.py`): a family is wholly seen or wholly unseen.

Files are TOML, one writer each (`families/<writer>*.toml`):

    writer = "w1"
    [[family]]
    id = "fr-grooming-secret"        # [a-z0-9-], unique within the writer
    category = "grooming"            # csam | ncii | grooming | sextortion | none
    lang = "fr"                      # fr | en | es | mixed
    register = "sms"                 # free label
    where = "dm"                     # dm | guild | any
    alone = true                     # each message alone is clear (else: needs a conversation)
    resembles = "csam"               # category none only: what it could be mistaken for
    about = "what the family says"
    templates = ["{hey} personne doit savoir qu'on se parle {end}", "..."]
    [family.slots]
    hey = ["", "hé", "dis"]
    end = ["", "ok ?", "promis ?"]

Pure: `parse_families` checks a document and says what is wrong with its place; `expand`
yields a family's messages deterministically.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from veilleur.taxonomy import Category

CATEGORIES = ("csam", "ncii", "grooming", "sextortion", "none")
LANGS = ("fr", "en", "es", "mixed")
WHERE = ("dm", "guild", "any")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_SLOT = re.compile(r"\{([a-z0-9_]+)\}")
_BRACE = re.compile(r"[{}]")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE = re.compile(r" +([,.)…])")
"""Only where an empty slot may have left a gap: French spaces before ; : ! ? are the writer's."""
_MAX_TEMPLATE = 600
_MAX_VALUES = 400
MIN_TEMPLATES = 3
MIN_VARIANTS = 20
"""Distinct messages a family must be able to yield: fewer is one sentence, not a family."""

FAMILY_DIR = Path(__file__).parent / "families"


class FamilyError(ValueError):
    """A family file that cannot be used, with where and what."""


@dataclass(frozen=True, slots=True)
class Family:
    writer: str
    id: str
    category: Category | None
    lang: str
    register: str
    where: str
    templates: tuple[str, ...]
    slots: Mapping[str, tuple[str, ...]]
    alone: bool = True
    resembles: Category | None = None
    about: str = ""
    source: str = ""

    @property
    def key(self) -> str:
        """The family's id across writers (`w1/fr-grooming-secret`)."""
        return f"{self.writer}/{self.id}"

    @property
    def label(self) -> str:
        return self.category.value if self.category else "none"

    def variants(self) -> int:
        """How many messages the templates can yield (before de-duplication)."""
        total = 0
        for template in self.templates:
            n = 1
            for name in _SLOT.findall(template):
                n *= len(self.slots[name])
            total += n
        return total


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    family: Family
    index: int
    transforms: tuple[str, ...] = field(default=())


def parse_families(doc: Mapping[str, Any], source: str) -> list[Family]:
    """The families of one TOML document; `FamilyError` naming the first fault."""
    writer = doc.get("writer")
    if not isinstance(writer, str) or not _ID.match(writer):
        raise FamilyError(f"{source}: 'writer' must be a short lowercase id, got {writer!r}")
    unknown = set(doc) - {"writer", "family"}
    if unknown:
        raise FamilyError(f"{source}: unknown top-level key(s) {sorted(unknown)}")
    raw = doc.get("family")
    if not isinstance(raw, list) or not raw:
        raise FamilyError(f"{source}: no [[family]] tables")
    out: list[Family] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"{source}: family #{i + 1}"
        if not isinstance(item, dict):
            raise FamilyError(f"{where}: not a table")
        family = _family(writer, item, where, source)
        if family.id in seen:
            raise FamilyError(f"{where}: id {family.id!r} used twice")
        seen.add(family.id)
        out.append(family)
    return out


_KEYS = {"id", "category", "lang", "register", "where", "alone", "resembles", "about",
         "templates", "slots"}


def _family(writer: str, item: Mapping[str, Any], where: str, source: str) -> Family:
    unknown = set(item) - _KEYS
    if unknown:
        raise FamilyError(f"{where}: unknown key(s) {sorted(unknown)}")
    fid = item.get("id")
    if not isinstance(fid, str) or not _ID.match(fid):
        raise FamilyError(f"{where}: 'id' must match [a-z0-9-]+, got {fid!r}")
    where = f"{source}: family {fid!r}"
    category = choice(item, "category", CATEGORIES, where, FamilyError)
    lang = choice(item, "lang", LANGS, where, FamilyError)
    place = choice(item, "where", WHERE, where, FamilyError, default="any")
    register = item.get("register", "")
    about = item.get("about", "")
    alone = item.get("alone", True)
    if not isinstance(register, str) or len(register) > 40:
        raise FamilyError(f"{where}: 'register' must be a short string")
    if not isinstance(about, str) or len(about) > 300:
        raise FamilyError(f"{where}: 'about' must be a string of at most 300 characters")
    if not isinstance(alone, bool):
        raise FamilyError(f"{where}: 'alone' must be true or false")
    resembles = item.get("resembles")
    if resembles is not None:
        if category != "none":
            raise FamilyError(f"{where}: 'resembles' is for category none only")
        if resembles not in CATEGORIES[:-1]:
            raise FamilyError(f"{where}: 'resembles' must be one of {CATEGORIES[:-1]}")
    templates = item.get("templates")
    if not isinstance(templates, list) or len(templates) < MIN_TEMPLATES or not all(
            isinstance(t, str) and t.strip() and len(t) <= _MAX_TEMPLATE for t in templates):
        raise FamilyError(f"{where}: 'templates' must be at least {MIN_TEMPLATES} non-empty "
                          f"strings of at most {_MAX_TEMPLATE} characters")
    slots = parse_slots(item.get("slots", {}), where, FamilyError)
    used: set[str] = set()
    for template in templates:
        check_template(template, slots, where, FamilyError, used)
    unused = set(slots) - used
    if unused:
        raise FamilyError(f"{where}: slot(s) {sorted(unused)} used by no template")
    family = Family(
        writer=writer, id=fid, category=None if category == "none" else Category(category),
        lang=lang, register=register, where=place, templates=tuple(templates), slots=slots,
        alone=alone, resembles=Category(resembles) if resembles else None, about=about,
        source=source)
    if family.variants() < MIN_VARIANTS:
        raise FamilyError(f"{where}: yields {family.variants()} messages; a family needs at "
                          f"least {MIN_VARIANTS} (more templates or slot values)")
    return family


def choice(item: Mapping[str, Any], key: str, allowed: Sequence[str], where: str,
           error: type[ValueError], default: str | None = None) -> str:
    """`item[key]`, which must be one of `allowed`; `error` names the place otherwise."""
    value = item.get(key, default)
    if value not in allowed:
        raise error(f"{where}: '{key}' must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def parse_slots(raw: Any, where: str, error: type[ValueError]) -> dict[str, tuple[str, ...]]:
    """A `slots` table (name → list of values), checked; shared by families and scenes."""
    if not isinstance(raw, dict):
        raise error(f"{where}: 'slots' must be a table of lists")
    slots: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise error(f"{where}: slot name {name!r} must match [a-z0-9_]+")
        if not isinstance(values, list) or not values or len(values) > _MAX_VALUES or not all(
                isinstance(v, str) and not _BRACE.search(v) for v in values):
            raise error(f"{where}: slot {name!r} must be a list of 1 to {_MAX_VALUES} "
                        "strings without braces")
        slots[name] = tuple(values)
    return slots


def check_template(template: str, slots: Mapping[str, tuple[str, ...]], where: str,
                   error: type[ValueError], used: set[str]) -> None:
    """A template's slots are all defined and its braces are all slots; adds the slots it
    uses to `used` (a slot no template uses is the caller's fault to name)."""
    names = _SLOT.findall(template)
    if _BRACE.search(_SLOT.sub("", template)):
        raise error(f"{where}: a stray brace in template {template[:60]!r} (slots are "
                    "{name})")
    missing = [n for n in names if n not in slots]
    if missing:
        raise error(f"{where}: template {template[:60]!r} uses undefined slot(s) {missing}")
    used.update(names)


def read_doc(path: Path, error: type[ValueError]) -> dict[str, Any]:
    """A corpus file's TOML document; `error` naming the file when it cannot be read."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise error(f"{path.name}: cannot read: {exc}") from None


Keyed = TypeVar("Keyed", bound="_HasKey")


class _HasKey(Protocol):
    @property
    def key(self) -> str: ...


def load_folder(folder: Path, load: Callable[[Path], list[Keyed]], error: type[ValueError],
                noun: str) -> list[Keyed]:
    """Every item of every writer's file in `folder`, in a stable order; a key in two files
    is an error."""
    out: list[Keyed] = []
    keys: set[str] = set()
    for path in sorted(folder.glob("*.toml")):
        for item in load(path):
            if item.key in keys:
                raise error(f"{path.name}: {noun} {item.key!r} is in two files")
            keys.add(item.key)
            out.append(item)
    return out


def load_file(path: Path) -> list[Family]:
    return parse_families(read_doc(path, FamilyError), path.name)


def load_families(folder: Path = FAMILY_DIR) -> list[Family]:
    """Every family of every writer's file in `folder`, in a stable order."""
    return load_folder(folder, load_file, FamilyError, "family")


def stable_seed(*parts: object) -> int:
    """A seed from its parts, the same on every machine and run (not Python's `hash`)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def fill(template: str, values: Mapping[str, str]) -> str:
    """A template with its slots filled, spaces tidied (an empty slot leaves no gap)."""
    text = _SLOT.sub(lambda m: values[m.group(1)], template)
    lines = [_SPACE_BEFORE.sub(r"\1", _SPACES.sub(" ", line)).strip()
             for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def expand(family: Family, n: int, seed: int = 0) -> list[str]:
    """Up to `n` distinct messages of a family, the same for the same seed.

    Templates take turns so that every way of saying it is represented; within a template the
    slot values are drawn at random (all combinations are listed when there are few).
    """
    rng = random.Random(stable_seed(seed, family.key))
    per_template: list[Iterator[str]] = []
    for template in family.templates:
        names = list(dict.fromkeys(_SLOT.findall(template)))
        combos = 1
        for name in names:
            combos *= len(family.slots[name])
        if combos <= 4 * n:
            rows = list(itertools.product(*(family.slots[name] for name in names)))
            rng.shuffle(rows)
            per_template.append(iter([fill(template, dict(zip(names, row, strict=True)))
                                      for row in rows]))
        else:
            per_template.append(_draws(template, names, family.slots, rng, 4 * n))
    out: list[str] = []
    seen: set[str] = set()
    live = list(per_template)
    while live and len(out) < n:
        for it in list(live):
            text = next(it, None)
            if text is None:
                live.remove(it)
                continue
            if text and text not in seen:
                seen.add(text)
                out.append(text)
                if len(out) >= n:
                    break
    return out


def _draws(template: str, names: list[str], slots: Mapping[str, tuple[str, ...]],
           rng: random.Random, tries: int) -> Iterator[str]:
    for _ in range(tries):
        yield fill(template, {name: rng.choice(slots[name]) for name in names})
