"""NCMEC hash-sharing XML: each record's `<fingerprints>` holds `md5`, `pdq`, `sha256`, ...
(types we do not match, such as PhotoDNA, are counted and skipped); deleted records are
removals."""

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


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def read(path: Path, parsed: ParsedBank, problems: ProblemLog,
                default: Category | None) -> bool:
    source = str(path)
    default = default or Category.CSAM
    n = 0
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            children = {_local(c.tag): c for c in elem}
            if "fingerprints" not in children:
                continue
            n += 1
            where = f"record {n}"
            record_id = elem.get("id") or (children["id"].text if "id" in children else None)
            if record_id:
                where += f" (id {record_id.strip()})"
            deleted = elem.get("deleted", "").lower() in TRUE
            for flag in ("deleted", "status"):
                text = (children[flag].text or "").strip().lower() if flag in children else ""
                deleted |= text in TRUE or text in ("deleted", "removed")
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
                    parsed.removals.append(Removal(sig[0], sig[1], "NCMEC: deleted"))
                    continue
                classification = children.get("classification")
                parsed.entries.append(BankEntry(
                    sig[0], sig[1], default,
                    added_at=parse_time(children["lastmodifiedtimestamp"].text
                                        if "lastmodifiedtimestamp" in children else None),
                    source_id=record_id.strip() if record_id else None,
                    metadata={"classification": (classification.text or "").strip()}
                    if classification is not None and classification.text else {}))
            elem.clear()
    except ET.ParseError as exc:
        problems.report(source, f"not well-formed XML: {exc}", fatal=not parsed.entries)
        return bool(parsed.entries or parsed.removals)
    if n == 0:
        problems.report(source, "no record with <fingerprints> in this XML", fatal=True)
        return False
    return True
