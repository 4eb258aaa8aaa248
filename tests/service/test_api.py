"""The HTTP API against SQLite and a real PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import gradient_png
from tests.service.conftest import Service, message, open_service, server_events
from veilleur.detect.media.banks import BankEntry, ParsedBank
from veilleur.service.app import create_app
from veilleur.service.auth import create_key, revoke_key
from veilleur.service.runtime import Runtime, ServiceSettings
from veilleur.store.banks import BankStore
from veilleur.store.db import connect
from veilleur.store.models import AuditRow, DocumentRow, InboxRow, MessageRow
from veilleur.taxonomy import Category


def test_a_batch_is_journaled_once_and_bad_events_are_named(any_service: Service) -> None:
    events = [*server_events(), {"type": "message", "ts": "2026-11-20T10:02:00Z"},
              message("m-ok", "hello", ts="not a time")]
    r = any_service.post("/v1/events", {"events": events})
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 4 and body["duplicates"] == 0
    assert [x["index"] for x in body["rejected"]] == [4, 5]
    assert body["rejected"][0]["error"] == "missing 'message'"
    assert "'ts'" in body["rejected"][1]["error"] and "not a time" in body["rejected"][1][
        "error"]
    again = any_service.post("/v1/events", {"events": events[:4]}).json()
    assert again["accepted"] == 0 and again["duplicates"] == 4
    # The platform's own ids make a resend idempotent even when the content changed.
    first = message("m-id", "first") | {"event_id": "evt-1"}
    second = message("m-id", "edited") | {"event_id": "evt-1"}
    assert any_service.post("/v1/events", {"events": [first]}).json()["accepted"] == 1
    assert any_service.post("/v1/events", {"events": [second]}).json()["duplicates"] == 1
    any_service.drain()
    rt = any_service.rt
    with rt.db.connect() as conn:
        stored = set(conn.execute(select(MessageRow.id)).scalars())
    with rt.inbox.db.connect() as conn:
        pending = conn.execute(select(func.count()).select_from(InboxRow)
                               .where(InboxRow.done_at.is_(None))).scalar_one()
    assert {"g1-m1", "m-id"} <= stored and pending == 0
    with rt.lock:
        cases = [c for c in rt.casework.cases.values() if c.merged_into is None]
    assert cases and cases[0].category is Category.CSAM


def test_bad_bodies_get_clear_errors(service: Service) -> None:
    r = service.client.post("/v1/events", content=b"{not json", headers=service.headers)
    assert r.status_code == 400 and "not JSON" in r.json()["detail"]
    r = service.post("/v1/events", [1, 2])
    assert r.status_code == 422 and "events" in r.json()["detail"]
    r = service.post("/v1/events", {"events": [message("m", "x")] * 5001})
    assert r.status_code == 413 and "at most 5,000" in r.json()["detail"]
    outside = message("m-x", "look", attachments=[{"id": "a1", "path": "../../etc/passwd"}])
    r = service.post("/v1/events", {"events": [outside]}).json()
    assert r["rejected"][0]["error"] == "attachment a1: path '../../etc/passwd' leaves the " \
                                        "media folder"
    r = service.post("/v1/verdict", outside)
    assert r.status_code == 422 and "leaves the media folder" in r.json()["detail"]


def test_a_full_backlog_is_refused_whole_with_retry_after(tmp_path: Path) -> None:
    rt = Runtime(ServiceSettings(db=str(tmp_path / "v.db"), max_backlog=10))
    _, secret = create_key(rt.db, "p", ["events"], datetime.now(UTC))
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(runtime=rt, start=False)) as client:  # the engine is stopped
        batch = [message(f"m{i}", "hi") for i in range(8)]
        assert client.post("/v1/events", json={"events": batch}, headers=headers
                           ).json()["accepted"] == 8
        more = [message(f"n{i}", "hi") for i in range(3)]
        r = client.post("/v1/events", json={"events": more}, headers=headers)
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert "8 events waiting" in r.json()["detail"]
        assert rt.inbox.counts() == {"accepted": 8, "pending": 8}
    rt.db.dispose()


def test_verdicts_allow_hold_and_block(any_service: Service) -> None:
    s = any_service
    assert s.post("/v1/events", {"events": server_events()}).json()["accepted"] == 4
    s.drain()
    ok = s.post("/v1/verdict", {"message": {"id": "v1", "channel_id": "c2", "guild_id": None,
                                            "author_id": "u7", "content": "on se voit demain ?"}})
    assert ok.status_code == 200 and ok.json()["verdict"] == "allow"
    held = s.post("/v1/verdict", message("v2", "vends pack cp mineures, paiement paypal",
                                         author="u8", channel="g1-c1", guild="g1")).json()
    assert held["verdict"] == "review" and held["case_id"]
    assert held["findings"][0]["category"] == "csam"
    # Its sealed evidence is written before the answer (the client may delete on it).
    assert held["evidence"] and s.rt._uncommitted_verdicts == []
    # The same message again is answered from the journal, not taken in twice.
    again = s.post("/v1/verdict", message("v2", "vends pack cp mineures, paiement paypal",
                                          author="u8", channel="g1-c1", guild="g1")).json()
    assert again["verdict"] == "review" and again["duplicate"] is True
    # Once the author is suspended by a decision, their next message is refused.
    case_id = held["case_id"]
    case = s.get(f"/v1/cases/{case_id}").json()
    users = [t for t in case["targets"] if t["kind"] == "user" and t["id"] == "u8"]
    assert users, case["targets"]
    d = s.post(f"/v1/cases/{case_id}/decision", {"reviewer": "tess", "verdicts": [
        {"target": users[0], "category": "csam"},
        {"target": {"kind": "message", "id": "v2"}, "category": "csam"}]})
    assert d.status_code == 200, d.text
    kinds = {doc["kind"] for doc in d.json()["documents"]}
    assert {"statement_of_reasons", "tdb_statement", "ncmec_report"} <= kinds
    blocked = s.post("/v1/verdict", message("v3", "re-bonjour", author="u8")).json()
    assert blocked["verdict"] == "block"
    assert blocked["reasons"] == ["its author's account is suspended"]
    assert s.rt.stats["verdicts"] == 3  # the duplicate was answered, not taken in again


def test_an_upload_listed_in_a_bank_is_blocked(tmp_path: Path) -> None:
    picture = gradient_png(64, 64, seed=5)
    db = connect(f"sqlite:///{tmp_path / 'v.db'}")
    BankStore(db, tmp_path / "index").import_entries("test-bank", ParsedBank("csv", [
        BankEntry("sha256", hashlib.sha256(picture).hexdigest(), Category.CSAM)]), actor="test")
    db.dispose()
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path,
                          upload_dir=tmp_path / "uploads"):
        r = s.client.post("/v1/verdict/upload", headers=s.headers, data={
            "message_id": "up1", "channel_id": "c1", "author_id": "u1",
            "attachment_id": "att1", "content": ""},
            files={"file": ("p.png", picture, "image/png")})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verdict"] == "block"
        assert body["reasons"][0].startswith("block_upload: automatic")
        plain = s.client.post("/v1/verdict/upload", headers=s.headers, data={
            "message_id": "up2", "channel_id": "c1", "author_id": "u1",
            "attachment_id": "att2"}, files={"file": ("q.png", gradient_png(64, 64, seed=77),
                                                      "image/png")})
        assert plain.json()["verdict"] == "allow"
        look = s.get("/v1/hashes/lookup", params={
            "sha256": hashlib.sha256(picture).hexdigest()}).json()
        assert look["bank_matches"][0]["bank"] == "test-bank"
        assert s.get("/v1/hashes/lookup", params={"md5": "xyz"}).status_code == 422
        assert (tmp_path / "uploads").is_dir()


def test_notices_flaggers_orders_and_appeals(any_service: Service) -> None:
    s = any_service
    s.post("/v1/events", {"events": server_events()})
    anonymous = s.post("/v1/notices", {
        "items": [{"target": {"kind": "message", "id": "g1-m1"}},
                  {"target": {"kind": "guild", "id": "g1"}, "locator": "https://x/g1"}],
        "category_claimed": "csam", "explanation": "selling pictures of children"})
    assert anonymous.status_code == 202, anonymous.text
    notice_id = anonymous.json()["notice_id"]
    flagger = s.key_for(flagger="pointdecontact")
    r = s.client.post("/v1/flagger/notices", headers=flagger, json={
        "id": "PDC-1", "items": [{"target": {"kind": "message", "id": "g1-m1"}}],
        "category_claimed": "csam", "explanation": "trade", "bona_fide": True})
    assert r.status_code == 202 and r.json()["notice_id"] == "PDC-1"
    # A flagger key cannot send platform events or read cases.
    assert s.client.post("/v1/events", headers=flagger, json={"events": []}).status_code == 403
    assert s.client.get("/v1/cases", headers=flagger).status_code == 403
    order = s.post("/v1/orders", {"id": "OFMIN-9", "target": {"kind": "message",
                                                              "id": "g1-m1"},
                                  "category_claimed": "csam", "authority": "OFMIN"})
    assert order.status_code == 202
    assert s.post("/v1/orders/OFMIN-9/updates", {"status": "force_majeure",
                                                 "note": "outage"}).status_code == 202
    assert s.post("/v1/reports", {"id": "R1", "target": {"kind": "user", "id": "u1"},
                                  "reporter_id": "u5"}).status_code == 202
    s.drain()
    own = s.client.get("/v1/reports/PDC-1-1", headers=flagger)
    assert own.status_code == 200 and own.json()["source"] == "trusted_flagger"
    assert own.json()["flagger"] == "pointdecontact"
    # Not its own notice: as if it did not exist.
    assert s.client.get(f"/v1/reports/{notice_id}-1", headers=flagger).status_code == 404
    mine = s.get(f"/v1/reports/{notice_id}-2").json()
    assert mine["case_id"] and mine["target"] == {"kind": "guild", "id": "g1"}
    with s.rt.lock:
        order_intake = s.rt.casework.intakes["report:OFMIN-9"]
        assert order_intake.clock is not None and order_intake.clock.stopped_at is None
        assert order_intake.clock.paused_at is not None  # force majeure stops the clock
    appeal = s.post("/v1/appeals", {"id": "A1", "target": {"kind": "message", "id": "g1-m1"},
                                    "by": "affected", "complainant_id": "u1"})
    assert appeal.status_code == 202
    s.drain()
    with s.rt.lock:
        assert s.rt.casework.intakes["complaint:A1"].resolution is not None  # nothing decided


def test_keys_scopes_and_revocation(service: Service) -> None:
    assert service.client.get("/v1/cases").status_code == 401
    assert service.client.get("/v1/cases", headers={"Authorization": "Bearer vk_x_y"}
                              ).status_code == 401
    events_only = service.key_for("events")
    r = service.client.get("/v1/cases", headers=events_only)
    assert r.status_code == 403 and "cases:read" in r.json()["detail"]
    fresh = service.key_for("cases:read")
    key_id = fresh["Authorization"].split("_")[1]
    assert revoke_key(service.rt.db, key_id, datetime.now(UTC))
    assert service.client.get("/v1/cases", headers=fresh).status_code == 401
    with pytest.raises(ValueError, match="unknown scopes nope"):
        create_key(service.rt.db, "x", ["nope"], datetime.now(UTC))


def test_api_reads_of_a_case_are_audited(any_service: Service) -> None:
    s = any_service
    s.post("/v1/events", {"events": server_events()})
    s.drain()
    cases = s.get("/v1/cases", params={"status": "open"}).json()["cases"]
    assert cases
    assert s.get(f"/v1/cases/{cases[0]['id']}").status_code == 200
    assert s.get("/v1/cases/nope").status_code == 404
    with s.rt.db.connect() as conn:
        viewers = list(conn.execute(select(AuditRow.actor).where(
            AuditRow.kind == "case.viewed", AuditRow.subject == cases[0]["id"])).scalars())
    assert viewers == ["api:platform"]


def test_decisions_by_api_need_the_case_targets(service: Service) -> None:
    service.post("/v1/events", {"events": server_events()})
    service.drain()
    case_id = service.get("/v1/cases").json()["cases"][0]["id"]
    r = service.post(f"/v1/cases/{case_id}/decision", {"reviewer": "tess", "verdicts": [
        {"target": {"kind": "message", "id": "elsewhere"}, "category": "csam"}]})
    assert r.status_code == 409 and "not in the case" in r.json()["detail"]
    # Partial: only the named target; the case stays open for the rest.
    view = service.get(f"/v1/cases/{case_id}").json()
    first = view["targets"][0]
    r = service.post(f"/v1/cases/{case_id}/decision", {"reviewer": "tess", "partial": True,
                                                       "verdicts": [{"target": first}]})
    assert r.status_code == 200, r.text
    assert [t["target"] for t in r.json()["targets"]] == [first]
    view = service.get(f"/v1/cases/{case_id}").json()
    assert view["status"] == "open" and view["decided_targets"] == [first]
    r = service.post(f"/v1/cases/{case_id}/decision", {"reviewer": "tess", "verdicts": []})
    assert r.status_code == 200 and r.json()["targets"][0]["violation"] is False
    assert first not in [t["target"] for t in r.json()["targets"]]
    decision = service.get(f"/v1/decisions/{r.json()['id']}").json()
    assert decision["reviewer"] == "tess (api:platform)"
    with service.rt.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DocumentRow)).scalar_one() >= 0


def test_rate_limited_keys_get_retry_after(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    for s in open_service(str(tmp_path / "v.db"), tmp_path, key_per_minute=60.0,
                          key_burst=3):
        codes = [s.get("/v1/cases").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429


def test_health_metrics_and_openapi(service: Service) -> None:
    health = service.client.get("/health").json()
    assert health["status"] == "ok" and health["database"] is True
    service.post("/v1/events", {"events": server_events()})
    service.post("/v1/verdict", message("v1", "bonjour"))
    service.drain()
    text = service.get("/metrics").text
    assert "veilleur_events_accepted_total 4.0" in text
    assert 'veilleur_verdicts_total{verdict="allow"} 1.0' in text
    assert "veilleur_inbox_backlog 0.0" in text
    assert 'veilleur_cases{status="open"}' in text
    spec = service.client.get("/v1/openapi.json").json()
    assert "/v1/events" in spec["paths"] and "/v1/verdict/upload" in spec["paths"]


def test_the_published_openapi_document_is_current(service: Service) -> None:
    """docs/openapi.json is what the service publishes (regenerate it with
    `veilleur serve --openapi docs/openapi.json`)."""
    import json

    published = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    assert published == service.client.get("/v1/openapi.json").json()


def test_a_bank_learns_live_and_looks_back(service: Service) -> None:
    picture = gradient_png(64, 64, seed=11)
    form = {"message_id": "old1", "channel_id": "c1", "author_id": "u1",
            "attachment_id": "old-att"}
    first = service.client.post("/v1/verdict/upload", headers=service.headers, data=form,
                                files={"file": ("a.png", picture, "image/png")})
    assert first.json()["verdict"] == "allow"  # nothing lists it yet
    bad = service.post("/v1/banks/hotline/entries", {"entries": [
        {"signal_type": "sha256", "signal": "zz"}]})
    assert bad.status_code == 422
    r = service.post("/v1/banks/hotline/entries", {"category": "csam", "source": "hotline",
                                                   "entries": [{"signal_type": "sha256",
                                                                "signal": hashlib.sha256(
                                                                    picture).hexdigest()}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"] == 1 and body["stored_media_matched"] == 1 and body["cases"]
    again = service.client.post("/v1/verdict/upload", headers=service.headers, data=form | {
        "message_id": "new1", "attachment_id": "new-att"},
        files={"file": ("b.png", picture, "image/png")})
    assert again.json()["verdict"] == "block"
    banks = service.get("/v1/banks").json()["banks"]
    assert [b["name"] for b in banks] == ["hotline"]
