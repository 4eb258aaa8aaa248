"""detector memory: conversations and the platform graph, kept between runs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'detector_memory',
        sa.Column('namespace', sa.String(32), primary_key=True),
        sa.Column('key', sa.String(256), primary_key=True),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('detector_memory')
