"""media-hashes and the retroactive replay without a broker: what the detect stage writes of
each attachment, what a retro run reads back (hostile messages skipped with a reason), and
that its findings are the embedded engine's and go into casework once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.bus.pictures import HASHED, NEW_MATCHES, traffic, write_banks, write_pictures
from tests.bus.pictures import posted as posted_message
from veilleur.bus import media, retro, topics, wire
from veilleur.bus.detect import DetectStage, is_dead
from veilleur.bus.sink import SinkStage
from veilleur.deployment import Mode, Settings
from veilleur.detect.media.pdq import distance
from veilleur.store.casework import snapshot
from veilleur.store.db import connect
from veilleur.taxonomy import TargetKind


@pytest.fixture(scope="module")
def posted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The pictures, the bank files, and what a detect stage with the old bank answered."""
    folder = tmp_path_factory.mktemp("media")
    pictures = write_pictures(folder)
    new, old = write_banks(tmp_path_factory.mktemp("banks"), pictures)
    # Memory in this process: `StreamingDataFrame.test` runs no checkpoint for a state store.
    stage = DetectStage(Settings(mode=Mode.DETECT, bank_files=(old,)), worker="t",
                        media_root=folder, memory=False)
    answers = [a for e in traffic() for a in stage.answer(json.dumps(e))]
    return {"folder": folder, "pictures": pictures, "new": new, "old": old,
            "answers": answers, "stage": stage}


def sightings_of(answers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["key"]: media.unwrap(a) for a in answers if media.is_sighting(a)}


def test_each_hashed_attachment_is_a_sighting(posted: dict[str, Any]) -> None:
    answers = posted["answers"]
    assert not any(is_dead(a) for a in answers)
    seen = sightings_of(answers)
    # A remote reference is never fetched (no hash); a message without files has none.
    assert set(seen) == HASHED
    a7 = seen["a7"]
    assert (a7["message_id"], a7["channel_id"], a7["guild_id"], a7["author_id"]) == \
        ("m4", "dm1", None, "u4")
    assert a7["event_id"] == "id:ev-m4" and a7["ts"] == "2026-03-01T12:00:00+00:00"
    # Same picture, same hashes, whatever the attachment: p1 was posted as a1 and a7.
    for k in ("md5", "sha256", "pdq", "lookups"):
        assert seen["a1"][k] == a7[k]
    assert len(a7["sha256"]) == 64 and len(a7["md5"]) == 32 and a7["pdq_quality"] >= 50
    assert len(a7["lookups"]) >= 10 and a7["lookups"][0] == a7["pdq"]
    # Read back as it was written.
    back = media.read_sighting(json.dumps(a7))
    assert back.hashes.sha256 == a7["sha256"] and back.hashes.matchable
    assert [c.hex() for c in back.hashes.lookups] == a7["lookups"]
    assert back.place == "dm:dm1" and back.message.content == ""
    # The old bank's match was found when it was posted (the detect stage's own finding).
    found = {f["target"]["id"] for a in answers if "findings" in a for f in a["findings"]
             if f["target"]["kind"] == "attachment"}
    assert found == {"a5"}


def test_the_stream_has_a_media_hashes_branch(posted: dict[str, Any], broker: Any,
                                              prefix: str) -> None:
    """The detect dataframe sends sightings to media-hashes keyed by attachment, and only
    there (the broker only answers the topics' metadata)."""
    from quixstreams import Application
    from quixstreams.models import MessageContext

    from veilleur.bus.config import BusConfig
    from veilleur.bus.detect import dataframe

    config = BusConfig(broker=broker.address, group=f"{prefix}df", prefix=prefix,
                       partitions=2)
    app = Application(broker_address=broker.address, consumer_group=config.group,
                      loglevel="WARNING")
    sdf = dataframe(app, config, posted["stage"])
    event = posted_message("m9", "g2", "c2", "u9", ["a9:p5.png", "a10:p6.png"])
    out = sdf.test(json.dumps(event).encode(), key=b"guild:g2",
                   ctx=MessageContext(prefix + topics.EVENTS, 0, 1, 0))
    values = [value for value, *_ in out]
    # p5 is in the old bank: one findings message, and the two sightings unwrapped.
    assert sorted(v.get("attachment_id", "findings") for v in values) == \
        ["a10", "a9", "findings"]
    assert all("sighting" not in v for v in values)


def test_a_retro_run_matches_only_the_new_entries(posted: dict[str, Any]) -> None:
    banks, problems = retro.load_entries([posted["new"]])
    assert problems == []
    matcher = retro.RetroMatcher(banks)
    summary = retro.Summary("t", "g")
    out = {key: retro.take(matcher, summary, json.dumps(value).encode(), key, "retro:t")
           for key, value in sightings_of(posted["answers"]).items()}
    hits = {k for k, v in out.items() if v is not None}
    assert hits == NEW_MATCHES  # not a2 (PDQ 90 bits away), not a5 (old bank), not a6
    assert (summary.checked, summary.matched_media, summary.bad) == (7, 4, 0)
    how = {}
    for att, message in out.items():
        if message is None:
            continue
        [finding] = message["findings"]
        assert finding["target"] == {"kind": "attachment", "id": att}
        assert finding["category"] == "csam" and finding["detectors"] == ["media.hash"]
        how[att] = (finding["context"]["match"], int(finding["context"]["distance"]))
    assert how["a3"] == ("sha256", 0) and how["a4"] == ("md5", 0)
    assert how["a1"][0] == how["a7"][0] == "pdq" and 0 < how["a1"][1] <= 31
    # PDQ within the radius: what the entry is from the picture's own hash.
    entry = banks[0].entries[0].signal
    assert distance(bytes.fromhex(entry), bytes.fromhex(
        sightings_of(posted["answers"])["a1"]["pdq"])) == how["a1"][1]
    # Keyed by the place it was posted, with where it lives for casework.
    assert out["a7"] is not None and out["a7"]["key"] == "dm:dm1"
    assert out["a1"] is not None and out["a1"]["key"] == "guild:g1"
    assert out["a1"]["event_id"] == "id:ev-m1"
    assert out["a1"]["event"]["message"]["content"] == ""


def test_retro_findings_are_the_engines_own(posted: dict[str, Any]) -> None:
    """One matcher: a detect stage that had the new entries when the pictures were posted
    makes the very findings the replay makes later."""
    had_them = DetectStage(Settings(mode=Mode.DETECT, bank_files=(posted["new"],)),
                           worker="t", media_root=posted["folder"])
    live = {f["target"]["id"]: f for e in traffic() for a in had_them.answer(json.dumps(e))
            if "findings" in a for f in a["findings"] if f["target"]["kind"] == "attachment"}
    banks, _ = retro.load_entries([posted["new"]])
    matcher = retro.RetroMatcher(banks)
    summary = retro.Summary("t", "g")
    later = {}
    for key, value in sightings_of(posted["answers"]).items():
        message = retro.take(matcher, summary, json.dumps(value), key, "retro:t")
        for f in message["findings"] if message else ():
            later[f["target"]["id"]] = f
    assert set(live) == set(later) == NEW_MATCHES
    for att in NEW_MATCHES:
        a, b = live[att], later[att]
        # The bank's name comes from its file (the same file here); the evidence names it.
        assert {k: a[k] for k in ("key", "category", "score", "detectors", "context",
                                  "evidence", "signal_keys")} == \
            {k: b[k] for k in ("key", "category", "score", "detectors", "context",
                               "evidence", "signal_keys")}


def _good(posted: dict[str, Any]) -> dict[str, Any]:
    return sightings_of(posted["answers"])["a3"]


BAD: list[tuple[Any, str]] = [
    (b"\xff\xfe", "not valid JSON"),
    (b"[" * 100_000, "not valid JSON"),
    (b"[1, 2]", "not a JSON object"),
    ({"v": 2}, "version 2"),
    ({"attachment_id": ""}, "attachment_id"),
    ({"attachment_id": "x" * 500}, "attachment_id"),
    ({"guild_id": 7}, "guild_id"),
    ({"ts": "yesterday"}, "ts 'yesterday'"),
    ({"ts": "2026-03-01T12:00:00"}, "no time zone"),
    ({"sha256": "zz" * 32}, "sha256"),
    ({"md5": "ab"}, "md5"),
    ({"pdq_quality": 300}, "pdq_quality"),
    ({"lookups": ["00" * 31]}, "lookups[0]"),
    ({"lookups": ["00" * 32] * 5000}, "at most 4096"),
    ({"lookups": "abc"}, "lookups must be a list"),
    ({"lookup_labels": [{"x": 1}]}, "lookup_labels"),
    ({"kind": "<script>"}, "kind"),
    ({"md5": None, "sha256": None, "pdq": None, "lookups": []}, "no hash"),
]


def test_hostile_messages_are_skipped_with_a_reason(posted: dict[str, Any]) -> None:
    banks, _ = retro.load_entries([posted["new"]])
    matcher = retro.RetroMatcher(banks)
    summary = retro.Summary("t", "g")
    good = _good(posted)
    for i, (change, reason) in enumerate(BAD):
        value = change if isinstance(change, bytes) else json.dumps({**good, **change})
        assert retro.take(matcher, summary, value, f"mh[0]@{i}", "retro:t") is None
        with pytest.raises(media.SightingError, match=reason.replace("[", r"\[")):
            media.read_sighting(value)
    assert retro.take(matcher, summary, None, "mh[0]@99", "retro:t") is None  # deleted key
    # The run goes on: the next good message still matches.
    assert retro.take(matcher, summary, json.dumps(good), "mh[0]@100", "retro:t")
    assert (summary.read, summary.bad, summary.deleted, summary.checked) == \
        (len(BAD) + 2, len(BAD), 1, 1)
    assert sum(summary.bad_reasons.values()) == len(BAD)
    assert any(r.startswith("version 2 is not") for r in summary.bad_reasons)


def test_the_reasons_kept_are_bounded() -> None:
    summary = retro.Summary("t", "g")
    for i in range(retro.MAX_REASONS + 30):
        summary.bad_message(f"reason {i}", "x")
    assert len(summary.bad_reasons) == retro.MAX_REASONS + 1
    assert summary.bad_reasons["(other reasons)"] == 30


def test_entry_files_that_are_no_bank_stop_the_run(tmp_path: Path) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_text("hello,world\n1,2\n")
    with pytest.raises(retro.RetroError, match=r"cannot read the new entries.*junk\.csv"):
        retro.load_entries([junk])
    with pytest.raises(retro.RetroError, match="cannot read the new entries"):
        retro.load_entries([tmp_path / "missing.csv"])
    partly = tmp_path / "partly.csv"
    partly.write_text("signal_type,signal,category\nsha256,nothex,csam\n"
                      f"md5,{'a' * 32},csam\n")
    banks, problems = retro.load_entries([partly])
    assert sum(len(b.entries) for b in banks) == 1 and problems  # the bad row is said


def test_the_sink_takes_retro_findings_once(posted: dict[str, Any], tmp_path: Path) -> None:
    """Twice the same replay (a run resumed, or run again): one intake per attachment, and
    casework knows where each attachment was posted."""
    banks, _ = retro.load_entries([posted["new"]])
    matcher = retro.RetroMatcher(banks)
    messages = [m for key, value in sightings_of(posted["answers"]).items()
                if (m := retro.take(matcher, retro.Summary("t", "g"), json.dumps(value), key,
                                    "retro:t")) is not None]
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    sink = SinkStage(url, evidence_key=tmp_path / "evidence.key",
                     clock=lambda: datetime(2026, 3, 2, tzinfo=UTC))
    try:
        for m in messages + messages:
            sink.take(json.loads(json.dumps(m)), "findings[0]")
        sink.checkpoint()
        content = sink.casework.content
        places = {a: content.guild_of(t) for a, t in (
            (f["target"]["id"], wire.finding_from_json(f).target)
            for m in messages for f in m["findings"])}
        assert places == {"a1": "g1", "a3": "g1", "a4": "g2", "a7": None}
        assert content.attachment("a7") is not None
    finally:
        sink.close()
    engine = connect(url)
    try:
        intakes = snapshot(engine).intakes
    finally:
        engine.dispose()
    atts = sorted(i.target.id for i in intakes if i.target.kind is TargetKind.ATTACHMENT)
    assert atts == sorted(NEW_MATCHES)


def test_a_worker_keeps_the_hashes_of_few_files(posted: dict[str, Any]) -> None:
    """A detect worker never ends: its reader forgets the oldest files' hashes past its
    limit (a scan keeps every file of its run)."""
    from veilleur.ingest.media import MediaReader

    reader = MediaReader(read_local=True, cache_limit=2)
    folder = posted["folder"]
    first = [reader.attachment(id=f"x{s}", ref=f"p{s}.png", base_dir=folder).sha256
             for s in (1, 2, 3, 1)]
    assert len(reader._cache) == 2 and first[0] == first[3] and reader.decoded == 4
    unbounded = MediaReader(read_local=True)
    for s in (1, 2, 3, 1):
        unbounded.attachment(id=f"x{s}", ref=f"p{s}.png", base_dir=folder)
    assert len(unbounded._cache) == 3 and unbounded.decoded == 3


def test_many_lookups_are_searched_in_parts(posted: dict[str, Any],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's lookups are searched a bounded number at a time; the matches are those of
    one search."""
    monkeypatch.setattr(retro, "MAX_QUERIES", 15)  # a part: one or two pictures' lookups
    banks, _ = retro.load_entries([posted["new"]])
    matcher = retro.RetroMatcher(banks)
    seen = sightings_of(posted["answers"])
    summary = retro.Summary("t", "g")
    answers = retro.take_batch(matcher, summary, [(json.dumps(v), k) for k, v in seen.items()],
                               "retro:t")
    assert {k for k, a in zip(seen, answers, strict=True) if a is not None} == NEW_MATCHES
    assert summary.checked == len(seen)
