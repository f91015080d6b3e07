"""escalations

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 21:50:00
"""
import sqlalchemy as sa
from alembic import op

import workflow.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False, comment="the supervisor's review task"),
        sa.Column("task_name", sa.String(length=100), nullable=False, comment="the late task"),
        sa.Column("level", sa.String(length=16), nullable=False, comment="breach / critical"),
        sa.Column("agency_id", sa.Integer(), nullable=True,
                  comment="supervisors of this OPD; NULL: city level"),
        sa.Column("raised_at", workflow.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", workflow.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", workflow.store.types.UTCDateTime(timezone=True), nullable=True,
                  comment="acknowledged, or the task was done"),
        sa.ForeignKeyConstraint(["acknowledged_by_id"], ["users.id"], name=op.f("fk_escalations_acknowledged_by_id_users")),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_escalations_agency_id_agencies")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_escalations_case_id_cases")),
        sa.ForeignKeyConstraint(["work_item_id"], ["work_items.id"], name=op.f("fk_escalations_work_item_id_work_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("work_item_id", name=op.f("uq_escalations_work_item_id")),
    )
    with op.batch_alter_table("escalations") as batch_op:
        batch_op.create_index(batch_op.f("ix_escalations_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_escalations_open", ["resolved_at", "agency_id"], unique=False)


def downgrade() -> None:
    op.drop_table("escalations")
