"""Media end to end: `veilleur hash`, `bank ...`, scanning against stored banks, looking back."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import numpy as np
from bench.imagegen import make_image
from PIL import Image, ImageOps

from tests.factories import attachment, export, message, write
from tests.integration.test_cli_scan import check_findings_document, veilleur
from veilleur.detect.media.pdq import pdq


def make_picture(seed: int) -> Image.Image:
    """A generated picture PDQ can match (quality >= 60: flat ones are unmatchable)."""
    while True:
        im = make_image(seed)
        if pdq(np.asarray(im)).quality >= 60:
            return im
        seed += 1000


def jpeg(im: Image.Image, path: Path, quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "JPEG", quality=quality)
    return path


def media_export(folder: Path, files: dict[str, Path], name: str = "srv - pics [7].json"
                 ) -> Path:
    """An export whose messages each carry one local file (as `--media` writes them)."""
    msgs = []
    for i, (att_id, path) in enumerate(files.items()):
        rel = path.relative_to(folder)
        msgs.append(message("regarde", id=f"70{i}", attachments=[
            attachment(str(rel).replace("/", "\\"), id=att_id, name=path.name)]))
    return write(folder / name, export(msgs, guild_name="Pics", channel_id="7"))


def findings(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(
            "select target_kind, target_id, category from findings").fetchall())


def test_hash_command_follows_the_contract(tmp_path: Path) -> None:
    good = jpeg(make_picture(1), tmp_path / "a.jpg")
    bad = tmp_path / "b.jpg"
    bad.write_bytes(good.read_bytes()[:500])
    result = veilleur("hash", good, bad, tmp_path / "missing.png", "--json", "-")
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert [d["file"] for d in doc] == [str(good), str(bad), str(tmp_path / "missing.png")]
    for d in doc:
        assert set(d) == {"file", "md5", "sha256", "pdq", "pdq_quality", "error"}
    assert doc[0]["error"] is None and len(doc[0]["pdq"]) == 64 and doc[0]["pdq_quality"] >= 50
    assert doc[0]["pdq"] == pdq(np.asarray(Image.open(good).convert("RGB"))).hex
    assert "truncated" in doc[1]["error"] and doc[1]["md5"] is not None
    assert "No such file" in doc[2]["error"] and doc[2]["md5"] is None
    assert "b.jpg" in result.stderr and "Traceback" not in result.stderr


def test_bank_lifecycle_and_matching_transformed_copies(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    originals = [make_picture(s) for s in (20, 21, 22)]
    bank = tmp_path / "list.csv"
    bank.write_text("signal_type,signal,category,note\n" + "".join(
        f"pdq,{pdq(np.asarray(im)).hex},csam,case {i}\n" for i, im in enumerate(originals)))
    result = veilleur("bank", "import", bank, "--name", "hotline", "--db", db)
    assert result.returncode == 0, result.stderr
    assert "3 imported (new)" in result.stdout and "0 past items matched" in result.stdout

    folder = tmp_path / "exports"
    files = {
        "9001": jpeg(ImageOps.mirror(originals[0]), folder / "pics_Files" / "m.jpg"),
        "9002": jpeg(originals[1].resize((originals[1].width // 2, originals[1].height // 2)),
                     folder / "pics_Files" / "half.jpg", quality=40),
        "9003": jpeg(ImageOps.expand(originals[2], border=50, fill=(0, 0, 0)),
                     folder / "pics_Files" / "framed.jpg"),
        "9004": jpeg(make_picture(23), folder / "pics_Files" / "other.jpg"),
    }
    media_export(folder, files)
    result = veilleur("scan", folder, "--db", db, "--json", "-", "--quiet")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    check_findings_document(doc)
    hits = {f["target"]["id"]: f for f in doc["findings"] if f["target"]["kind"] == "attachment"}
    assert set(hits) == {"9001", "9002", "9003"}
    assert all(f["category"] == "csam" and f["detectors"] == ["media.hash"]
               for f in hits.values())
    assert "bank 'hotline'" in hits["9001"]["evidence"] and "case 0" in hits["9001"]["evidence"]
    assert "mirrored back" in hits["9001"]["evidence"]
    assert "border trimmed" in hits["9003"]["evidence"]
    assert hits["9001"]["context"]["message_id"] == "700"

    listing = veilleur("bank", "list", "--db", db)
    assert listing.returncode == 0 and "Hash banks" in listing.stdout
    (info,) = json.loads(veilleur("bank", "list", "--db", db, "--json").stdout)
    assert (info["name"], info["kind"], info["source"], info["entries"]) == (
        "hotline", "deny", "csv", {"pdq": 3})
    stats = json.loads(veilleur("bank", "stats", "--db", db, "--json").stdout)
    assert stats["entries"]["pdq"] == 3 and stats["pdq_index"]["enabled"] == 3
    assert stats["matches"] == {"scan": 3}

    # disabling one entry stops it matching; the whole bank too; both reversible
    entry = pdq(np.asarray(originals[0])).hex
    assert veilleur("bank", "disable", "hotline", "--entry", entry, "--db", db).returncode == 0
    again = json.loads(veilleur("scan", folder, "--db", db, "--json", "-", "--quiet").stdout)
    assert {f["target"]["id"] for f in again["findings"]
            if f["target"]["kind"] == "attachment"} == {"9002", "9003"}
    assert veilleur("bank", "disable", "hotline", "--db", db).returncode == 0
    off = json.loads(veilleur("scan", folder, "--db", db, "--json", "-", "--quiet").stdout)
    assert not [f for f in off["findings"] if f["target"]["kind"] == "attachment"]
    assert veilleur("bank", "disable", "hotline", "--enable", "--db", db).returncode == 0
    unknown = veilleur("bank", "disable", "nope", "--db", db)
    assert unknown.returncode == 1 and "no bank named 'nope'" in unknown.stderr


def test_new_bank_entries_find_old_media(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    folder = tmp_path / "exports"
    im = make_picture(30)
    files = {"8001": jpeg(im, folder / "old_Files" / "a.jpg"),
             "8002": jpeg(make_picture(31), folder / "old_Files" / "b.jpg")}
    media_export(folder, files)
    assert veilleur("scan", folder, "--db", db, "--quiet").returncode == 0
    assert findings(db) == []

    record = {"signalType": "pdq", "hashValue": pdq(np.asarray(ImageOps.mirror(im))).hex,
              "hashStatus": "Active"}
    stop = tmp_path / "stopncii.json"
    stop.write_text(json.dumps([record]))
    result = veilleur("bank", "import", stop, "--name", "stopncii", "--db", db)
    assert result.returncode == 0, result.stderr
    assert "1 past items matched" in result.stdout and "attachment 8001" in result.stdout
    assert findings(db) == [("attachment", "8001", "ncii")]
    # importing the same list again finds nothing new and duplicates nothing
    again = veilleur("bank", "import", stop, "--name", "stopncii", "--db", db)
    assert "0 imported (new)" in again.stdout and "0 past items matched" in again.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("select via, count(*) from media_matches group by via"
                            ).fetchall() == [("retroactive", 1)]

    # the source withdraws it: the entry is disabled and scans stop matching
    record["hashStatus"] = "Withdrawn"
    stop.write_text(json.dumps([record]))
    result = veilleur("bank", "import", stop, "--name", "stopncii", "--db", db)
    assert "1 disabled" in result.stdout
    doc = json.loads(veilleur("scan", folder, "--db", db, "--json", "-", "--quiet").stdout)
    assert not [f for f in doc["findings"] if f["target"]["kind"] == "attachment"]


def test_an_allow_bank_overriding_a_deny_list_needs_the_flag(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    meme = make_picture(40)
    h = pdq(np.asarray(meme)).hex
    deny = tmp_path / "deny.csv"
    deny.write_text(f"signal_type,signal,category\npdq,{h},csam\n")
    allow = tmp_path / "memes.csv"
    allow.write_text(f"signal_type,signal,category,note\npdq,{h},csam,a known meme\n")
    assert veilleur("bank", "import", deny, "--db", db).returncode == 0
    folder = tmp_path / "exports"
    media_export(folder, {"7001": jpeg(meme, folder / "m_Files" / "meme.jpg")})
    first = json.loads(veilleur("scan", folder, "--db", db, "--json", "-", "--quiet").stdout)
    assert [f["target"]["id"] for f in first["findings"]] == ["7001"]
    refused = veilleur("bank", "import", allow, "--allow", "--db", db)
    assert refused.returncode == 1 and "--override" in refused.stderr
    still = json.loads(veilleur("scan", folder, "--db", db, "--json", "-", "--quiet").stdout)
    assert [f["target"]["id"] for f in still["findings"]] == ["7001"]
    done = veilleur("bank", "import", allow, "--allow", "--override", "--actor", "lea",
                    "--db", db)
    assert done.returncode == 0, done.stderr
    assert "overrides: 1 allow entries silence 1 deny entries and categories csam" in (
        done.stdout)
    second = json.loads(veilleur("scan", folder, "--db", db, "--json", "-", "--quiet").stdout)
    assert second["findings"] == []
    wrong = veilleur("bank", "import", allow, "--name", "deny", "--allow", "--db", db)
    assert wrong.returncode == 1 and "is a deny-bank" in wrong.stderr
    with sqlite3.connect(db) as conn:
        audited = conn.execute("select kind, actor from audit_log where kind like 'bank.%' "
                               "and actor = 'cli:lea' order by seq").fetchall()
    assert audited == [("bank.created", "cli:lea"), ("bank.import", "cli:lea"),
                       ("bank.override", "cli:lea")]


def test_enrolled_pictures_match_cropped_copies(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    im = make_picture(50)
    original = jpeg(im, tmp_path / "confirmed" / "x.jpg")
    result = veilleur("bank", "add", original, "--name", "internal", "--category", "csam",
                      "--db", db)
    assert result.returncode == 0, result.stderr
    w, h = im.size
    cropped = im.crop((int(w * 0.07), int(h * 0.01), w - int(w * 0.01), h - int(h * 0.07)))
    folder = tmp_path / "exports"
    media_export(folder, {"6001": jpeg(cropped, folder / "c_Files" / "crop.jpg"),
                          "6002": jpeg(make_picture(51), folder / "c_Files" / "other.jpg")})
    doc = json.loads(veilleur("scan", folder, "--db", db, "--json", "-", "--quiet").stdout)
    (hit,) = [f for f in doc["findings"] if f["target"]["kind"] == "attachment"]
    assert hit["target"]["id"] == "6001" and "keypoints" in hit["evidence"]


def test_bank_file_loaded_on_the_fly_matches_pdq(tmp_path: Path) -> None:
    im = make_picture(60)
    bank = tmp_path / "adhoc.csv"
    bank.write_text(f"signal_type,signal,category\npdq,{pdq(np.asarray(im)).hex},ncii\n")
    folder = tmp_path / "exports"
    media_export(folder, {"5001": jpeg(im.rotate(90, expand=True), folder / "r_Files" / "r.jpg")})
    result = veilleur("scan", folder, "--bank", bank, "--db", tmp_path / "v.db", "--json", "-",
                      "--quiet")
    doc = json.loads(result.stdout)
    assert [(f["target"]["id"], f["category"]) for f in doc["findings"]] == [("5001", "ncii")]
    with sqlite3.connect(tmp_path / "v.db") as conn:  # nothing of the file bank was stored
        assert conn.execute("select count(*) from bank_entries").fetchone() == (0,)


def test_low_quality_pictures_are_never_pdq_matched(tmp_path: Path) -> None:
    flat = Image.new("RGB", (400, 300), (30, 60, 90))
    bank = tmp_path / "b.csv"
    bank.write_text(f"signal_type,signal,category\npdq,{pdq(np.asarray(flat)).hex},csam\n")
    folder = tmp_path / "exports"
    media_export(folder, {"3001": jpeg(flat, folder / "f_Files" / "flat.jpg")})
    doc = json.loads(veilleur("scan", folder, "--bank", bank, "--db", tmp_path / "v.db",
                              "--json", "-", "--quiet").stdout)
    assert doc["findings"] == []


def test_hostile_attachments_are_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    files = folder / "h_Files"
    files.mkdir(parents=True)
    buf = io.BytesIO()
    make_picture(70).save(buf, "JPEG")
    (files / "cut.jpg").write_bytes(buf.getvalue()[:800])
    (files / "notes.pdf").write_bytes(b"%PDF-1.4 not a picture")
    good = jpeg(make_picture(71), files / "ok.jpg")
    bank = tmp_path / "b.csv"
    bank.write_text(f"signal_type,signal,category\npdq,{pdq(np.asarray(make_picture(71))).hex},"
                    "csam\n")
    media_export(folder, {"4001": files / "cut.jpg", "4002": files / "notes.pdf",
                          "4003": good})
    result = veilleur("scan", folder, "--bank", bank, "--db", tmp_path / "v.db", "--json", "-",
                      "--quiet")
    assert result.returncode == 2
    assert "cut.jpg" in result.stderr and "truncated" in result.stderr
    assert "notes.pdf" not in result.stderr  # not a picture: nothing to decode, no error
    doc = json.loads(result.stdout)
    assert [f["target"]["id"] for f in doc["findings"]] == ["4003"]
