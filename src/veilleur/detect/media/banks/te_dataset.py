"""The `threatexchange` CLI's `dataset -P --csv`: a header naming `signal_type`, `signal_str`,
`collab`, `category`, `tags` (in either order the CLI has written them).

`category` there is the collaboration's opinion (`INVESTIGATION_SEED`, `NEGATIVE_CLASS`, ...,
see `te_types.OPINION_*`), not CSAM or NCII: a negative opinion withdraws the hash unless
another collaboration in the file keeps it (`te_types.settle_opinions`), the others keep it
with the opinion in its metadata; the bank's category is the entry's.
"""

from __future__ import annotations

from pathlib import Path

from veilleur.detect.media.banks.common import (
    BankEntry,
    ParsedBank,
    csv_rows,
    signal_or_count,
)
from veilleur.detect.media.banks.te_types import (
    OPINION_NEGATIVE,
    OPINION_POSITIVE,
    require_bank_category,
    settle_opinions,
)
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

REQUIRED = ("signal_type", "signal_str")


def looks_like(first_line: str) -> bool:
    cells = {c.strip().strip('"').lower() for c in first_line.split(",")}
    return all(c in cells for c in REQUIRED)


def read(path: Path, parsed: ParsedBank, problems: ProblemLog,
         default: Category | None) -> bool:
    source = str(path)
    if not require_bank_category(default, problems, source):
        return False
    assert default is not None
    kept: list[BankEntry] = []
    negative: dict[tuple[str, str], list[str]] = {}  # by hash: which collab said so
    for columns, where, clean in csv_rows(path, lower=True):
        if where == "header":
            missing = [c for c in REQUIRED if c not in columns]
            if missing:
                problems.report(source, "not a threatexchange dataset CSV: missing column(s) "
                                f"{', '.join(missing)}", fatal=True)
                return False
            continue
        kind = clean.get("signal_type", "")
        sig = signal_or_count(kind, clean.get("signal_str", ""), parsed, problems, source,
                              where)
        if sig is None:
            continue
        opinion = clean.get("category", "").upper()
        if opinion in OPINION_NEGATIVE:
            negative.setdefault(sig, []).append(
                f"{clean.get('collab') or 'a collaboration'} ({opinion})")
            continue
        if opinion and opinion not in OPINION_POSITIVE:
            problems.report(source, f"unknown ThreatExchange opinion {opinion!r} (one of "
                            f"{', '.join(sorted(OPINION_POSITIVE | OPINION_NEGATIVE))})", where)
            continue
        kept.append(BankEntry(
            sig[0], sig[1], default,
            metadata={k: v for k, v in (("collab", clean.get("collab", "")),
                                        ("opinion", opinion), ("tags", clean.get("tags", "")),
                                        ("te_type", kind.lower())) if v}))
    settle_opinions(parsed, kept, negative, "ThreatExchange: opinion not in the category")
    return True
