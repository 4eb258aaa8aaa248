"""What travels on `findings`, the dead-letter topic, `actions` and `documents`: plain
JSON, each message with its format's version under "v".

A findings message is one event's answer from the detect stage: the event's id (its
idempotency key, `service.inbox.event_key`), the event as it came (the sink learns from it
where the message lives, for casework's grouping), and the findings the event created or
changed, each complete enough to be rebuilt as the engine's `Finding` (casework reads its
signal keys and own score, not only contracts §4's fields).

Delivery is at least once: the same event may be answered twice (a worker killed before it
committed its offsets, the partition read again by another). The sink takes a finding in
once per *finding key* (target and category, casework's own rule), so a second answer adds
nothing.

`actions` and `documents` carry what casework wrote, once the database has it (the
writer's outbox, `bus.outbox`): one message per distinct state of an item, with the item's
stable id and `rev`, a digest of that state. Delivery is at least once (a writer killed
between the broker's acknowledgement and marking the row publishes it again at start): a
consumer keeps the pair (id, rev) it has seen and ignores a repeat; a new rev of the same
id is the item changed (an action lifted, a document sent), in order on its key.

    actions   key: the target ("message:<id>", "user:<id>", ...)
      {"v": 1, "id": action id, "rev": digest, "action": Action JSON (`cases.models.Action`:
       action, target, case_id, decision_id, automated, category, reason, ts, and
       reverted_at/reverted_by/revert_reason once lifted)}
    documents key: the document id
      {"v": 1, "id": document id, "rev": digest, "document": Document JSON
       (`compliance.documents.Document`: kind, created_at, recipient, language, subject,
       body, payload, refs, status, errors)}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from veilleur.decide.policy import Finding
from veilleur.taxonomy import Category, Target

VERSION = 1


def finding_key(finding: Finding) -> str:
    """The key the sink de-duplicates on: one intake per target and category."""
    return f"{finding.target.kind.value}:{finding.target.id}/{finding.category.value}"


def finding_to_json(finding: Finding) -> dict[str, Any]:
    return {
        **finding.to_json(),
        "key": finding_key(finding),
        "score": finding.score,  # unrounded: a second answer must compare equal, not higher
        "excerpt": finding.excerpt,
        "spans": [list(s) for s in finding.spans],
        "signal_keys": list(finding.signal_keys),
        "own_score": finding.own_score,
        "own_detectors": None if finding.own_detectors is None else list(finding.own_detectors),
    }


def finding_from_json(raw: Mapping[str, Any]) -> Finding:
    target = raw["target"]
    return Finding(
        target=Target.of(target["kind"], target["id"]),
        category=Category(raw["category"]),
        score=float(raw["score"]),
        detectors=tuple(raw["detectors"]),
        evidence=raw["evidence"],
        context=dict(raw["context"]),
        excerpt=raw.get("excerpt"),
        spans=tuple((int(a), int(b)) for a, b in raw.get("spans", ())),
        signal_keys=tuple(raw.get("signal_keys", ())),
        own_score=raw.get("own_score"),
        own_detectors=(None if raw.get("own_detectors") is None
                       else tuple(str(d) for d in raw["own_detectors"])),
    )


def findings_message(event_id: str, event: Mapping[str, Any] | None, findings: list[Finding],
                     worker: str) -> dict[str, Any]:
    """`event` None: findings a label made (no event of the platform's behind them)."""
    return {"v": VERSION, "event_id": event_id,
            "event": dict(event) if event is not None else None, "worker": worker,
            "findings": [finding_to_json(f) for f in findings]}


def dead_letter(error: str, raw: bytes | str | None, *, stage: str, where: str
                ) -> dict[str, Any]:
    """Input a stage could not take, kept with why. The input is kept as text (bytes that
    are not UTF-8 are replaced: the dead letter must itself be JSON)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else \
        raw.encode("utf-8", "replace").decode() if raw is not None else None
    return {"v": VERSION, "stage": stage, "error": error, "where": where, "input": text}


def action_message(item_id: str, rev: str, action: Mapping[str, Any]) -> dict[str, Any]:
    return {"v": VERSION, "id": item_id, "rev": rev, "action": dict(action)}


def document_message(item_id: str, rev: str, document: Mapping[str, Any]) -> dict[str, Any]:
    return {"v": VERSION, "id": item_id, "rev": rev, "document": dict(document)}


def casework_label(item_id: str, rev: str, label: Mapping[str, Any]) -> dict[str, Any]:
    """Casework's label on `labels` (`bus/state.py`'s format, namespace `casework`): what
    the detect workers remember of a decision (a server removed, an account confirmed)."""
    return {"v": VERSION, "ns": "casework", "key": item_id, "value": dict(label),
            "worker": "casework", "rev": rev}


OUTBOX_MESSAGES = {"actions": action_message, "documents": document_message,
                   "labels": casework_label}
"""The message of an outbox row, by its topic."""
