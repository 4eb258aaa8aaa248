"""NCMEC hash-sharing XML (the v2 API's `queryResult` pages).

Each `<image>` / `<video>` record holds `<fingerprints>`: `md5` (of the file, picture or video)
and `pdq` become entries; the types this engine does not match (`sha1`, `pdna` PhotoDNA,
`tmk-pdqf`, `videntifier`, `netclean` ...) are counted and named. `<deletedImage>` /
`<deletedVideo>` carry only the record's `<id>`: they withdraw every entry stored with that
source id, whatever its hashes. `added_at` is the record's `<timestamp>`; `classification`,
the member and the kind of record are kept as metadata. `<paging><next>` says more pages
follow. An empty page is valid. Older shapes (a `deleted` flag or `<status>deleted` on a
record, `<lastModifiedTimestamp>`) are read too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from veilleur.detect.media.banks.common import (
    TRUE,
    TYPE_ALIASES,
    BankEntry,
    ParsedBank,
    Removal,
    normalise,
    parse_time,
)
from veilleur.ingest.problems import ProblemLog
from veilleur.taxonomy import Category

_RECORDS = ("image", "video")
_DELETED = ("deletedimage", "deletedvideo")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _text(children: dict[str, ET.Element], name: str) -> str:
    elem = children.get(name)
    return (elem.text or "").strip() if elem is not None else ""


def read(path: Path, parsed: ParsedBank, problems: ProblemLog,
         default: Category | None) -> bool:
    source = str(path)
    default = default or Category.CSAM
    n = 0
    root: ET.Element | None = None
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            if event == "start":
                root = elem if root is None else root
                continue
            tag = _local(elem.tag)
            if tag == "next" and elem.text and elem.text.strip():
                parsed.more_pages = elem.text.strip()[:4096]
                continue
            children = {_local(c.tag): c for c in elem}
            if tag in _DELETED:
                n += 1
                _deletion(tag, children, parsed, problems, source, f"record {n}")
                elem.clear()
                continue
            if "fingerprints" not in children or tag == "queryresult":
                continue
            n += 1
            _record(tag, elem, children, parsed, problems, source, f"record {n}", default)
            elem.clear()
    except ET.ParseError as exc:
        problems.report(source, f"not well-formed XML: {exc}", fatal=not parsed.entries)
        return bool(parsed.entries or parsed.removals)
    parsed.feed_page = root is not None and _local(root.tag) == "queryresult"
    if n == 0 and not parsed.feed_page:
        problems.report(source, "no record with <fingerprints> in this XML", fatal=True)
        return False
    return True


def _deletion(tag: str, children: dict[str, ET.Element], parsed: ParsedBank,
              problems: ProblemLog, source: str, where: str) -> None:
    record_id = _text(children, "id")
    if not record_id:
        problems.report(source, f"<{tag}> without an <id>: nothing to withdraw", where)
        return
    parsed.remove(Removal.of_record(record_id, f"NCMEC: {tag[len('deleted'):]} deleted"))


def _record(tag: str, elem: ET.Element, children: dict[str, ET.Element], parsed: ParsedBank,
            problems: ProblemLog, source: str, where: str, default: Category) -> None:
    record_id = elem.get("id") or _text(children, "id") or None
    if record_id:
        where += f" (id {record_id})"
    deleted = elem.get("deleted", "").lower() in TRUE
    for flag in ("deleted", "status"):
        text = _text(children, flag).lower()
        deleted |= text in TRUE or text in ("deleted", "removed")
    stamp = _text(children, "timestamp") or _text(children, "lastmodifiedtimestamp")
    added_at = parse_time(stamp)
    if stamp and added_at is None:
        problems.report(source, f"unreadable <timestamp> {stamp[:40]!r}: kept without it",
                        where)
    metadata = {k: v for k, v in (
        ("classification", _text(children, "classification")),
        ("member", _text(children, "member")),
        ("member_id", (children["member"].get("id") or "").strip()
         if "member" in children else ""),
        ("record", tag if tag in _RECORDS else "")) if v}
    for fp in children["fingerprints"]:
        kind = _local(fp.tag)
        value = (fp.text or "").strip()
        if TYPE_ALIASES.get(kind) is None:
            parsed.skipped_types[kind] += 1
            continue
        sig = normalise(kind, value)
        if isinstance(sig, str):
            problems.report(source, sig, where)
            continue
        if deleted:
            parsed.remove(Removal(sig[0], sig[1], "NCMEC: deleted"))
            continue
        parsed.add(BankEntry(sig[0], sig[1], default, added_at=added_at,
                             source_id=record_id, metadata=metadata))
