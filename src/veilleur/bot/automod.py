"""AutoMod as the first line: Discord blocks the engine's most certain patterns itself, so
blocking goes on while the bot is down, and every AutoMod execution comes back to the
engine as a signal (`client.Handlers.automod`).

What goes into AutoMod (`FAMILIES`, one keyword rule each, named "Veilleur: …"): only what
is certain *alone*, in a single message with no context, since AutoMod reads nothing else:

- **abuse-material code words** (csam; pack rules `csam.code_word*` and
  `csam.sexual_minor`): the unambiguous code words of the `csam_code` sets ("pthc", "pedo
  pack") and a minor word glued to a nude or porn word ("loli porn", "nudes mineures").
  Left out: the food code words ("cheese pizza", "caldo de pollo": menus), "CP" (a school
  year, paid leave, a game's points), "cp links", and every word with innocent uses ("pack",
  "photo", "teen", "ado", "Nina").
- **nudes for gifts or an unban** (sextortion; `sextortion.gift_for_nude`,
  `sextortion.unban_for_nude`): Nitro, Robux, V-Bucks, a gift card or an unban offered *for*
  nudes, in either order ("robux pour des nudes", "nudes for nitro"). Left out: skins ("le
  pack de skins"), "a pic" or "a photo" for a gift (a setup, a drawing), and "nude" in the
  singular beside a gift (a colour: "gift card for nude heels").

Every chosen word must still be a word of its pack set (dropped otherwise: the engine is the
reference); keywords use Discord's syntax (whole words or phrases, `*` only at an end, at
most 60 characters, 1,000 a rule); regexes (Rust flavour: no lookaround, no backreference;
at most 260 characters, 10 a rule) add what AutoMod does not normalise: leet and accented
letters and repeated letters ("p3d0 p4ck", "nuuudes"), separators between words and a code
word spelled out letter by letter ("p.t.h.c"), a filler word around "for" ("robux contre
tes nudes"). `check` refuses any rule outside Discord's limits, any regex Python cannot
compile (a proxy for Rust's parser) and any construct or escape the two read differently;
the shipped regexes were also compiled with Rust's `regex` crate and matched alike on the
corpus.

Actions follow the policy's silence rule (`policy.SILENT`): Discord tells the author their
message was blocked, which warns a groomer or an extortionist. So the sextortion rule only
alerts the mod-log channel (the message is posted; its execution reaches the engine, which
holds it silently under the policy), and is left out when the policy names no mod log; the
code-word rule blocks the message, with a short notice in the server's language, and alerts
the mod log when there is one. At most `automod_keyword_rules` (1 or 2) of the server's six
keyword rules are ours, the code words first.

Not covered: look-alike letters from other alphabets ("рthс" in Cyrillic) and fancy Unicode
alphabets, which the engine folds but AutoMod does not; words split by line breaks inside a
word; anything needing context (the channel, the conversation, an age said earlier); images.
Prevention sentences that quote a blocked phrase ("never trade nudes for robux") are caught
too: the server can exempt roles or channels or allow-list phrases on our rules in
Discord's settings, and `sync` keeps those (it never sends exempt roles or channels, and
carries the allow list over).

`sync` touches only the rules the bot owns (name starting "Veilleur:" *and* created by the
bot): it creates, updates or deletes them, makes no call when a rule is already as wanted,
leaves a rule the server switched off switched off, and turns Discord's refusals (50013
Missing Permissions, a maximum reached, 50035 an invalid form) into named problems, never
exceptions.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import aiohttp
import discord

from veilleur.bot.permissions import label
from veilleur.bot.policy import SILENT, ServerPolicy
from veilleur.detect.base import POLICY_DIR
from veilleur.detect.text.fold import letter_pattern
from veilleur.detect.text.packs import PolicyPack, load_packs
from veilleur.taxonomy import Category

log = logging.getLogger("veilleur.bot")

PREFIX = "Veilleur:"
KEYWORD = 1
"""Trigger type: a keyword list and regexes."""
MESSAGE_SEND = 1
BLOCK_MESSAGE = 1
SEND_ALERT_MESSAGE = 2
MAX_KEYWORD_RULES = 6
"""Discord's most keyword rules per server (the server's and ours together)."""
MAX_KEYWORDS = 1000
MAX_KEYWORD_LENGTH = 60
MAX_REGEXES = 10
MAX_REGEX_LENGTH = 260
MAX_NAME = 100
MAX_CUSTOM_MESSAGE = 150
MISSING_PERMISSIONS = 50013
INVALID_FORM = 50035

NOTICE = {
    "en": "Blocked by Veilleur, this server's child-safety filter. If this is a mistake, "
          "ask the moderators.",
    "fr": "Bloqué par Veilleur, le filtre de protection des mineurs de ce serveur. En cas "
          "d'erreur, contactez la modération.",
}
"""What Discord shows the author of a blocked message (at most 150 characters)."""


@dataclass(frozen=True, slots=True)
class Words:
    """Words of one set of the language packs (each a term of the set, or a word of one)."""

    set_name: str
    words: tuple[str, ...]
    regex: str | None = None
    """A shorter regex reading every one of the words, leet included (tested against them);
    None: the regexes spell each word out (`phrase_regex`)."""


@dataclass(frozen=True, slots=True)
class Pair:
    """A word of `first` and a word of `second`, in either order, side by side (`links`
    empty) or joined by one of `links` ("robux for nudes")."""

    first: Words
    second: Words
    links: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Family:
    """One AutoMod rule of ours: the pack rules it follows and what it matches."""

    name: str
    category: Category
    pack_rules: tuple[str, ...]
    alone: tuple[Words, ...] = ()
    """Words certain alone."""
    pairs: tuple[Pair, ...] = ()


_NUDES = ("nude", "nudes", "nudz", "noodz", "nvde", "nvdes", "nxde", "nxdes")
_NUDE_RE = r"n+(?:[ùuvx]+|[ô0o]{2,})d+[éèê3e]*"
_PLURAL_NUDES = Words("sexual", tuple(w for w in _NUDES if w[-1] in "sz"),
                      _NUDE_RE + r"[\$5sz]")
"""Beside a gift, only the noun: "nude" alone is also a colour ("gift card for nude heels")."""
FAMILIES: tuple[Family, ...] = (
    Family(
        name=f"{PREFIX} abuse-material code words",
        category=Category.CSAM,
        pack_rules=("csam.code_word", "csam.code_word_trade", "csam.sexual_minor"),
        alone=(Words("csam_code", ("pthc", "pedo pack", "pack pedo")),),
        pairs=(Pair(Words("minor", ("loli", "preteen", "underage", "jailbait", "mineur",
                                    "mineure", "menor", "menores", "preado")),
                    Words("sexual", (*_NUDES, "porn", "porno", "lewd", "lewds"),
                          rf"(?:{_NUDE_RE}|p+[ô0o]+r+n+[ô0o]*|[l\|]+[éèê3e]+w+d+)")),)),
    Family(
        name=f"{PREFIX} nudes for gifts or an unban",
        category=Category.SEXTORTION,
        pack_rules=("sextortion.gift_for_nude", "sextortion.unban_for_nude"),
        pairs=(Pair(Words("gift", ("nitro", "robux", "vbucks", "v bucks", "pavos",
                                   "gift card", "carte cadeau", "tarjeta regalo")),
                    _PLURAL_NUDES, ("for", "contre", "pour", "por")),
               Pair(Words("unban", ("unban", "deban", "desban")), _PLURAL_NUDES,
                    ("for", "contre", "pour", "por")))),
)
"""Our rules, most certain first (a server allowing one keyword rule gets the first)."""

_ACCENTS = {"a": "àâ", "e": "éèê", "i": "î", "o": "ô", "u": "ù", "c": "ç"}
_SEP = r"[\W_]"
_START = r"(?i)(?:^|[\W_])"
_END = r"(?:[\W_]|$)"
_LEET = {"a": ("4", "@"), "e": ("3",), "i": ("1",), "o": ("0",), "s": ("5", "$")}
_JOINERS = ("", "-", "_", ".")
_UNSUPPORTED = re.compile(r"\(\?[=!<>]|\(\?P[=>]|\\[1-9]|\\k<|[*+?}][+]")
"""Lookarounds, backreferences, atomic groups and possessive quantifiers: not in Rust's
regex."""
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_RUST_ESCAPES = frozenset("wWsSdDbBAz") | frozenset(
    c for c in map(chr, range(33, 127)) if not c.isalnum())
"""What may follow a backslash in both Python's and Rust's regexes (not Python's `\\Z`)."""


@dataclass(frozen=True, slots=True)
class Desired:
    """One AutoMod rule as Veilleur wants it in a server."""

    name: str
    keywords: tuple[str, ...]
    regexes: tuple[str, ...]
    block_notice: str | None
    """The block action's notice (None: no block)."""
    alert_channel: int | None
    """The mod-log channel alerted (None: no alert)."""

    def actions(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.block_notice is not None:
            out.append({"type": BLOCK_MESSAGE,
                        "metadata": {"custom_message": self.block_notice}})
        if self.alert_channel is not None:
            out.append({"type": SEND_ALERT_MESSAGE,
                        "metadata": {"channel_id": str(self.alert_channel)}})
        return out

    def payload(self, allow_list: Sequence[str] = ()) -> dict[str, Any]:
        """The JSON of a create (with `enabled`) or an edit (without)."""
        return {"name": self.name, "event_type": MESSAGE_SEND, "trigger_type": KEYWORD,
                "trigger_metadata": {"keyword_filter": list(self.keywords),
                                     "regex_patterns": list(self.regexes),
                                     "allow_list": list(allow_list)},
                "actions": self.actions()}


class AutomodLimitError(ValueError):
    pass


# ------------------------------------------------------------------ the pure core

@functools.lru_cache(maxsize=1)
def shipped_pack() -> PolicyPack:
    return load_packs(POLICY_DIR / "packs")


def in_pack(words: Words, pack: PolicyPack) -> tuple[str, ...]:
    """The words still in the pack's set (a term of it, or a word of a term)."""
    terms = {t.text for t in pack.terms if t.set_name == words.set_name}
    parts = {w for t in terms for w in t.split()}
    return tuple(w for w in words.words if w in terms or w in parts)


def _letter(c: str) -> str:
    """One letter as AutoMod must read it: its leet forms (the engine's own, `fold`), its
    accented forms, repeated."""
    if not c.isalpha():
        return re.escape(c)
    pattern = letter_pattern(c)
    extra = _ACCENTS.get(c, "")
    if not extra:
        return pattern
    if pattern.startswith("["):
        return "[" + extra + pattern[1:]
    return f"[{c}{extra}]+"


def word_regex(word: str, *, spelled: bool = False) -> str:
    """A word with its leet, accented and repeated letters; `spelled` also reads it spelled
    out with separators between all its letters ("p.t.h.c"; never "pt hc")."""
    glued = "".join(_letter(c) for c in word)
    if not spelled or len(word) < 2:
        return glued
    return f"(?:{glued}|{(_SEP + '+').join(_letter(c) for c in word)})"


def phrase_regex(phrase: str, *, spelled: bool = False) -> str:
    return (_SEP + "*").join(word_regex(w, spelled=spelled) for w in phrase.split())


def _alternation(items: Iterable[str]) -> str:
    return "(?:" + "|".join(items) + ")"


def _stems(words: Sequence[str]) -> list[str]:
    """Words without the plurals of other words (the regex adds an optional s)."""
    kept = set(words)
    spaced = {w.replace(" ", "") for w in words if " " in w}
    return [w for w in dict.fromkeys(words)
            if not (w.endswith("s") and w[:-1] in kept) and w not in spaced]


def _fill(template: str, items: Sequence[str]) -> list[str]:
    """`template` with `{}` filled by as few alternations of `items` as keep each result
    within Discord's 260 characters."""
    out: list[str] = []
    chunk: list[str] = []
    for item in items:
        trial = template.format(_alternation([*chunk, item]))
        if chunk and len(trial) > MAX_REGEX_LENGTH:
            out.append(template.format(_alternation(chunk)))
            chunk = []
        chunk.append(item)
    if chunk:
        out.append(template.format(_alternation(chunk)))
    return out


def _leet_forms(phrase: str) -> list[str]:
    """Every spelling of `phrase` with its vowels and s in their usual leet forms."""
    choices = [(c, *_LEET.get(c, ())) for c in phrase]
    return ["".join(p) for p in product(*choices)]


def _alone_keywords(term: str) -> list[str]:
    """A code word in leet or not, glued or with a separator between its words (or its
    letters, for one word); glued, also at the start of a word ("pthc*": "pthcs")."""
    words = term.split()
    if len(words) > 1:
        forms = [" ".join(words) + "*", *(j.join(words) + "*" for j in _JOINERS)]
    else:
        forms = [term + "*", *(j.join(term) for j in (" ", "-", "_", "."))]
    return [spelling for form in dict.fromkeys(forms) for spelling in _leet_forms(form)]


def _pair_keywords(pair: Pair, first: Sequence[str], second: Sequence[str]) -> list[str]:
    out: list[str] = []
    for a, b in product(first, second):
        for link in pair.links or ("",):
            middle = f" {link} " if link else " "
            out += [f"{a}{middle}{b}", f"{b}{middle}{a}"]
    return out


def _side(words: Words, kept: Sequence[str]) -> list[str]:
    """The regex items of one side of a pair: its own regex, or each word spelled out."""
    if words.regex is not None:
        return [words.regex]
    return [phrase_regex(w) for w in _stems(kept)]


def _pair_regexes(links: tuple[str, ...], a_items: Sequence[str], b: str) -> list[str]:
    """`a` then `b` and `b` then `a`, as few regexes as fit (`a` split as needed)."""
    plural = r"[\$5sz]*"
    if links:
        filler = r"(?:\w+\W+)?"
        link = rf"\W+{filler}" + _alternation(re.escape(x) for x in links) + rf"\W+{filler}"
    else:
        link = _SEP + "*"

    def lit(x: str) -> str:
        return x.replace("{", "{{").replace("}", "}}")

    forward = _START + "{}" + plural + lit(link + b) + plural + _END
    backward = _START + lit(b + plural + link) + "{}" + plural + _END
    return _fill(forward, a_items) + _fill(backward, a_items)


def family_patterns(family: Family, pack: PolicyPack | None = None
                    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(keywords, regexes) of one family, from the words its pack sets still hold."""
    pack = pack or shipped_pack()
    keywords: list[str] = []
    regexes: list[str] = []
    for words in family.alone:
        kept = in_pack(words, pack)
        for term in kept:
            keywords += _alone_keywords(term)
        if kept:
            regexes += _fill(_START + "{}" + r"[\$5sz]*" + _END,
                             [phrase_regex(t, spelled=True) for t in kept])
    # Pairs with the same second side and links share their regexes (fewer of them).
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for pair in family.pairs:
        first, second = in_pack(pair.first, pack), in_pack(pair.second, pack)
        if first and second:
            keywords += _pair_keywords(pair, first, second)
            b = _alternation(_side(pair.second, second))
            grouped.setdefault((b, pair.links), []).extend(_side(pair.first, first))
    for (b, links), a_items in grouped.items():
        regexes += _pair_regexes(links, list(dict.fromkeys(a_items)), b)
    keywords = list(dict.fromkeys(k.lower() for k in keywords))
    return tuple(keywords), tuple(dict.fromkeys(regexes))


def choose(policy: ServerPolicy, families: Sequence[Family] = FAMILIES
           ) -> tuple[list[Family], list[str]]:
    """The families this server gets, and why others are left out."""
    if not policy.automod:
        return [], []
    chosen: list[Family] = []
    notes: list[str] = []
    for family in families:
        if family.category in SILENT and policy.mod_log_channel is None:
            notes.append(f"{family.name!r} left out: {family.category.value} is acted on "
                         "silently, so that rule only alerts the mod log, and the policy "
                         "names no mod_log_channel")
            continue
        if len(chosen) == policy.automod_keyword_rules:
            notes.append(f"{family.name!r} left out: automod_keyword_rules = "
                         f"{policy.automod_keyword_rules}")
            continue
        chosen.append(family)
    return chosen, notes


def desired_rules(policy: ServerPolicy, *, families: Sequence[Family] = FAMILIES,
                  pack: PolicyPack | None = None) -> tuple[Desired, ...]:
    """The AutoMod rules Veilleur wants in the server of `policy`, in a fixed order; none
    when the policy has `automod` off. Each is checked against Discord's limits."""
    out: list[Desired] = []
    for family in choose(policy, families)[0]:
        keywords, regexes = family_patterns(family, pack)
        silent = family.category in SILENT
        rule = Desired(name=family.name, keywords=keywords, regexes=regexes,
                       block_notice=None if silent else NOTICE.get(policy.locale,
                                                                   NOTICE["en"]),
                       alert_channel=policy.mod_log_channel)
        check(rule)
        out.append(rule)
    return tuple(out)


def regex_problem(pattern: str) -> str | None:
    """Why Discord would refuse `pattern` (None: it would not)."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"regex of {len(pattern)} characters (Discord's most: {MAX_REGEX_LENGTH})"
    if _UNSUPPORTED.search(pattern):
        return "regex with a lookaround, a backreference or an atomic group (not in Rust)"
    odd = [m.group(1) for m in _ESCAPE.finditer(pattern) if m.group(1) not in _RUST_ESCAPES]
    if odd:
        return f"regex with the escape \\{odd[0]} (not read alike by Rust)"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"regex that does not compile ({exc})"
    return None


def problems(rule: Desired) -> list[str]:
    """Every way `rule` is outside Discord's limits."""
    out = []
    if not rule.name.startswith(PREFIX) or len(rule.name) > MAX_NAME:
        out.append(f"name {rule.name!r} (must start {PREFIX!r}, at most {MAX_NAME} chars)")
    if len(rule.keywords) > MAX_KEYWORDS:
        out.append(f"{len(rule.keywords)} keywords (Discord's most: {MAX_KEYWORDS})")
    for k in rule.keywords:
        if not k.strip("*") or len(k) > MAX_KEYWORD_LENGTH or "*" in k.strip("*"):
            out.append(f"keyword {k!r} (at most {MAX_KEYWORD_LENGTH} characters, * only at "
                       "an end)")
    if len(rule.regexes) > MAX_REGEXES:
        out.append(f"{len(rule.regexes)} regexes (Discord's most: {MAX_REGEXES})")
    for r in rule.regexes:
        why = regex_problem(r)
        if why:
            out.append(f"{why}: {r[:60]}…")
    if rule.block_notice is not None and len(rule.block_notice) > MAX_CUSTOM_MESSAGE:
        out.append(f"block notice of {len(rule.block_notice)} characters (Discord's most: "
                   f"{MAX_CUSTOM_MESSAGE})")
    if not rule.actions():
        out.append("no action")
    return out


def check(rule: Desired) -> None:
    found = problems(rule)
    if found:
        raise AutomodLimitError(f"AutoMod rule {rule.name!r}: " + "; ".join(found))


# ------------------------------------------------------------------ comparing with Discord

def owned(rule: Mapping[str, Any], bot_id: int) -> bool:
    """Ours: named "Veilleur:…" and created by the bot (a server's own rule of that name is
    never touched)."""
    return str(rule.get("name", "")).startswith(PREFIX) and \
        str(rule.get("creator_id")) == str(bot_id)


def _actions_of(actions: Iterable[Mapping[str, Any]]) -> list[tuple[int, str, str]]:
    out = []
    for a in actions:
        meta = a.get("metadata") or {}
        out.append((int(a.get("type", 0)), str(meta.get("channel_id") or ""),
                    str(meta.get("custom_message") or "")))
    return sorted(out)


def same(rule: Mapping[str, Any], want: Desired) -> bool:
    """Whether a rule in Discord already does what `want` says (its switch, exempt roles,
    exempt channels and allow list are the server's)."""
    meta = rule.get("trigger_metadata") or {}
    return (rule.get("name") == want.name
            and int(rule.get("event_type", 0)) == MESSAGE_SEND
            and int(rule.get("trigger_type", 0)) == KEYWORD
            and sorted(meta.get("keyword_filter") or []) == sorted(want.keywords)
            and sorted(meta.get("regex_patterns") or []) == sorted(want.regexes)
            and _actions_of(rule.get("actions") or []) == _actions_of(want.actions()))


# ------------------------------------------------------------------ sync (I/O)

@dataclass
class SyncReport:
    guild_id: int
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """One line per problem, naming what is wrong."""
    disabled: list[str] = field(default_factory=list)
    """Ours, switched off in the server's settings: left off."""
    notes: list[str] = field(default_factory=list)
    listed: bool = True
    """Whether the server's rules could be read at all."""

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        parts = [f"{k} {len(v)}" for k, v in (("created", self.created),
                                              ("updated", self.updated),
                                              ("unchanged", self.unchanged),
                                              ("deleted", self.deleted),
                                              ("failed", self.failed)) if v]
        head = f"AutoMod in guild {self.guild_id}: " + (", ".join(parts) or "nothing to do")
        return "; ".join([head, *self.failed, *(f"switched off by the server: {n}"
                                                for n in self.disabled), *self.notes])


_NETWORK = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def why(exc: BaseException) -> str:
    """A refusal or a failure, said as what is wrong."""
    if isinstance(exc, discord.HTTPException):
        text = (exc.text or "").replace("\n", " ")[:300]
        if exc.code == MISSING_PERMISSIONS:
            return (f"missing permission {label('manage_guild')} on the server (AutoMod "
                    "rules need it)")
        if exc.code == INVALID_FORM:
            return f"Discord refused the rule as invalid (50035: {text})"
        if 30000 <= exc.code < 40000:
            return f"a Discord maximum is reached ({exc.code}: {text})"
        if exc.status == 429:
            return "Discord's rate limit: not retried (the next sync tries again)"
        return f"Discord refused ({exc.status}, code {exc.code}: {text})"
    return f"no answer from Discord ({type(exc).__name__}: {exc})"


async def sync(http: Any, guild_id: int, desired: Sequence[Desired], *, bot_id: int,
               existing: Sequence[Mapping[str, Any]] | None = None,
               reason: str = "Veilleur: AutoMod rules kept in line with its packs"
               ) -> SyncReport:
    """Make the bot's own AutoMod rules in `guild_id` those of `desired`, with
    discord.py's HTTPClient (`existing`: the server's rules, if already fetched). Never
    raises for Discord's refusals: they are in the report, and logged."""
    report = SyncReport(guild_id)

    def failed(what: str, exc: BaseException) -> None:
        line = f"{what} in guild {guild_id}: {why(exc)}"
        report.failed.append(line)
        log.warning("%s", line)

    if existing is None:
        try:
            existing = list(await http.get_auto_moderation_rules(guild_id))
        except (discord.HTTPException, *_NETWORK) as exc:
            failed("AutoMod rules not read", exc)
            report.listed = False
            return report
    ours: dict[str, Mapping[str, Any]] = {}
    extra: list[Mapping[str, Any]] = []
    for found in sorted(existing, key=lambda r: int(r.get("id", 0))):
        if owned(found, bot_id):
            if found.get("name") in ours:
                extra.append(found)  # a second of the same name (the oldest is kept)
            else:
                ours[str(found.get("name"))] = found
    wanted = {d.name for d in desired}
    extra += [r for name, r in ours.items() if name not in wanted]
    keyword_rules = sum(1 for r in existing if int(r.get("trigger_type", 0)) == KEYWORD)
    for stale in sorted(extra, key=lambda r: int(r.get("id", 0))):
        name = str(stale.get("name"))
        try:
            await http.delete_auto_moderation_rule(guild_id, stale["id"], reason=reason)
        except (discord.HTTPException, *_NETWORK) as exc:
            failed(f"AutoMod rule {name!r} not deleted", exc)
            continue
        report.deleted.append(name)
        if int(stale.get("trigger_type", 0)) == KEYWORD:
            keyword_rules -= 1
    for want in desired:
        rule = ours.get(want.name)
        if rule is not None and rule.get("enabled") is False:
            report.disabled.append(want.name)
        if rule is not None and same(rule, want):
            report.unchanged.append(want.name)
            continue
        try:
            if rule is not None:
                allow = (rule.get("trigger_metadata") or {}).get("allow_list") or []
                body = want.payload(allow)
                del body["trigger_type"]  # cannot change
                await http.edit_auto_moderation_rule(guild_id, rule["id"], reason=reason,
                                                     **body)
                report.updated.append(want.name)
            elif keyword_rules >= MAX_KEYWORD_RULES:
                line = (f"AutoMod rule {want.name!r} in guild {guild_id}: not created, the "
                        f"server already has {keyword_rules} keyword rules (Discord's most: "
                        f"{MAX_KEYWORD_RULES}); free one, or set automod_keyword_rules = 1")
                report.failed.append(line)
                log.warning("%s", line)
            else:
                await http.create_auto_moderation_rule(guild_id, reason=reason, enabled=True,
                                                       **want.payload())
                keyword_rules += 1
                report.created.append(want.name)
        except (discord.HTTPException, *_NETWORK) as exc:
            failed(f"AutoMod rule {want.name!r} not "
                   + ("updated" if rule is not None else "created"), exc)
    return report


async def keep_in_sync(http: Any, guild_id: int, bot_id: int, policy: ServerPolicy
                       ) -> SyncReport:
    """The entry point: the server's AutoMod rules of Veilleur made what its policy asks
    (none when `automod` is off: the bot's rules are then removed, and the server's own
    are never touched). Call it when the bot is ready and when it joins a server."""
    try:
        desired = desired_rules(policy)
    except AutomodLimitError as exc:  # a pack edit that no longer fits: said, not raised
        report = SyncReport(guild_id, failed=[str(exc)])
        log.error("%s", exc)
        return report
    report = await sync(http, guild_id, desired, bot_id=bot_id)
    if not policy.automod and not report.listed:
        # Off, and the rules cannot be read (no Manage Server): none of ours can be there
        # to remove that the bot could remove; a note, not a problem.
        report.notes += [f"automod is off; {line}" for line in report.failed]
        report.failed = []
    report.notes += choose(policy)[1]
    log.info("%s", report.summary())
    return report
