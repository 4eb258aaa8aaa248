"""hash banks and media hashes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 16:11:38.965014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('banks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('pdq_threshold', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('media_hashes',
    sa.Column('attachment_id', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('channel_id', sa.String(length=64), nullable=True),
    sa.Column('guild_id', sa.String(length=64), nullable=True),
    sa.Column('author_id', sa.String(length=64), nullable=True),
    sa.Column('filename', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=True),
    sa.Column('md5', sa.String(length=32), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('pdq', sa.String(length=64), nullable=True),
    sa.Column('pdq_quality', sa.Integer(), nullable=True),
    sa.Column('lookups', sa.LargeBinary(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('hashed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('attachment_id')
    )
    with op.batch_alter_table('media_hashes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_hashes_md5'), ['md5'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_hashes_sha256'), ['sha256'], unique=False)

    op.create_table('bank_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('signal_type', sa.String(length=8), nullable=False),
    sa.Column('signal', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=True),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bank_entries', schema=None) as batch_op:
        batch_op.create_index('ix_bank_entries_lookup', ['signal_type', 'signal'], unique=False)
        batch_op.create_index('ux_bank_entries_signal', ['bank_id', 'signal_type', 'signal'], unique=True)

    op.create_table('bank_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('media_matches',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('attachment_id', sa.String(length=64), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('signal_type', sa.String(length=8), nullable=False),
    sa.Column('distance', sa.Integer(), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('matched_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['bank_entries.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('media_matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_matches_attachment_id'), ['attachment_id'], unique=False)
        batch_op.create_index('ux_media_matches', ['attachment_id', 'entry_id'], unique=True)




def downgrade() -> None:

    with op.batch_alter_table('media_matches', schema=None) as batch_op:
        batch_op.drop_index('ux_media_matches')
        batch_op.drop_index(batch_op.f('ix_media_matches_attachment_id'))

    op.drop_table('media_matches')
    op.drop_table('bank_events')
    with op.batch_alter_table('bank_entries', schema=None) as batch_op:
        batch_op.drop_index('ux_bank_entries_signal')
        batch_op.drop_index('ix_bank_entries_lookup')

    op.drop_table('bank_entries')
    with op.batch_alter_table('media_hashes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_hashes_sha256'))
        batch_op.drop_index(batch_op.f('ix_media_hashes_md5'))

    op.drop_table('media_hashes')
    op.drop_table('banks')

