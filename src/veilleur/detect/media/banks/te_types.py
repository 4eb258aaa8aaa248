"""What the ThreatExchange family of files (python-threatexchange, hasher-matcher-actioner, the
Graph API) share: their signal type names, where a typeless file's type comes from, their
opinion categories, and the rule that the bank gives the category.

Signal type names are python-threatexchange's `SignalType.get_name()` (`pdq`, `video_md5`,
`video_sha256`, `raw_text`, ...; `photo_md5` in versions before 1.0) and the Graph API's
`IndicatorType` (`HASH_PDQ`, `HASH_MD5`, ...). Which of them this engine matches is
`common.TYPE_ALIASES`; the others are counted and named, never guessed into one we match.
"""

from __future__ import annotations

import re
from pathlib import Path

from veilleur.detect.media.banks.common import TYPE_ALIASES, BankEntry, ParsedBank, Removal
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

TE_SIGNAL_NAMES = frozenset({
    # python-threatexchange signal types (get_name())
    "pdq", "photo_md5", "video_md5", "video_sha256", "md5", "sha256", "raw_text", "url",
    "url_md5", "text_md5", "trend_query", "video_tmk_pdqf", "vpdq", "pdq_ocr", "text_tlsh",
    "tlsh_pdf", "clip",
    # Graph API indicator types, lowercased, as they appear in file names and type columns
    "hash_pdq", "hash_md5", "hash_sha256", "hash_video_md5", "hash_video_sha256", "hash_tmk",
    "hash_photodna", "hash_sha1",
})
"""Names a ThreatExchange file may give a signal type: to recognise a type token (in a
`signal_type signal` line or a file name), not to decide whether we match it."""

_MD5 = re.compile(r"^[0-9a-f]{32}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DATA_SUFFIXES = (".csv", ".te", ".txt", ".tsv")


def known_signal_type(name: str) -> str | None:
    """`name` lowercased if it names a signal type (one we match or a ThreatExchange one)."""
    kind = name.strip().lower().replace(" ", "_")
    return kind if kind in TYPE_ALIASES or kind in TE_SIGNAL_NAMES else None


def type_from_file_name(path: Path) -> str | None:
    """The signal type the HMA tooling writes into a data file's name, if any.

    HMA's sample data is `hma_sample_data_pdq.csv`, `hma_lite_sample_data_photo_md5.csv`,
    `..._video_md5.csv`; its fetcher writes `<privacy group>.pdq.te`; python-threatexchange's
    old cache wrote one file per type. The type is the last `_`- or `.`-separated part of the
    name (the longest known name wins, so `_photo_md5` is not read as `_md5`).
    """
    stem = path.name.lower()
    for suffix in _DATA_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    for name in sorted(TE_SIGNAL_NAMES | set(TYPE_ALIASES), key=len, reverse=True):
        if stem == name or stem.endswith(("_" + name, "." + name, "-" + name)):
            return name
    return None


def type_of_bare_value(value: str, fallback: str | None) -> str | None:
    """The signal type of a value its file gives no type for; None when it cannot be told.

    `fallback` (the caller's `signal_type`, else the file name's) wins. Without it only the
    value's shape is left, and only a 32-hex value is unambiguous (MD5 is the one 32-hex type
    this engine matches). A 64-hex value may be PDQ or SHA-256, which match in different ways
    (a distance radius against exact equality): guessing wrong would make a bank that silently
    matches nothing, so it is refused instead.
    """
    if fallback:
        return fallback
    if _MD5.match(value.strip().lower()):
        return "md5"
    return None


TYPELESS_HOW = ("give the signal type (--signal-type) or keep the HMA file name that says it "
                "(..._pdq.csv, ..._video_md5.csv, <group>.pdq.te)")


def untyped_problem(value: str, how: str = TYPELESS_HOW) -> str:
    """Why a value without a signal type was refused, and what to give."""
    if _HEX64.match(value.strip().lower()):
        return f"a 64-hex value with no signal type may be PDQ or SHA-256: {how}"
    return f"value with no signal type {value.strip()[:40]!r}: {how}"


OPINION_NEGATIVE = frozenset({"FALSE_POSITIVE", "NEGATIVE_CLASS"})
OPINION_POSITIVE = frozenset({"TRUE_POSITIVE", "POSITIVE_CLASS", "WORTH_INVESTIGATING",
                              "INVESTIGATION_SEED"})
"""python-threatexchange's `SignalOpinionCategory` (names before and since 1.0): whether the
signal is in the collaboration's category, not Veilleur's CSAM/NCII category. A negative
opinion withdraws the signal; seeds and positives are kept (the `threatexchange match`
command matches them too), with the opinion in the entry's metadata."""


NO_CATEGORY = ("ThreatExchange files do not say whether a hash is CSAM or NCII: give the "
               "bank's category (--category csam or ncii)")
"""Their tags are each collaboration's free text (`media_priority_samples`, `disputed`, ...)
and their categories are opinions, so no tag is read as a category: a wrong one would send a
picture to the wrong legal process (a CyberTipline report or an NCII takedown)."""


def require_bank_category(default: Category | None, problems: ProblemLog, source: str) -> bool:
    """For a reader called on its own: `read_bank_file` reads first and refuses after, so a
    file that is no bank at all is told so rather than asked for a category."""
    if default is None:
        problems.report(source, NO_CATEGORY, fatal=True)
        return False
    return True


def settle_opinions(parsed: ParsedBank, kept: list[BankEntry],
                    negative: dict[tuple[str, str], list[str]], reason: str) -> None:
    """Add what a file's opinions leave: each descriptor or collaboration is one member's view.

    `negative` holds, per hash, who said it is benign or not in the category. A hash someone
    else in the same file still calls harmful is kept, marked `disputed_by` for the reviewer
    (python-threatexchange's `disputed`): withdrawing it would let the file's order decide.
    A hash nobody in the file calls harmful is withdrawn.
    """
    harmful = {(e.signal_type, e.signal) for e in kept}
    for e in kept:
        if who := negative.get((e.signal_type, e.signal)):
            e.metadata["disputed_by"] = ", ".join(who)
    parsed.entries.extend(kept)
    parsed.removals.extend(Removal(kind, value, reason) for (kind, value) in negative
                           if (kind, value) not in harmful)
