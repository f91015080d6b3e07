"""rate counters in the database; login throttling moves there

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:10:00

``rate_counters`` holds fixed-window counters shared by every worker (``workflow.throttle``):
login attempts per account and known device, and the web app's rate limits. The per-user
``failed_logins`` / ``locked_until`` columns, which concurrent requests could both read before
either wrote, are dropped (plain columns: SQLite drops them in place, no table rebuild).
"""
import sqlalchemy as sa
from alembic import op

import workflow.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(length=200), nullable=False, comment="what is counted, e.g. login:user:budi"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", workflow.store.types.UTCDateTime(timezone=True), nullable=False,
                  comment="end of the current window"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_counters")),
    )
    op.create_index(op.f("ix_rate_counters_expires_at"), "rate_counters", ["expires_at"])
    for column in ("failed_logins", "locked_until"):
        op.execute(f"ALTER TABLE users DROP COLUMN {column}")


def downgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN failed_logins INTEGER DEFAULT 0 NOT NULL")
    column_type = "TIMESTAMP WITH TIME ZONE" if op.get_bind().dialect.name == "postgresql" else "DATETIME"
    op.execute(f"ALTER TABLE users ADD COLUMN locked_until {column_type}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("COMMENT ON COLUMN users.locked_until IS 'login throttling'")
    op.drop_index(op.f("ix_rate_counters_expires_at"), table_name="rate_counters")
    op.drop_table("rate_counters")
