"""Local fakes of the Transparency Database and CyberTipline APIs (spec §2.1, §4.2), as httpx
transports: they keep state, check what the real ones check, and fail on request."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import httpx

from veilleur.compliance import ncmec, tdb


@dataclass
class FakeTdb:
    token: str = "secret"
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: list[int] = field(default_factory=list)
    """Batch sizes received."""
    fail_next: list[int | str] = field(default_factory=list)
    """Statuses to answer next (429, 500...), or "timeout-after-store"."""
    reject: set[str] = field(default_factory=set)
    """puids the server refuses with a 422."""

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"message": "Unauthenticated."})
        path = request.url.path
        if request.method == "GET" and (m := re.search(r"existing-puid/(.+)$", path)):
            return httpx.Response(302 if m.group(1) in self.stored else 404)
        if request.method == "POST" and path.endswith("/statements"):
            batch = json.loads(request.content)["statements"]
            self.posts.append(len(batch))
            if not 1 <= len(batch) <= 100:
                return httpx.Response(422, json={"message": "1 to 100 statements"})
            if self.fail_next:
                fault = self.fail_next.pop(0)
                if fault == "timeout-after-store":
                    self._store(batch)
                    raise httpx.ReadTimeout("timed out", request=request)
                return httpx.Response(int(fault), headers={"Retry-After": "2"})
            existing = [s["puid"] for s in batch if s["puid"] in self.stored]
            errors: dict[str, Any] = {}
            if existing:
                errors["existing_puids"] = existing
            for i, s in enumerate(batch):
                problems = tdb.validate(s)
                if s["puid"] in self.reject:
                    problems.append("The decision facts field is invalid.")
                if problems:
                    errors[f"statement_{i}"] = problems
            if errors:  # all or nothing
                return httpx.Response(422, json={"message": "invalid", "errors": errors})
            return httpx.Response(201, json={"statements": self._store(batch)})
        return httpx.Response(404)

    def _store(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for s in batch:
            item = s | {"uuid": str(uuid.uuid4())}
            self.stored[s["puid"]] = item
            out.append({"uuid": item["uuid"], "puid": s["puid"]})
        return out


def _xml(code: int, body: str = "", root: str = "reportResponse") -> httpx.Response:
    return httpx.Response(200, headers={"Request-ID": uuid.uuid4().hex},
                          content=(f"<{root}><responseCode>{code}</responseCode>"
                                   f"<responseDescription>{'OK' if code == 0 else 'error'}"
                                   f"</responseDescription>{body}</{root}>").encode())


@dataclass
class FakeCyberTipline:
    user: str = "esp"
    password: str = "pw"
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    """step → response code to answer once."""
    wrong_md5: bool = False
    calls: list[str] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        expected = httpx.BasicAuth(self.user, self.password)
        probe = next(expected.auth_flow(httpx.Request("GET", "http://x")))
        if request.headers.get("Authorization") != probe.headers["Authorization"]:
            return httpx.Response(401)
        step = request.url.path.rsplit("/", 1)[-1]
        self.calls.append(step)
        if step in self.fail:
            return _xml(self.fail.pop(step))
        if step == "status":
            return _xml(0)
        if step == "submit":
            if ncmec.validate_xml(request.content.decode()):
                return _xml(4100)
            rid = str(100000 + len(self.reports))
            self.reports[rid] = {"xml": request.content.decode(), "files": {}, "info": [],
                                 "state": "open"}
            return _xml(0, f"<reportId>{rid}</reportId>")
        form = _form(request)
        rid = form.get("id", "")
        report = self.reports.get(rid)
        if step in ("upload", "finish", "retract") and report is None:
            return _xml(5001)
        if step == "upload":
            assert report is not None
            fid = f"f{len(report['files']) + 1}"
            data = form["file"]
            report["files"][fid] = data
            md5 = "0" * 32 if self.wrong_md5 else hashlib.md5(data).hexdigest()
            return _xml(0, f"<reportId>{rid}</reportId><fileId>{fid}</fileId><hash>{md5}</hash>")
        if step == "fileinfo":
            doc = request.content.decode()
            if ncmec.validate_xml(doc):
                return _xml(4100)
            root = ET.fromstring(doc)
            owner = self.reports.get(root.findtext("reportId") or "")
            if owner is None:
                return _xml(5001)
            owner["info"].append(doc)
            return _xml(0)
        if step in ("finish", "retract"):
            assert report is not None
            if report["state"] != "open":
                return _xml(5102 if report["state"] == "finished" else 5101)
            report["state"] = "finished" if step == "finish" else "retracted"
            files = "".join(f"<fileId>{f}</fileId>" for f in report["files"])
            return _xml(0, f"<reportId>{rid}</reportId><files>{files}</files>",
                        "reportDoneResponse" if step == "finish" else "reportResponse")
        return httpx.Response(404)


def _form(request: httpx.Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "")
    body = request.content
    if ctype.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qs

        return {k: v[0] for k, v in parse_qs(body.decode()).items()}
    if ctype.startswith("multipart/form-data"):
        boundary = ctype.split("boundary=")[1].encode()
        out: dict[str, Any] = {}
        for part in body.split(b"--" + boundary):
            if b"\r\n\r\n" not in part:
                continue
            head, _, data = part.partition(b"\r\n\r\n")
            name = re.search(rb'name="([^"]+)"', head)
            if name:
                value = data.removesuffix(b"\r\n")
                out[name.group(1).decode()] = value if b"filename=" in head else value.decode()
        return out
    return {}
