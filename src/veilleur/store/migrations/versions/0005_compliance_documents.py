"""compliance documents; labels can be lifted (a complaint reverses a decision)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'documents',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('kind', sa.String(32), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('decision_id', sa.String(64)),
        sa.Column('case_id', sa.String(64)),
        sa.Column('recipient_role', sa.String(16), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
    )
    op.create_index('ix_documents_kind_created', 'documents', ['kind', 'created_at'])
    op.create_index('ix_documents_decision_id', 'documents', ['decision_id'])
    with op.batch_alter_table('labels') as batch:
        batch.add_column(sa.Column('removed_at', TS))


def downgrade() -> None:
    with op.batch_alter_table('labels') as batch:
        batch.drop_column('removed_at')
    op.drop_index('ix_documents_decision_id', 'documents')
    op.drop_index('ix_documents_kind_created', 'documents')
    op.drop_table('documents')
