"""bank overrides: an allow entry that silences deny entries says which, and who allowed it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('bank_entries') as batch:
        batch.add_column(sa.Column('overrides', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bank_entries') as batch:
        batch.drop_column('overrides')
