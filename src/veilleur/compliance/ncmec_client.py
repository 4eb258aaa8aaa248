"""Filing a CyberTipline report through NCMEC's reporting API (spec §4.2).

The documented flow: `submit` the `<report>` (its reportId comes back), `upload` each file
(NCMEC answers with a fileId and the MD5 it computed, which must match ours), `fileinfo` for
each file (`<fileDetails>`: hashes, whether a person viewed it), `finish` (irreversible). If
anything fails between submit and finish, the report is `retract`ed so no half-report stays
open. Every response's code is checked (0 is OK) and the Request-ID header is kept for the log.
Documents are validated against the XSD order before they are sent (4100 otherwise).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from veilleur.cases.models import parse_iso
from veilleur.compliance import ncmec

TEST_BASE = "https://exttest.cybertip.org/ispws"
PRODUCTION_BASE = "https://report.cybertip.org/ispws"
XML = {"Content-Type": "text/xml; charset=utf-8"}


class NcmecError(RuntimeError):
    def __init__(self, step: str, code: int | None, description: str,
                 request_id: str | None = None) -> None:
        super().__init__(f"NCMEC {step} failed: code {code}: {description}"
                         + (f" (Request-ID {request_id})" if request_id else ""))
        self.step, self.code, self.description, self.request_id = (step, code, description,
                                                                   request_id)


@dataclass(frozen=True, slots=True)
class PackagedFile:
    meta: ncmec.ReportedFile
    data: bytes
    supplemental: bool = False
    note: str | None = None


@dataclass
class Filed:
    report_id: str
    file_ids: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)


class CyberTiplineClient:
    def __init__(self, client: httpx.Client, username: str, password: str, *,
                 base_url: str = TEST_BASE) -> None:
        self.client = client
        self.auth = httpx.BasicAuth(username, password)
        self.base = base_url.rstrip("/")
        self.request_ids: list[str] = []

    def _call(self, step: str, **kw: object) -> ET.Element:
        try:
            r = self.client.post(f"{self.base}/{step}", auth=self.auth, **kw)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            raise NcmecError(step, None, f"{type(exc).__name__}: {exc}") from exc
        rid = r.headers.get("Request-ID")
        if rid:
            self.request_ids.append(rid)
        if r.status_code == 401:
            raise NcmecError(step, 2000, "authentication required", rid)
        try:
            root = ET.fromstring(r.content)
        except ET.ParseError:
            raise NcmecError(step, None, f"HTTP {r.status_code}: not XML", rid) from None
        code = _int(_find(root, "responseCode"))
        if code != 0:
            raise NcmecError(step, code, _find(root, "responseDescription") or "", rid)
        return root

    def status(self) -> bool:
        try:
            r = self.client.get(f"{self.base}/status", auth=self.auth)
        except httpx.TransportError:
            return False
        try:
            return r.status_code == 200 and _int(_find(ET.fromstring(r.content),
                                                       "responseCode")) == 0
        except ET.ParseError:
            return False

    def submit(self, report_xml: str) -> str:
        errors = ncmec.validate_xml(report_xml)
        if errors:
            raise NcmecError("submit", 4100, "; ".join(errors))
        root = self._call("submit", content=report_xml.encode("utf-8"), headers=XML)
        report_id = _find(root, "reportId")
        if not report_id:
            raise NcmecError("submit", None, "no reportId in the response")
        return report_id

    def upload(self, report_id: str, filename: str, data: bytes) -> str:
        root = self._call("upload", data={"id": report_id},
                          files={"file": (filename, data)})
        file_id, md5 = _find(root, "fileId"), _find(root, "hash")
        if not file_id:
            raise NcmecError("upload", None, "no fileId in the response")
        if md5 and md5.lower() != hashlib.md5(data).hexdigest():
            raise NcmecError("upload", 1111, f"NCMEC received a different file (MD5 {md5})")
        return file_id

    def fileinfo(self, details_xml: str) -> None:
        errors = ncmec.validate_xml(details_xml)
        if errors:
            raise NcmecError("fileinfo", 4100, "; ".join(errors))
        self._call("fileinfo", content=details_xml.encode("utf-8"), headers=XML)

    def finish(self, report_id: str) -> list[str]:
        root = self._call("finish", data={"id": report_id})
        return [e.text or "" for e in root.iter("fileId")]

    def retract(self, report_id: str) -> None:
        self._call("retract", data={"id": report_id})

    def file(self, report_xml: str, files: Sequence[PackagedFile]) -> Filed:
        """The whole flow; a failure after submit retracts the report before raising."""
        report_id = self.submit(report_xml)
        filed = Filed(report_id)
        try:
            for f in files:
                name = f.meta.filename or f"{f.meta.attachment_id}.bin"
                file_id = self.upload(report_id, name, f.data)
                self.fileinfo(ncmec.file_details_xml(report_id, file_id, f.meta,
                                                     supplemental=f.supplemental, note=f.note))
                filed.file_ids.append(file_id)
            self.finish(report_id)
        except NcmecError:
            # NCMEC purges unfinished reports itself; the first error is the one to report.
            with contextlib.suppress(NcmecError):
                self.retract(report_id)
            raise
        filed.request_ids = list(self.request_ids)
        return filed


def packaged_files(payload: dict[str, Any], evidence_files: dict[str, bytes]
                   ) -> list[PackagedFile]:
    """The files of a stored `ncmec_report` document: each reported file whose bytes the
    sealed evidence holds, and the chat context as a supplemental CSV."""
    out: list[PackagedFile] = []
    for f in payload.get("files", []):
        data = evidence_files.get(f["attachment_id"])
        if data is None:
            continue
        meta = ncmec.ReportedFile(f["attachment_id"], f.get("filename"),
                                  parse_iso(f.get("uploaded_at")), f.get("md5"),
                                  f.get("sha256"), f.get("pdq"), bool(f["viewed_by_human"]),
                                  bool(f["publicly_available"]))
        out.append(PackagedFile(meta, data))
    chat = [ncmec.ChatLine(at, c["author_id"], c["channel"], c["content"])
            for c in payload.get("chat_context") or () if (at := parse_iso(c["at"]))]
    if chat:
        data = ncmec.chat_csv(chat)
        meta = ncmec.ReportedFile("chat-context", "chat_context.csv", None,
                                  hashlib.md5(data).hexdigest(),
                                  hashlib.sha256(data).hexdigest(), None, True, False)
        out.append(PackagedFile(meta, data, supplemental=True,
                                note="The conversation around the reported content."))
    return out


def evidence_bytes(document: dict[str, Any]) -> dict[str, bytes]:
    """attachment id → bytes, from an opened evidence document."""
    return {a["id"]: base64.b64decode(a["bytes_b64"])
            for a in document.get("attachments", []) if a.get("bytes_b64")}


def _find(root: ET.Element, tag: str) -> str | None:
    el = root if root.tag == tag else next(root.iter(tag), None)
    return (el.text or "").strip() if el is not None else None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
