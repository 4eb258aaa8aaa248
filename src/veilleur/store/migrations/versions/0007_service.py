"""service: the inbox journal, API keys, reviewer accounts and sessions, public notices

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 22:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'inbox',
        sa.Column('seq', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('key', sa.String(128), nullable=False, unique=True),
        sa.Column('kind', sa.String(24), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
    )
    op.create_index('ix_inbox_done_at', 'inbox', ['done_at'])
    op.create_table(
        'api_keys',
        sa.Column('id', sa.String(32), primary_key=True),
        sa.Column('name', sa.String(128), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('flagger', sa.String(128), nullable=True),
        sa.Column('scopes', sa.JSON(), nullable=False),
        sa.Column('secret_hash', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        'accounts',
        sa.Column('username', sa.String(64), primary_key=True),
        sa.Column('password_hash', sa.Text(), nullable=False),
        sa.Column('role', sa.String(16), nullable=False),
        sa.Column('language', sa.String(2), nullable=False),
        sa.Column('preferences', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        'sessions',
        sa.Column('id_hash', sa.String(64), primary_key=True),
        sa.Column('username', sa.String(64), sa.ForeignKey('accounts.username'),
                  nullable=False),
        sa.Column('csrf', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_sessions_username', 'sessions', ['username'])
    op.create_table(
        'public_notices',
        sa.Column('reference', sa.String(32), primary_key=True),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('report_ids', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ('public_notices', 'sessions', 'accounts', 'api_keys', 'inbox'):
        op.drop_table(table)
