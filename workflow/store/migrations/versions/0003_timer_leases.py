"""sweeper leases, retries and give-up on timers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:35:00
"""
import sqlalchemy as sa
from alembic import op

import workflow.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timers") as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=80), nullable=True,
                                      comment="worker holding the lease"))
        batch_op.add_column(sa.Column("lease_expires_at", workflow.store.types.UTCDateTime(timezone=True),
                                      nullable=True, comment="another worker may take it after"))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0",
                                      comment="failed firing attempts"))
        batch_op.add_column(sa.Column("next_attempt_at", workflow.store.types.UTCDateTime(timezone=True),
                                      nullable=True, comment="backoff after a failure"))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("failed_at", workflow.store.types.UTCDateTime(timezone=True),
                                      nullable=True, comment="gave up: an incident was recorded"))


def downgrade() -> None:
    with op.batch_alter_table("timers") as batch_op:
        for column in ("failed_at", "last_error", "next_attempt_at", "attempts", "lease_expires_at",
                       "lease_owner"):
            batch_op.drop_column(column)
