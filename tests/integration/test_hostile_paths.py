"""The hostile-export suite: every path trick, against every reader and writer of paths.

A secret file sits beside the export folder (standing in for the evidence key or
/proc/self/environ); each trick names it some way. None may be read, hashed, stored or
served; each is a clear problem line, and the message that carried it is kept.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from tests.factories import attachment, export, gradient_png, message, write
from tests.service.conftest import Service, open_service
from tests.service.conftest import message as event_message
from veilleur.audit import AuditLog
from veilleur.cli import app
from veilleur.enforce.evidence import EvidenceVault, key_for_database
from veilleur.events import PLATFORM_TYPES, Event, MessagePosted
from veilleur.ingest.discover import discover_inputs, read_input
from veilleur.ingest.media import MediaReader
from veilleur.ingest.problems import ProblemLog
from veilleur.store.casework import DatabaseSink
from veilleur.store.db import connect, database_url
from veilleur.taxonomy import Target

SECRET = b"MASTER-KEY-0123456789abcdef"
SECRET_SHA = hashlib.sha256(SECRET).hexdigest()
OUTSIDE_PNG = gradient_png(seed=7)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """tmp/secret.key and tmp/outside/x.png beside tmp/export/, which holds links out."""
    (tmp_path / "secret.key").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.png").write_bytes(OUTSIDE_PNG)
    exp = tmp_path / "export"
    (exp / "chan.json_Files").mkdir(parents=True)
    (exp / "chan.json_Files" / "ok.png").write_bytes(gradient_png(seed=1))
    (exp / "chan.json_Files" / "link.png").symlink_to(tmp_path / "secret.key")
    (exp / "chan.json_Files" / "rel-link.png").symlink_to(Path("..") / ".." / "secret.key")
    (exp / "linked_Files").symlink_to(tmp_path / "outside")  # a symlinked parent folder
    return tmp_path


def tricks(tmp: Path) -> dict[str, str]:
    secret = str(tmp / "secret.key")
    return {
        "up": "../secret.key",
        "up from media": "chan.json_Files/../../secret.key",
        "absolute": secret,
        "backslashes": "..\\secret.key",
        "percent": "%2e%2e/secret.key",
        "percent slash": "chan.json_Files%2F..%2F..%2Fsecret.key",
        "double percent": "%252e%252e%252fsecret.key",
        "percent absolute": quote(secret, safe=""),
        "link in media": "chan.json_Files/link.png",
        "relative link": "chan.json_Files\\rel-link.png",
        "linked folder": "linked_Files/x.png",
        "nul": "chan.json_Files/ok.png\x00/../../../secret.key",
        "drive": "C:\\Users\\x\\secret.key",
        "drive relative": "C:secret.key",
        "unc": "\\\\server\\share\\secret.key",
        "long": "chan.json_Files/" + "a/" * 2500 + "ok.png",
        "long name": "chan.json_Files/" + "n" * 400 + ".png",
    }


def _refusal(problem: str) -> bool:
    return any(w in problem for w in ("leaves the export folder", "NUL byte", "long"))


def _check_kept_and_unread(events: list[Event], problems: ProblemLog, names: list[str],
                           source: Path) -> None:
    posted = [e for e in events if isinstance(e, MessagePosted)]
    assert len(posted) == 1, "the message carrying the paths is kept"
    atts = posted[0].message.attachments
    assert [a.id for a in atts] == ["ok", *names]
    assert atts[0].sha256 == hashlib.sha256(gradient_png(seed=1)).hexdigest()
    for att in atts[1:]:
        assert att.sha256 is None and att.path is None and att.media is None, att.id
        assert att.media_error is not None and _refusal(att.media_error), att.media_error
    lines = [str(p) for p in problems]
    assert len(lines) == len(names), lines
    for name, line in zip(names, lines, strict=True):
        assert line.startswith(str(source)) and f"attachment {name})" in line, line
        assert "attachment path '" in line or "attachment path is" in line, line


def _read(path: Path) -> tuple[list[Event], ProblemLog]:
    problems, media, events = ProblemLog(), MediaReader(), []
    for item in discover_inputs([path], problems):
        events.extend(read_input(item, problems, media))
    return events, problems


def test_scan_of_a_dce_export_reads_nothing_outside_its_folder(layout: Path) -> None:
    refs = tricks(layout)
    doc = export([message("look", id="77", attachments=[
        attachment("chan.json_Files/ok.png", id="ok"),
        *(attachment(ref, id=name) for name, ref in refs.items())])])
    source = write(layout / "export" / "chan.json", doc)
    events, problems = _read(source)
    _check_kept_and_unread(events, problems, list(refs), source)


def test_scan_of_an_event_log_reads_nothing_outside_its_folder(layout: Path) -> None:
    refs = tricks(layout)
    line = {"type": "message", "ts": "2026-11-20T10:00:00Z", "message": {
        "id": "m", "channel_id": "c", "guild_id": "g", "author_id": "u", "content": "hi",
        "attachments": [{"id": "ok", "path": "chan.json_Files/ok.png"},
                        *({"id": n, "path": r} for n, r in refs.items())]}}
    source = layout / "export" / "log.jsonl"
    source.write_text(json.dumps(line) + "\n", encoding="utf-8")
    events, problems = _read(source)
    _check_kept_and_unread(events, problems, list(refs), source)


def test_veilleur_scan_names_each_refused_path_and_stores_none(layout: Path) -> None:
    db = layout / "scan.db"
    doc = export([message("look", id="77", attachments=[
        attachment("%2e%2e/secret.key", id="a1"),
        attachment("chan.json_Files/link.png", id="a2")])])
    source = write(layout / "export" / "chan.json", doc)
    r = subprocess.run([sys.executable, "-m", "veilleur", "scan", str(layout / "export"),
                        "--db", str(db)],
                       capture_output=True, text=True, timeout=300, cwd=layout)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [
        f"error: {source} (message 77, attachment a1): attachment path '%2e%2e/secret.key' "
        "leaves the export folder (once percent-decoded)",
        f"error: {source} (message 77, attachment a2): attachment path "
        "'chan.json_Files/link.png' leaves the export folder (through a link)"], r.stderr
    assert "Traceback" not in r.stderr
    assert SECRET not in db.read_bytes() and SECRET_SHA.encode() not in db.read_bytes()


# --- the service ----------------------------------------------------------------------------


def _service_tricks(tmp: Path) -> dict[str, str]:
    """The same tricks, with the media root as the folder (tmp/export)."""
    return {n: r.replace("chan.json_Files", "media") for n, r in tricks(tmp).items()}


def test_the_api_refuses_every_trick_and_take_in_reads_none(layout: Path) -> None:
    (layout / "export" / "chan.json_Files").rename(layout / "export" / "media")
    from veilleur.service.runtime import Runtime, ServiceSettings

    rt = Runtime(ServiceSettings(db=str(layout / "v.db"), evidence_key=layout / "ev.key",
                                 media_root=layout / "export"))
    try:
        refs = _service_tricks(layout)
        for name, ref in refs.items():
            raw = event_message(f"m-{name}", "hi", attachments=[{"id": name, "path": ref}])
            out = rt.accept([raw], "api:test", kinds=PLATFORM_TYPES)
            assert not out.accepted and len(out.rejected) == 1, (name, out.to_json())
            error = out.rejected[0]["error"]
            assert error.startswith(f"attachment {name}: ") and (
                "leaves the media folder" in error or "NUL" in error or "long" in error), error
            # Rows already in the inbox (accepted by an older version) are confined too.
            event = rt.parse(raw, "inbox", rt._reader)
            assert isinstance(event, MessagePosted)
            (att,) = event.message.attachments
            assert att.sha256 is None and att.path is None and att.media_error, name
        ok = event_message("m-ok", "hi", attachments=[{"id": "ok", "path": "media/ok.png"}])
        event = rt.parse(ok, "inbox", rt._reader)
        assert isinstance(event, MessagePosted) and event.message.attachments[0].sha256
    finally:
        rt.stop()


def test_without_a_media_root_the_service_reads_no_local_file(layout: Path) -> None:
    from veilleur.service.runtime import Runtime, ServiceSettings

    rt = Runtime(ServiceSettings(db=str(layout / "v.db"), evidence_key=layout / "ev.key"))
    rt.start()
    try:
        plain = str(layout / "export" / "chan.json_Files" / "ok.png")  # no trick at all
        refs = {"plain": plain, "secret": str(layout / "secret.key"), "rel": "ok.png",
                "proc": "%2Fproc%2Fself%2Fenviron"}
        raws = [event_message(f"m-{n}", "hi", attachments=[{"id": n, "path": r}])
                for n, r in refs.items()]
        out = rt.accept(raws, "api:test", kinds=PLATFORM_TYPES)
        assert len(out.accepted) == len(refs)
        assert all("no media folder" in item["warnings"][0] for item in out.accepted)
        assert rt.wait_idle(300)
        with rt.lock:
            for name in refs:
                stored = rt.casework.content.attachment(name)
                assert stored is not None and stored.sha256 is None and stored.path is None
    finally:
        rt.stop()


def test_the_console_serves_only_the_bytes_recorded_for_that_media(layout: Path) -> None:
    from tests.service.test_console import _media_case

    media = layout / "media"
    for s in _open_plain(layout):
        case_id = _media_case(s, layout)  # pic1 -> media/p.png, hashed when taken in
        csrf = s.login("sam")
        r = s.client.post(f"/console/cases/{case_id}/media/pic1/reveal", data={"csrf": csrf})
        assert r.status_code == 200
        clear = s.client.get(f"/console/cases/{case_id}/media/pic1?clear=1")
        assert clear.status_code == 200 and "x-veilleur-refused" not in clear.headers
        # A picture is not a video: never served as one, whatever the route is asked.
        assert s.client.get(f"/console/cases/{case_id}/media/pic1/video").status_code == 404
        # The file at the recorded path is swapped (a link out, other bytes): what is shown
        # is still the recorded picture (from the preserved evidence), never the new bytes.
        for swap in ("link", "bytes"):
            (media / "p.png").unlink()
            if swap == "link":
                (media / "p.png").symlink_to(layout / "secret.key")
            else:
                (media / "p.png").write_bytes(SECRET)
            again = s.client.get(f"/console/cases/{case_id}/media/pic1?clear=1")
            assert again.status_code == 200 and again.content == clear.content, swap


def test_file_bytes_returns_only_bytes_with_the_recorded_digest(layout: Path) -> None:
    from veilleur.cases.content import AttachmentRecord
    from veilleur.service.media import file_bytes

    secret = layout / "secret.key"
    picture = gradient_png(seed=1)
    preserved: dict[str, Any] = {"attachments": [
        {"id": "a", "sha256": hashlib.sha256(picture).hexdigest(),
         "bytes_b64": base64.b64encode(SECRET).decode()}]}  # bytes not those recorded

    class Vault:
        by_target: ClassVar[dict[Target, list[str]]] = {Target.of("message", "m"): ["ev-1"]}

        def open(self, record_id: str, **_: Any) -> dict[str, Any]:
            return preserved

    def casework(sha256: str | None) -> Any:
        record = AttachmentRecord("a", "m", "a.png", str(secret), len(SECRET), None, sha256,
                                  None)
        content = type("C", (), {"attachment": lambda self, aid: record})()
        return type("W", (), {"content": content, "vault": Vault()})()

    now = datetime.now(UTC)
    for recorded in (hashlib.sha256(picture).hexdigest(), None):
        assert file_bytes(casework(recorded), "a", viewer="sam", now=now) is None
    assert file_bytes(casework(SECRET_SHA), "a", viewer="sam", now=now) == SECRET
    preserved["attachments"][0]["bytes_b64"] = base64.b64encode(picture).decode()
    secret.unlink()
    assert file_bytes(casework(hashlib.sha256(picture).hexdigest()), "a", viewer="sam",
                      now=now) == picture


def _open_plain(layout: Path) -> Iterator[Service]:
    (layout / "media").mkdir()
    yield from open_service(str(layout / "v.db"), layout)


# --- evidence show --export-media -----------------------------------------------------------


def test_export_media_writes_only_inside_its_folder(tmp_path: Path) -> None:
    url = database_url(str(tmp_path / "e.db"))
    db = connect(url)
    sink = DatabaseSink(db)
    ids = iter(range(1, 100))
    vault = EvidenceVault(key_for_database(url, tmp_path / "e.key"), AuditLog(),
                          new_id=lambda kind: f"{kind}-{next(ids)}", sink=sink.evidence)
    data = gradient_png(seed=4)
    hostile = ["../../escaped", "/tmp/abs", "..\\..\\win", "a\x00b", "%2e%2e%2fenc"]
    doc = {"attachments": [
        {"id": aid, "filename": "../../../x.png", "sha256": hashlib.sha256(data).hexdigest(),
         "bytes_b64": base64.b64encode(data).decode()} for aid in hostile]}
    rec = vault.preserve("case-1", Target.of("message", "m1"), doc, datetime.now(UTC))
    sink.flush()
    db.dispose()
    out = tmp_path / "deep" / "out"
    r = CliRunner().invoke(app, ["evidence", "show", rec.id, "--db", str(tmp_path / "e.db"),
                                 "--evidence-key", str(tmp_path / "e.key"), "--actor", "legal",
                                 "--purpose", "court", "--export-media", str(out)])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    written = [Path(a["exported_to"]) for a in shown["attachments"]]
    assert len(set(written)) == len(hostile)
    assert all(p.parent == out.resolve() and p.read_bytes() == data for p in written)
    everything = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert [p for p in everything if not p.startswith(("deep", "e."))] == [], everything
