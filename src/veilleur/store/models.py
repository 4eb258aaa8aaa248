"""Tables. Platform ids are strings (contracts §2); every write is keyed so it can be repeated."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = String(64)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: DateTime(timezone=True),
    }


class GuildRow(Base):
    __tablename__ = "guilds"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str | None] = mapped_column(ID)
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(String(16))


class ChannelRow(Base):
    __tablename__ = "channels"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    guild_id: Mapped[str | None] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[str | None] = mapped_column(ID)


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    is_bot: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime | None]
    age_band: Mapped[str | None] = mapped_column(String(16))


class MessageRow(Base):
    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    channel_id: Mapped[str] = mapped_column(ID)
    guild_id: Mapped[str | None] = mapped_column(ID, index=True)
    author_id: Mapped[str] = mapped_column(ID, index=True)
    ts: Mapped[datetime]
    content: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    reply_to: Mapped[str | None] = mapped_column(ID)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_messages_channel_ts", "channel_id", "ts"),)


class AttachmentRow(Base):
    __tablename__ = "attachments"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    message_id: Mapped[str] = mapped_column(ID, ForeignKey("messages.id"), index=True)
    filename: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    local_path: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(Integer)
    md5: Mapped[str | None] = mapped_column(String(32), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)


class EventRow(Base):
    """Events that are not entities (joins, invites, reports, deletions), kept once each."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    ts: Mapped[datetime]
    payload: Mapped[dict[str, Any]]


class FindingRow(Base):
    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(ID)
    category: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    detectors: Mapped[list[str]]
    evidence: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]]
    policy_version: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]

    __table_args__ = (
        Index("ux_findings_target_category", "target_kind", "target_id", "category", unique=True),
    )


class ScanRow(Base):
    """One run of `veilleur scan`: what was read, when, and with what result."""

    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    veilleur_version: Mapped[str] = mapped_column(String(32))
    inputs: Mapped[dict[str, Any]]
    summary: Mapped[dict[str, Any]]


class BankRow(Base):
    """A named hash bank: where its hashes come from, what they mean, how close counts."""

    __tablename__ = "banks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    """'deny' (matches are findings) or 'allow' (known-benign: matches suppress findings)."""
    category: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    pdq_threshold: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)


class BankEntryRow(Base):
    __tablename__ = "bank_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(Integer, ForeignKey("banks.id"))
    signal_type: Mapped[str] = mapped_column(String(8))
    signal: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime]
    """When the source added it (or, without that, when it was imported)."""
    imported_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    source_id: Mapped[str | None] = mapped_column(String(128))
    meta: Mapped[dict[str, Any]]
    overrides: Mapped[dict[str, Any] | None]
    """An allow entry made as an explicit override: the deny entries (`entries`) and
    categories it silences, who allowed it (`by`) and when (`at`). Null for an ordinary allow
    entry (which never silences child sexual abuse) and for deny entries. Not `meta`: that
    comes from the bank file, and a file must not be able to grant an override."""

    __table_args__ = (
        Index("ux_bank_entries_signal", "bank_id", "signal_type", "signal", unique=True),
        Index("ix_bank_entries_lookup", "signal_type", "signal"),
    )


class BankEventRow(Base):
    """Every change to banks (imports, disabling, removals at source), in order.

    The PDQ index replays this log to catch up with the database instead of being rebuilt.
    """

    __tablename__ = "bank_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    bank_id: Mapped[int] = mapped_column(Integer, ForeignKey("banks.id"))
    entry_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]]


class MediaHashRow(Base):
    """The hashes of an attachment the engine has seen (never the media itself)."""

    __tablename__ = "media_hashes"
    attachment_id: Mapped[str] = mapped_column(ID, primary_key=True)
    message_id: Mapped[str | None] = mapped_column(ID)
    channel_id: Mapped[str | None] = mapped_column(ID)
    guild_id: Mapped[str | None] = mapped_column(ID)
    author_id: Mapped[str | None] = mapped_column(ID)
    filename: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(8))
    md5: Mapped[str | None] = mapped_column(String(32), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    lookups: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The PDQ hashes worth looking up (orientations, trimmed, frames), 32 bytes each."""
    detail: Mapped[dict[str, Any]]
    """`labels` of the lookups (which orientation, which frame) and video `frames`."""
    error: Mapped[str | None] = mapped_column(Text)
    hashed_at: Mapped[datetime]


class MediaMatchRow(Base):
    __tablename__ = "media_matches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    attachment_id: Mapped[str] = mapped_column(ID, index=True)
    entry_id: Mapped[int] = mapped_column(Integer, ForeignKey("bank_entries.id"))
    signal_type: Mapped[str] = mapped_column(String(8))
    distance: Mapped[int] = mapped_column(Integer)
    via: Mapped[str] = mapped_column(String(16))
    """'scan' (matched when seen) or 'retroactive' (matched when the bank learnt the hash)."""
    matched_at: Mapped[datetime]

    __table_args__ = (
        Index("ux_media_matches", "attachment_id", "entry_id", unique=True),
    )


class BankFeaturesRow(Base):
    """Local features of an enrolled picture (keypoints and descriptors, never pixels)."""

    __tablename__ = "bank_features"
    entry_id: Mapped[int] = mapped_column(Integer, ForeignKey("bank_entries.id"),
                                          primary_key=True)
    features: Mapped[bytes] = mapped_column(LargeBinary)


# --- casework (intakes, cases, decisions, actions, evidence, audit, labels) --------------------


class IntakeRow(Base):
    """A report or finding taken in, with its acknowledgement and how it ended."""

    __tablename__ = "intakes"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(ID)
    category: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime]
    score: Mapped[float] = mapped_column(Float)
    reporter_id: Mapped[str | None] = mapped_column(ID, index=True)
    flagger: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    resolution: Mapped[str | None] = mapped_column(String(24))
    resolved_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    body: Mapped[dict[str, Any]]
    """Notifier, explanation, detectors, evidence text, the legal clock."""


class CaseRow(Base):
    __tablename__ = "cases"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opened_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[float] = mapped_column(Float)
    escalated: Mapped[bool] = mapped_column(default=False)
    raised: Mapped[bool] = mapped_column(default=False)
    next_due: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(128))
    lock_until: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    decision_id: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None]
    body: Mapped[dict[str, Any]]
    """Targets, intakes, clocks, the priority explained (the case as `Case.to_json` says)."""


class DecisionRow(Base):
    __tablename__ = "decisions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    decided_at: Mapped[datetime]
    reviewer: Mapped[str] = mapped_column(String(128))
    automated: Mapped[bool]
    body: Mapped[dict[str, Any]]


class ActionRow(Base):
    __tablename__ = "actions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(24))
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(ID)
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    decision_id: Mapped[str | None] = mapped_column(String(64))
    automated: Mapped[bool]
    category: Mapped[str | None] = mapped_column(String(16))
    reverted_at: Mapped[datetime | None]
    body: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_actions_target", "target_kind", "target_id"),)


class EvidenceRow(Base):
    """Preserved evidence, sealed (AES-256-GCM); never the plaintext."""

    __tablename__ = "evidence"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    target_kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(ID)
    preserved_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    legal_hold: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[datetime | None]
    meta: Mapped[dict[str, Any]]


class AuditRow(Base):
    """The hash-chained audit log. Time and detail are stored as the exact text that was
    hashed; the database refuses updates and deletes (triggers, migration 0004)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(160))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LeaseRow(Base):
    """Who holds the database: the running `veilleur serve` (see `store.lease`)."""

    __tablename__ = "service_lease"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    since: Mapped[datetime]
    renewed_at: Mapped[datetime]
    role: Mapped[str] = mapped_column(String(32), server_default="serve")
    """What holds it: `serve`, `serve --bus` or `worker --stage sink` (named in refusals)."""


class LabelRow(Base):
    __tablename__ = "labels"
    target_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    target_id: Mapped[str] = mapped_column(ID, primary_key=True)
    label: Mapped[str] = mapped_column(String(48), primary_key=True)
    set_at: Mapped[datetime]
    case_id: Mapped[str | None] = mapped_column(String(64))
    removed_at: Mapped[datetime | None]
    """Lifted when a complaint reversed the decision that set it."""


class DocumentRow(Base):
    """What the law asks to write: letters, TDB statements, NCMEC reports, referrals."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_kind_created", "kind", "created_at"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    decision_id: Mapped[str | None] = mapped_column(String(64), index=True)
    case_id: Mapped[str | None] = mapped_column(String(64))
    recipient_role: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]]


class BusOutboxRow(Base):
    """An action or a document to put on the bus (`bus.outbox`): written in the transaction
    that writes the item, marked (and its copy of the body dropped) once the broker has it."""

    __tablename__ = "bus_outbox"
    __table_args__ = (UniqueConstraint("topic", "item_id", "rev", name="uq_bus_outbox_item"),
                      Index("ix_bus_outbox_published_at", "published_at"))
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(64))
    rev: Mapped[str] = mapped_column(String(32))
    """A digest of the item as written: one row (one publish) per distinct state."""
    key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class MemoryRow(Base):
    """A detector's memory of one key (a conversation, a server's node in the graph), JSON."""

    __tablename__ = "detector_memory"
    namespace: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime]


# --- the service (migration 0007) -----------------------------------------------------------


class InboxRow(Base):
    """What the service accepted, before the engine has taken it in: the journal that makes
    an accepted event survive a crash. `done_at` is set once its effects are in the store."""

    __tablename__ = "inbox"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    body: Mapped[str] = mapped_column(Text)
    accepted_at: Mapped[datetime]
    done_at: Mapped[datetime | None] = mapped_column(index=True)
    result: Mapped[dict[str, Any] | None]


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    flagger: Mapped[str | None] = mapped_column(String(128))
    scopes: Mapped[list[str]]
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AccountRow(Base):
    __tablename__ = "accounts"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2))
    preferences: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    """Failed logins since `failed_since` (the window's start); a success clears them."""
    failed_since: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    lockouts: Mapped[int] = mapped_column(default=0, server_default="0")
    """Locks since the last success: each one lasts twice the one before."""


class SessionRow(Base):
    __tablename__ = "sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("accounts.username"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class PublicNoticeRow(Base):
    """A notice filed through the public form: its reference and the secret that lets the
    notifier (who may be anonymous) read its status and the decision."""

    __tablename__ = "public_notices"
    reference: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    report_ids: Mapped[list[str]]
    created_at: Mapped[datetime]
