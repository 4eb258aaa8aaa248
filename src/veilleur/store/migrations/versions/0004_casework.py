"""casework: intakes, cases, decisions, actions, evidence, audit log, labels; messages by server

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'intakes',
        sa.Column('id', sa.String(128), primary_key=True),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('source', sa.String(32), nullable=False),
        sa.Column('target_kind', sa.String(16), nullable=False),
        sa.Column('target_id', sa.String(64), nullable=False),
        sa.Column('category', sa.String(16)),
        sa.Column('received_at', TS, nullable=False),
        sa.Column('acknowledged_at', TS, nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('reporter_id', sa.String(64)),
        sa.Column('flagger', sa.String(64)),
        sa.Column('case_id', sa.String(64)),
        sa.Column('resolution', sa.String(24)),
        sa.Column('resolved_at', TS),
        sa.Column('reason', sa.Text()),
        sa.Column('body', sa.JSON(), nullable=False),
    )
    op.create_index('ix_intakes_reporter_id', 'intakes', ['reporter_id'])
    op.create_index('ix_intakes_case_id', 'intakes', ['case_id'])
    op.create_table(
        'cases',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('opened_at', TS, nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('category', sa.String(16)),
        sa.Column('priority', sa.Float(), nullable=False),
        sa.Column('escalated', sa.Boolean(), nullable=False),
        sa.Column('raised', sa.Boolean(), nullable=False),
        sa.Column('next_due', TS),
        sa.Column('locked_by', sa.String(128)),
        sa.Column('lock_until', TS),
        sa.Column('reviewed_at', TS),
        sa.Column('decision_id', sa.String(64)),
        sa.Column('closed_at', TS),
        sa.Column('body', sa.JSON(), nullable=False),
    )
    op.create_index('ix_cases_status', 'cases', ['status'])
    op.create_table(
        'decisions',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('case_id', sa.String(64), nullable=False),
        sa.Column('decided_at', TS, nullable=False),
        sa.Column('reviewer', sa.String(128), nullable=False),
        sa.Column('automated', sa.Boolean(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
    )
    op.create_index('ix_decisions_case_id', 'decisions', ['case_id'])
    op.create_table(
        'actions',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('ts', TS, nullable=False),
        sa.Column('action', sa.String(24), nullable=False),
        sa.Column('target_kind', sa.String(16), nullable=False),
        sa.Column('target_id', sa.String(64), nullable=False),
        sa.Column('case_id', sa.String(64)),
        sa.Column('decision_id', sa.String(64)),
        sa.Column('automated', sa.Boolean(), nullable=False),
        sa.Column('category', sa.String(16)),
        sa.Column('reverted_at', TS),
        sa.Column('body', sa.JSON(), nullable=False),
    )
    op.create_index('ix_actions_case_id', 'actions', ['case_id'])
    op.create_index('ix_actions_target', 'actions', ['target_kind', 'target_id'])
    op.create_table(
        'evidence',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('case_id', sa.String(64), nullable=False),
        sa.Column('target_kind', sa.String(16), nullable=False),
        sa.Column('target_id', sa.String(64), nullable=False),
        sa.Column('preserved_at', TS, nullable=False),
        sa.Column('expires_at', TS, nullable=False),
        sa.Column('key_id', sa.String(32), nullable=False),
        sa.Column('nonce', sa.LargeBinary(), nullable=False),
        sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('legal_hold', sa.Text()),
        sa.Column('purged_at', TS),
        sa.Column('meta', sa.JSON(), nullable=False),
    )
    op.create_index('ix_evidence_case_id', 'evidence', ['case_id'])
    op.create_table(
        'audit_log',
        sa.Column('seq', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('at', sa.String(40), nullable=False),
        sa.Column('kind', sa.String(32), nullable=False),
        sa.Column('actor', sa.String(128), nullable=False),
        sa.Column('subject', sa.String(160), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('prev_hash', sa.String(64), nullable=False),
        sa.Column('hash', sa.String(64), nullable=False),
    )
    op.create_table(
        'labels',
        sa.Column('target_kind', sa.String(16), primary_key=True),
        sa.Column('target_id', sa.String(64), primary_key=True),
        sa.Column('label', sa.String(48), primary_key=True),
        sa.Column('set_at', TS, nullable=False),
        sa.Column('case_id', sa.String(64)),
    )
    # Reading a server's messages back (casework picked up from the store).
    op.create_index('ix_messages_guild_id', 'messages', ['guild_id'])
    # The audit log is append-only: the database itself refuses to change or remove entries.
    if op.get_bind().dialect.name == 'sqlite':
        for verb in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    else:
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql")
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index('ix_messages_guild_id', 'messages')
    for table in ('labels', 'audit_log', 'evidence', 'actions', 'decisions', 'cases',
                  'intakes'):
        op.drop_table(table)
