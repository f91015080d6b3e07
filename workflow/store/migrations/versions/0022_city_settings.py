"""the business calendar and notice templates as the city's data

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 16:00:00

The working week and hours move from ``bpmn/calendar.yaml`` to the city (``cities.workdays``,
``work_starts``, ``work_ends``), its cuti bersama to ``calendar_days`` (with the city's own
holidays and extra working days, which an administrator adds on /admin/calendar);
``cities.calendar_hash`` tells every worker when to rebuild its SLA calendar. An existing city
keeps the calendar it had: the deployment's ``calendar.yaml`` when ``tanggap db upgrade`` finds one
in its ``TANGGAP_BPMN_DIR``, else the values the file shipped with until this revision. A database
without a city is left to the seed.

``notice_templates`` holds an administrator's text of a notice template, used instead of its file.
"""
import hashlib
import json
import re
from datetime import date, time
from pathlib import Path

import sqlalchemy as sa
import yaml
from alembic import context, op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

NOTED = re.compile(r"^\s*-\s*(\d{4}-\d{2}-\d{2})\s*#(.*)$", re.MULTILINE)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# bpmn/calendar.yaml as it shipped until this revision
SHIPPED = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": "08:00-16:00",
           "cuti_bersama": [(date(2026, 3, 20), "Idul Fitri 1447 H"), (date(2026, 3, 23), "Idul Fitri 1447 H"),
                            (date(2026, 3, 24), "Idul Fitri 1447 H")]}


def upgrade() -> None:
    # plain ADD COLUMN (SQLite too): areas refer to cities, which a table copy would break
    op.add_column("cities", sa.Column("workdays", sa.JSON(), nullable=False,
                                      server_default='["mon", "tue", "wed", "thu", "fri"]',
                                      comment="the working week: day names mon ... sun (workflow.calendar)"))
    op.add_column("cities", sa.Column("work_starts", sa.String(length=5), nullable=False, server_default="08:00",
                                      comment="offices open, HH:MM in the city's zone"))
    op.add_column("cities", sa.Column("work_ends", sa.String(length=5), nullable=False, server_default="16:00",
                                      comment="offices close, HH:MM in the city's zone"))
    op.add_column("cities", sa.Column(
        "calendar_hash", sa.String(length=64), nullable=True,
        comment="SHA-256 of the working week, hours and calendar days; the SLA calendar is built once per value"))
    days = op.create_table(
        "calendar_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="a local date of the city"),
        sa.Column("kind", sa.Enum("cuti_bersama", "holiday", "working_day", name="daykind", native_enum=False,
                                  length=32), nullable=False, comment="cuti_bersama, holiday or working_day"),
        sa.Column("note", sa.String(length=200), nullable=False, server_default="",
                  comment="why, as the calendar page shows it"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_days")),
        sa.UniqueConstraint("day", name=op.f("uq_calendar_days_day")),
    )
    op.create_table(
        "notice_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False, comment="id or en"),
        sa.Column("name", sa.String(length=80), nullable=False,
                  comment="the file's name without .txt: case_closed, staff/escalation_raised"),
        sa.Column("body", sa.Text(), nullable=False, comment="Jinja source, first line 'Subject: ...'"),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False, comment="the administrator's username"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_templates")),
        sa.UniqueConstraint("language", "name", name=op.f("uq_notice_templates_language")),
    )
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT COUNT(*) FROM cities")).scalar() == 0:
        return  # a new installation: the seed gives the calendar
    workdays, starts, ends, cuti = _old_calendar()
    conn.execute(sa.text("UPDATE cities SET workdays = :w, work_starts = :s, work_ends = :e"),
                 {"w": json.dumps(workdays), "s": starts, "e": ends})
    if cuti:
        op.bulk_insert(days, [{"day": d, "kind": "cuti_bersama", "note": note} for d, note in cuti])
    # the key workflow.calendar.Rules.digest computes for this content
    body = [workdays, starts, ends, [[d.isoformat(), "cuti_bersama", note] for d, note in cuti]]
    digest = hashlib.sha256(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    conn.execute(sa.text("UPDATE cities SET calendar_hash = :h"), {"h": digest})


def _old_calendar() -> tuple[list[str], str, str, list[tuple[date, str]]]:
    """(workdays in week order, opens, closes, [(cuti bersama day, note)]) of the deployment's
    calendar.yaml (``context.config.attributes['calendar_file']``), or of the shipped one."""
    path = context.config.attributes.get("calendar_file")
    if path is None or not Path(path).is_file():
        data = SHIPPED
        cuti = list(SHIPPED["cuti_bersama"])
    else:
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        notes = {m.group(1): m.group(2).strip() for m in NOTED.finditer(text)}  # "- 2026-03-20  # Idul Fitri"
        cuti = sorted({date.fromisoformat(str(d)): notes.get(str(d), "")[:200]
                       for d in data.get("cuti_bersama") or ()}.items())
    names = {str(d).lower()[:3] for d in data.get("workdays") or SHIPPED["workdays"]}
    unknown = names - set(DAY_NAMES)
    if unknown:
        raise ValueError(f"{path}: workdays must be day names (mon ... sun), not {sorted(unknown)}")
    opens, _, closes = str(data.get("hours", SHIPPED["hours"])).partition("-")
    return [d for d in DAY_NAMES if d in names], _hhmm(opens, path), _hhmm(closes, path), cuti


def _hhmm(text: str, path) -> str:
    try:
        return time.fromisoformat(text.strip()).strftime("%H:%M")
    except ValueError:
        raise ValueError(f"{path}: hours must be HH:MM-HH:MM, not {text!r}") from None


def downgrade() -> None:
    op.drop_table("notice_templates")
    op.drop_table("calendar_days")
    for column in ("calendar_hash", "work_ends", "work_starts", "workdays"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE cities DROP COLUMN {column}")  # SQLite 3.35+, in place
        else:
            op.drop_column("cities", column)
