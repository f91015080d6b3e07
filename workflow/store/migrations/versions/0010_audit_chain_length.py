"""the length of every audit chain on its case; no row replaced on SQLite

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:20:00

``cases.event_count`` is written with every event the case gets, in the same transaction, so
``tanggap audit verify`` can tell a chain whose last rows (or all rows) were deleted from a
complete one. On SQLite, ``INSERT OR REPLACE`` deletes the row it replaces without firing the
DELETE trigger; a BEFORE INSERT trigger now refuses any insert that would collide with an
existing event.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

APPEND_ONLY = "case_events is append-only: rows cannot be changed or deleted"


def upgrade() -> None:
    op.add_column("cases", sa.Column(
        "event_count", sa.Integer(), nullable=False, server_default="0",
        comment="events in the case's audit chain; `audit verify` checks the chain is this long"))
    op.execute("UPDATE cases SET event_count = COALESCE("
               "(SELECT max(seq) FROM case_events WHERE case_events.case_id = cases.id), 0)")
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"""
            CREATE TRIGGER case_events_no_replace BEFORE INSERT ON case_events
            WHEN EXISTS (SELECT 1 FROM case_events
                         WHERE id = NEW.id OR (case_id = NEW.case_id AND seq = NEW.seq))
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS case_events_no_replace")
    op.execute("ALTER TABLE cases DROP COLUMN event_count")
