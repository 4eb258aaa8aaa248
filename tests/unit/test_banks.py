from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from veilleur.detect.media.banks import load_bank_file
from veilleur.detect.media.detector import HashMatchDetector
from veilleur.detect.media.hashing import MediaHashes
from veilleur.detect.media.matcher import matcher_from_banks
from veilleur.events import Attachment, Message, MessagePosted
from veilleur.ingest.problems import ProblemLog
from veilleur.state import Directory, MemoryState
from veilleur.taxonomy import Category, TargetKind

SHA = hashlib.sha256(b"listed").hexdigest()
MD5 = hashlib.md5(b"other").hexdigest()


def bank_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bank.csv"
    path.write_text(body)
    return path


def test_load_valid_rows_and_report_bad_ones(tmp_path: Path) -> None:
    problems = ProblemLog()
    bank = load_bank_file(bank_file(tmp_path, (
        "signal_type,signal,category,source,note\n"
        f"sha256,{SHA},csam,test,listed\n"
        f"MD5,{MD5.upper()},ncii,,\n"
        f"pdq,{'f' * 64},csam,test,\n"
        "sha1,abc,csam,,\n"
        "md5,xyz,csam,,\n"
        f"sha256,{SHA},spam,,\n"
    )), problems)
    assert bank is not None and bank.name == "bank"
    assert [(e.signal_type, e.category) for e in bank.entries] == [
        ("sha256", Category.CSAM), ("md5", Category.NCII), ("pdq", Category.CSAM)]
    assert bank.entries[0].metadata == {"source": "test"}
    assert bank.entries[0].note == "listed"
    assert bank.entries[1].signal == MD5  # normalised to lowercase
    text = [str(p) for p in problems]
    assert len(text) == 3
    assert "line 5" in text[0] and "unknown signal type 'sha1'" in text[0]
    assert "line 6" in text[1] and "md5 signal must be 32 hex characters" in text[1]
    assert "line 7" in text[2] and "unknown category 'spam'" in text[2]


def test_missing_columns_is_fatal(tmp_path: Path) -> None:
    problems = ProblemLog()
    assert load_bank_file(bank_file(tmp_path, "hash,cat\nabc,csam\n"), problems) is None
    (p,) = list(problems)
    assert p.fatal and "missing column(s) signal_type, signal, category" in p.problem


def test_detector_matches_sha256_and_md5(tmp_path: Path) -> None:
    bank = load_bank_file(bank_file(tmp_path, (
        f"signal_type,signal,category\nsha256,{SHA},csam\nmd5,{MD5},ncii\n")), ProblemLog())
    assert bank is not None
    detector = HashMatchDetector(matcher_from_banks([bank]))
    msg = Message(id="m", channel_id="c", guild_id="g", author_id="u", content="", attachments=(
        Attachment(id="a1", media=MediaHashes("a1", sha256=SHA, md5="0" * 32)),
        Attachment(id="a2", media=MediaHashes("a2", md5=MD5)),
        Attachment(id="a3", url="https://example.org/x.png"),
    ))
    event = MessagePosted(ts=datetime(2026, 1, 1, tzinfo=UTC), message=msg)
    signals = list(detector.detect(event, Directory(MemoryState())))
    assert [(s.target.kind, s.target.id, s.category) for s in signals] == [
        (TargetKind.ATTACHMENT, "a1", Category.CSAM), (TargetKind.ATTACHMENT, "a2", Category.NCII)]
    assert signals[0].strength == 1.0 and signals[0].context["message_id"] == "m"
    assert "bank 'bank'" in signals[0].evidence
