"""dashboard indexes and the time to close

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 00:00:00

One index range per dashboard figure, so its cost follows the period's cases and not the size
of the database. Plain CREATE INDEX: no table is rebuilt (case_events keeps its triggers).
``cases.close_seconds`` keeps each closed case's time to close, so percentiles read numbers;
``sla_daily`` counts completed tasks per day, OPD and stage (filled from the existing tasks).
"""
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_case_events_action", "case_events", ["action", "occurred_at", "from_agency", "to_agency"]),
    ("ix_cases_closed", "cases", ["closed_at", "status", "agency_id", "category_id", "area_id", "close_seconds"]),
    ("ix_cases_created", "cases", ["created_at"]),
    ("ix_cases_status_area", "cases", ["status", "area_id"]),
    ("ix_cases_status_category", "cases", ["status", "category_id"]),
    ("ix_cases_status_created", "cases", ["status", "created_at"]),
    ("ix_escalations_raised", "escalations", ["raised_at", "agency_id", "level"]),
]


SLA_BACKFILL = """
INSERT INTO sla_daily (day, agency_id, form_key, completed, on_time)
SELECT {day}, agency_id, form_key, count(*), sum(CASE WHEN completed_at <= due_at THEN 1 ELSE 0 END)
FROM work_items
WHERE outcome = 'completed' AND due_at IS NOT NULL AND agency_id IS NOT NULL
  AND role IN ('triage', 'coordinator', 'qr_officer')
GROUP BY {day}, agency_id, form_key
"""


def upgrade() -> None:
    op.create_table(
        "sla_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("form_key", sa.String(length=60), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_sla_daily_agency_id_agencies")),
        sa.PrimaryKeyConstraint("day", "agency_id", "form_key", name=op.f("pk_sla_daily")),
    )
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    zone = bind.execute(sa.text("SELECT timezone FROM cities ORDER BY id LIMIT 1")).scalar()
    if zone is not None:  # without a city there is no work to count
        if postgres:
            day = f"(completed_at AT TIME ZONE '{ZoneInfo(zone).key}')::date"
        else:  # SQLite knows no zones: the city's offset today (Indonesia has no daylight saving)
            minutes = int(datetime.now(ZoneInfo(zone)).utcoffset().total_seconds() // 60)
            day = f"date(completed_at, '{minutes:+d} minutes')"
        op.execute(SLA_BACKFILL.format(day=day))
    op.add_column("cases", sa.Column("close_seconds", sa.Float(), nullable=True,
                                     comment="time from report to closure, for closed (not rejected or merged) cases"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE cases SET close_seconds = EXTRACT(EPOCH FROM closed_at - created_at) "
                   "WHERE status = 'closed'")
    else:
        op.execute("UPDATE cases SET close_seconds = (julianday(closed_at) - julianday(created_at)) * 86400 "
                   "WHERE status = 'closed'")
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("close_seconds")
    op.drop_table("sla_daily")
