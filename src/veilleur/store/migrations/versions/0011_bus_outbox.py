"""bus outbox: actions and documents still to publish on the bus; who holds the lease

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:00:00

Whoever writes casework on a bus (`veilleur serve --bus`, `veilleur worker --stage sink`)
records, in the transaction that writes an action or a document, that it is to be put on
the `actions` or `documents` topic; the row is marked once the broker acknowledged it, so a
publish that fails, or a writer killed in between, loses nothing (`bus.outbox`). The lease
now says which kind of process holds the database, so a refusal names it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'bus_outbox',
        sa.Column('seq', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('topic', sa.String(16), nullable=False),
        sa.Column('item_id', sa.String(64), nullable=False),
        sa.Column('rev', sa.String(32), nullable=False),
        sa.Column('key', sa.String(200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('body', sa.JSON(), nullable=True),
        sa.UniqueConstraint('topic', 'item_id', 'rev', name='uq_bus_outbox_item'),
    )
    op.create_index('ix_bus_outbox_published_at', 'bus_outbox', ['published_at'])
    with op.batch_alter_table('service_lease') as batch:
        batch.add_column(sa.Column('role', sa.String(32), nullable=False,
                                   server_default='serve'))


def downgrade() -> None:
    with op.batch_alter_table('service_lease') as batch:
        batch.drop_column('role')
    op.drop_index('ix_bus_outbox_published_at', 'bus_outbox')
    op.drop_table('bus_outbox')
