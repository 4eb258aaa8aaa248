"""login lockout: failed console logins counted per account, in the database

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 18:30:00

The counter lives in the accounts table so that a restart forgets nothing and several
workers (or hosts, on PostgreSQL) count the same attempts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.add_column(sa.Column('failed_since', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('lockouts', sa.Integer(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        for column in ('lockouts', 'locked_until', 'failed_since', 'failed_logins'):
            batch.drop_column(column)
