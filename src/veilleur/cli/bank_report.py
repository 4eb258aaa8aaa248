"""What `veilleur bank import` says about each file: the same counts as text and as JSON.

Pure: an `ImportReport` in, lines or a JSON-ready dict out. The command (`banks.py`) does
the I/O.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from veilleur.store.banks import ImportReport

_SHOWN_TYPES = 20


def file_json(path: Path, fmt: str, report: ImportReport) -> dict[str, Any]:
    """One file's counts, for integrators (`--json`)."""
    return {
        "file": str(path), "format": fmt, "bank": report.bank,
        "bank_created": report.created, "stored": report.stored,
        "read": report.read, "imported": report.added, "updated": report.updated,
        "unchanged": report.already_present, "disabled": report.removed,
        "not_held": report.not_held, "reenabled": report.reenabled,
        "skipped_types": dict(sorted(report.skipped_types.items())),
        "more_pages": report.more_pages is not None, "next_page": report.more_pages,
        "stored_media_checked": report.retro_media_checked,
        "stored_media_matched": len(report.retro_matches),
        "overrides": report.overrides,
    }


def file_lines(path: Path, fmt: str, report: ImportReport) -> list[str]:
    """One file's counts, in words, most important first."""
    head = f"{path} ({fmt}): "
    if not report.stored:
        why = (f"{report.not_held:,} withdrawal(s) of entries no bank '{report.bank}' holds"
               if report.not_held else "no hash entry in this page")
        lines = [head + f"nothing to import ({why}); bank '{report.bank}' left as it was"]
    else:
        verb = "created" if report.created else "updated"
        lines = [head + f"bank '{report.bank}' {verb}: {report.read:,} entries read, "
                 f"{report.added:,} imported (new), {report.updated:,} updated, "
                 f"{report.already_present:,} already present, {report.removed:,} disabled "
                 f"(withdrawn or deleted at source)"]
        if report.not_held:
            lines.append(f"  {report.not_held:,} withdrawal(s) name nothing this bank holds "
                         "(not held: nothing to disable)")
        if report.reenabled:
            lines.append(f"  {report.reenabled:,} entries enabled again (listed again at "
                         "source after a withdrawal)")
    # a hostile file may name thousands of made-up types: the commonest are enough to say
    shown = sorted(report.skipped_types.most_common(_SHOWN_TYPES))
    for kind, n in shown:
        lines.append(f"  skipped {n:,} {kind[:40]} hashes (type not matched by this engine)")
    if len(report.skipped_types) > len(shown):
        rest = len(report.skipped_types) - len(shown)
        lines.append(f"  skipped {rest:,} more types not matched by this engine")
    if report.more_pages is not None:
        lines.append("  more pages remain: the feed says this page is not its last")
    return lines
