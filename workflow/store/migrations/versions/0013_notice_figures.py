"""indexes for the dashboard's notice figures

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:00:00

The dashboard counts, per channel and period, the notices sent, given up and stopped by their
recipient. ``ix_outbox_sent`` covers the sent ones (a range of ``sent_at``, the channel read from
the index); ``ix_outbox_failed`` is partial, holding only the few rows that did not go out, so
rows on their way cost it nothing.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_sent", "outbox", ["sent_at", "channel"])
    op.create_index("ix_outbox_failed", "outbox", ["failed_at", "channel"],
                    postgresql_where=sa.text("failed_at IS NOT NULL"),
                    sqlite_where=sa.text("failed_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_outbox_failed", table_name="outbox")
    op.drop_index("ix_outbox_sent", table_name="outbox")
