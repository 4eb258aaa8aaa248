"""local features of enrolled pictures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 16:26:13.918870
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('bank_features',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('features', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['bank_entries.id'], ),
    sa.PrimaryKeyConstraint('entry_id')
    )



def downgrade() -> None:

    op.drop_table('bank_features')

