"""escalation actions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 23:20:00

Supervisor actions on escalations: instruction notes on a work item, paused SLA clocks while a
case waits for the citizen, who retried an incident; ping-pong as an escalation level.
"""
import sqlalchemy as sa
from alembic import op

import workflow.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_by_id', sa.Integer(), nullable=True, comment='the admin who retried it (NULL: resolved by the system)'))
        batch_op.create_foreign_key(batch_op.f('fk_incidents_resolved_by_id_users'), 'users', ['resolved_by_id'], ['id'])

    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('work_item_id', sa.Integer(), nullable=True, comment="a supervisor's instruction: shown on this work item"))
        batch_op.create_index(batch_op.f('ix_notes_work_item_id'), ['work_item_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_notes_work_item_id_work_items'), 'work_items', ['work_item_id'], ['id'])

    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_paused_since', workflow.store.types.UTCDateTime(timezone=True), nullable=True, comment='the SLA clock stands still since then: the case waits for the citizen'))

    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.alter_column('level', existing_type=sa.String(length=16), existing_nullable=False,
                              comment='breach / critical / pingpong', existing_comment='breach / critical')


def downgrade() -> None:
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.alter_column('level', existing_type=sa.String(length=16), existing_nullable=False,
                              comment='breach / critical', existing_comment='breach / critical / pingpong')

    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_column('sla_paused_since')

    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notes_work_item_id_work_items'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_notes_work_item_id'))
        batch_op.drop_column('work_item_id')

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_incidents_resolved_by_id_users'), type_='foreignkey')
        batch_op.drop_column('resolved_by_id')
