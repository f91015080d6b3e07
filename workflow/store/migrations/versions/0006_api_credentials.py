"""api credentials

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 23:30:00

API keys and tokens (hashed), categories' extra fields and the answers to them, a report's
media link, and the expected closing time that Open311 reports.
"""
import sqlalchemy as sa
from alembic import op

import workflow.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False, comment='open311 / token'),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False, comment='sha256 of the whole secret'),
    sa.Column('user_id', sa.Integer(), nullable=True, comment='tokens act as this user'),
    sa.Column('created_at', workflow.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', workflow.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', workflow.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_credentials_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_credentials')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_credentials_prefix'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expected_at', workflow.store.types.UTCDateTime(timezone=True), nullable=True, comment="when the case should be closed: the sum of its stages' SLA targets, in business time"))

    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attributes', sa.JSON(), nullable=False, server_default=sa.text("'[]'"), comment='extra fields the category asks for (Open311 attributes)'))

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attributes', sa.JSON(), nullable=True, comment="answers to the category's extra fields"))
        batch_op.add_column(sa.Column('media_url', sa.String(length=500), nullable=True, comment='a photo link sent by an API client'))



def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('media_url')
        batch_op.drop_column('attributes')

    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_column('attributes')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('expected_at')

    op.drop_table('api_credentials')
