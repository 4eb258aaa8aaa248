"""Issue 15, item 5: events that carry legal weight enter only through their scoped doors,
and the record names the key that handed them in, never what their body claims."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from tests.factories import gradient_png
from tests.service.conftest import Service, message, server_events
from veilleur.eventformat import MODELS, PLATFORM_EVENT
from veilleur.events import LEGAL_TYPES, PLATFORM_TYPES
from veilleur.store.models import AuditRow, InboxRow

T = "2026-11-20T10:05:00Z"


def _order(rid: str) -> dict[str, object]:
    return {"type": "report", "ts": T, "report": {
        "id": rid, "source": "authority", "target": {"kind": "message", "id": "g1-m1"},
        "category_claimed": "csam", "notifier": {"name": "OFMIN"}}}


def _audit(s: Service, kind: str, subject: str) -> list[tuple[str, str]]:
    with s.rt.db.connect() as conn:
        return [(r.actor, r.detail) for r in conn.execute(
            select(AuditRow).where(AuditRow.kind == kind, AuditRow.subject == subject))]


def test_every_event_type_is_either_observed_or_of_legal_weight() -> None:
    assert PLATFORM_TYPES.isdisjoint(LEGAL_TYPES)
    assert set(MODELS) == PLATFORM_TYPES | LEGAL_TYPES
    # What /v1/events documents is what it takes.
    mapping = PLATFORM_EVENT.json_schema()["discriminator"]["mapping"]
    assert set(mapping) == PLATFORM_TYPES


def test_raw_events_cannot_carry_reports_orders_or_complaints(service: Service) -> None:
    s = service
    events_only = s.key_for("events")
    flagged = {"type": "report", "ts": T, "report": {
        "id": "TF-1", "source": "trusted_flagger", "flagger": "pointdecontact",
        "target": {"kind": "message", "id": "g1-m1"}, "category_claimed": "csam"}}
    complaint = {"type": "complaint", "ts": T, "complaint": {
        "id": "C-1", "target": {"kind": "message", "id": "g1-m1"}, "by": "affected"}}
    update = {"type": "order_update", "ts": T, "report_id": "O-1", "status": "force_majeure"}
    batch = [*server_events(), _order("O-1"), flagged, complaint, update,
             message("m-after", "hello")]
    r = s.client.post("/v1/events", headers=events_only, json={"events": batch})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 5  # the platform's own events, before and after
    errors = {x["index"]: x["error"] for x in body["rejected"]}
    assert sorted(errors) == [4, 5, 6, 7]
    assert "POST /v1/reports" in errors[4] and "/v1/orders" in errors[4]
    assert "POST /v1/appeals" in errors[6]
    assert "/v1/orders/{id}/updates" in errors[7]
    # Even a key holding every scope sends them through their doors, not as raw events.
    assert s.post("/v1/events", {"events": [_order("O-2")]}).json()["accepted"] == 0
    s.drain()
    with s.rt.lock:
        intakes = s.rt.casework.intakes
        assert not {"report:O-1", "report:TF-1", "report:O-2", "complaint:C-1"} & set(intakes)
        assert s.rt.casework.content.message("m-after") is not None


def test_the_record_names_the_key_not_the_body(service: Service) -> None:
    s = service
    s.post("/v1/events", {"events": server_events()})
    orders = s.key_for("orders")  # named "other" by the fixture
    order = s.client.post("/v1/orders", headers=orders, json={
        "id": "OFMIN-1", "target": {"kind": "message", "id": "g1-m1"},
        "category_claimed": "csam", "authority": "OFMIN"})
    assert order.status_code == 202, order.text
    update = s.client.post("/v1/orders/OFMIN-1/updates", headers=orders,
                           json={"status": "force_majeure"})
    assert update.status_code == 202
    report = s.post("/v1/reports", {"id": "R-1", "target": {"kind": "user", "id": "u1"}})
    assert report.status_code == 202
    # A body cannot name who sent it: the journal's stamp is the door's.
    forged = message("m-forged", "hi") | {"received_by": "authority"}
    assert s.post("/v1/events", {"events": [forged]}).json()["accepted"] == 1
    with s.rt.inbox.db.connect() as conn:
        bodies = [json.loads(b) for b in conn.execute(select(InboxRow.body)).scalars()]
    assert {b["received_by"] for b in bodies} == {"api:platform", "api:other"}
    s.drain()
    (intake,) = _audit(s, "intake", "report:OFMIN-1")
    assert intake[0] == "api:other" and '"source": "authority"' in intake[1]
    assert [a for a, _ in _audit(s, "order.update", "report:OFMIN-1")] == ["api:other"]
    assert [a for a, _ in _audit(s, "intake", "report:R-1")] == ["api:platform"]
    got = s.get("/v1/reports/OFMIN-1").json()
    assert got["received_by"] == "api:other" and got["source"] == "authority"
    flagger = s.key_for(flagger="pointdecontact")
    r = s.client.post("/v1/flagger/notices", headers=flagger, json={
        "id": "PDC-1", "items": [{"target": {"kind": "message", "id": "g1-m1"}}],
        "explanation": "trade", "bona_fide": True})
    assert r.status_code == 202
    appeal = s.post("/v1/appeals", {"id": "A-1", "target": {"kind": "message", "id": "g1-m1"},
                                    "by": "affected"})
    assert appeal.status_code == 202
    s.drain()
    assert [a for a, _ in _audit(s, "intake", "report:PDC-1-1")] == ["flagger:other"]
    assert [a for a, _ in _audit(s, "intake", "complaint:A-1")] == ["api:platform"]


def test_bank_changes_are_audited_and_overrides_need_their_scope(service: Service) -> None:
    s = service
    picture = gradient_png(64, 64, seed=21)
    sha = hashlib.sha256(picture).hexdigest()
    listed = s.post("/v1/banks/hotline/entries", {"category": "csam", "entries": [
        {"signal_type": "sha256", "signal": sha}]})
    assert listed.status_code == 200, listed.text
    allow = {"kind": "allow", "category": "csam",
             "entries": [{"signal_type": "sha256", "signal": sha, "note": "benign, surely"}]}
    refused = s.post("/v1/banks/memes/entries", allow)
    assert refused.status_code == 403
    assert "banks:override" in refused.json()["detail"] and "hotline" in refused.json()[
        "detail"]
    # the listed hash still blocks after the ordinary allow attempt
    up = s.client.post("/v1/verdict/upload", headers=s.headers, data={
        "message_id": "m1", "channel_id": "c1", "author_id": "u1", "attachment_id": "a1"},
        files={"file": ("p.png", picture, "image/png")})
    assert up.json()["verdict"] == "block"
    # into a deny bank: a clear conflict, not a server error
    assert s.post("/v1/banks/hotline/entries", allow).status_code == 409
    overrider = s.key_for("banks", "banks:override")
    ok = s.client.post("/v1/banks/memes/entries", headers=overrider, json=allow)
    assert ok.status_code == 200, ok.text
    assert ok.json()["overrides"]["overridden_entries_count"] == 1
    assert ok.json()["overrides"]["categories"] == ["csam"]
    look = s.get("/v1/hashes/lookup", params={"sha256": sha}).json()
    assert look["bank_matches"] == []  # silenced, by an override on the record
    with s.rt.db.connect() as conn:
        changes = [(r.kind, r.actor, r.subject) for r in conn.execute(
            select(AuditRow).where(AuditRow.kind.like("bank.%")).order_by(AuditRow.seq))]
        override = conn.execute(select(AuditRow.detail).where(
            AuditRow.kind == "bank.override")).scalar_one()
    assert changes == [("bank.created", "api:platform", "bank:hotline"),
                       ("bank.import", "api:platform", "bank:hotline"),
                       ("bank.created", "api:other", "bank:memes"),
                       ("bank.import", "api:other", "bank:memes"),
                       ("bank.override", "api:other", "bank:memes")]
    assert '"categories": ["csam"]' in override
