"""Typed SQLAlchemy 2 models: reference data, reports and cases, engine state, projections, audit.

Column comments say what each column holds; the audit table is append-only (database triggers,
see the initial migration).
"""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from workflow.store.types import UTCDateTime
from workflow.vocabulary import OPEN_STATUSES, CaseStatus, Channel, DayKind, Following, NoticeChannel, Role

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")  # a new city's working week (the seed usually says)
WEEKDAYS_JSON = '["mon", "tue", "wed", "thu", "fri"]'


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict: JSON, Role: _enum(Role),
                           CaseStatus: _enum(CaseStatus), Channel: _enum(Channel),
                           NoticeChannel: _enum(NoticeChannel), Following: _enum(Following),
                           DayKind: _enum(DayKind)}


# --- reference data ---------------------------------------------------------------------------


class City(Base):
    __tablename__ = "cities"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), comment="IANA zone shown in the UI")
    geometry_hash: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the areas' geometry; the shapes are built once per value")
    duplicate_days: Mapped[int] = mapped_column(
        Integer, default=30, server_default="30", comment="how far back triage looks for duplicates")
    phone_country: Mapped[str] = mapped_column(
        String(4), default="62", server_default="62", comment="calling code of local numbers (0811… → 62811…)")
    quiet_notices: Mapped[list] = mapped_column(
        JSON, default=list, server_default="[]", comment="audit actions this city does not tell followers of")
    domain: Mapped[str] = mapped_column(
        String(253), default="", server_default="", comment="the city's web domain: its Open311 jurisdiction_id")
    contact: Mapped[str] = mapped_column(
        String(500), default="", server_default="", comment="who answers API users (Open311 discovery)")
    workdays: Mapped[list] = mapped_column(
        JSON, default=lambda: list(WEEKDAYS), server_default=WEEKDAYS_JSON,
        comment="the working week: day names mon ... sun (workflow.calendar)")
    work_starts: Mapped[str] = mapped_column(
        String(5), default="08:00", server_default="08:00", comment="offices open, HH:MM in the city's zone")
    work_ends: Mapped[str] = mapped_column(
        String(5), default="16:00", server_default="16:00", comment="offices close, HH:MM in the city's zone")
    calendar_hash: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the working week, hours and calendar days; the SLA calendar is built once per value")


class CalendarDay(Base):
    """A day of the city's business calendar that differs from its working week: cuti bersama
    and the city's own holidays (days off), or an extra working day (workflow.calendar)."""

    __tablename__ = "calendar_days"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True, comment="a local date of the city")
    kind: Mapped[DayKind] = mapped_column(comment="cuti_bersama, holiday or working_day")
    note: Mapped[str] = mapped_column(String(200), default="", server_default="", comment="why, as the calendar page shows it")


class NoticeTemplate(Base):
    """An administrator's text of a notice template, used instead of its file
    (workflow/notify/templates/<language>/<name>.txt) until removed."""

    __tablename__ = "notice_templates"
    __table_args__ = (UniqueConstraint("language", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(8), comment="id or en")
    name: Mapped[str] = mapped_column(String(80), comment="the file's name without .txt: case_closed, staff/escalation_raised")
    body: Mapped[str] = mapped_column(Text, comment="Jinja source, first line 'Subject: ...'")
    changed_at: Mapped[datetime]
    changed_by: Mapped[str] = mapped_column(String(200), comment="the administrator's username")


class Agency(Base):
    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(60))
    is_command_center: Mapped[bool] = mapped_column(Boolean, default=False)
    handles_reports: Mapped[bool] = mapped_column(Boolean, default=True,
                                                  comment="may receive cases and transfers")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Area(Base):
    """A kecamatan (parent_id NULL) or a kelurahan (parent_id = its kecamatan)."""

    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float, comment="approximate centre")
    lon: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[dict | None] = mapped_column(
        JSON(none_as_null=True), comment="GeoJSON Polygon or MultiPolygon (longitude first); see workflow.areas")

    parent: Mapped[Area | None] = relationship(remote_side=[id])

    @property
    def is_kecamatan(self) -> bool:
        return self.parent_id is None


class QrTeam(Base):
    __tablename__ = "qr_teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True,
                                         comment="the kecamatan the team covers")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    area: Mapped[Area] = relationship()


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, comment="Open311 service_code")
    name_id: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    description_id: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(60), default="")
    keywords: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    nearby_m: Mapped[int] = mapped_column(
        Integer, default=200, server_default="200",
        comment="open reports of the category this close count as the same problem (metres)")
    attributes: Mapped[list] = mapped_column(
        JSON, default=list, comment="extra fields the category asks for (Open311 attributes)")


class ResponseTemplate(Base):
    """A ready text for a form's text field (a closing note, a rejection reason, dispatch
    instructions; ``form_key`` "note" is a public reply on the case page), for one category or
    all (``category_id`` NULL), in both languages, with placeholders (workflow.responses)."""

    __tablename__ = "response_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    form_key: Mapped[str] = mapped_column(String(60), comment="the task form (tasks.yaml), or 'note'")
    field: Mapped[str] = mapped_column(String(60), comment="the form's text field it fills")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), comment="NULL: every category")
    title_id: Mapped[str] = mapped_column(String(120), comment="what staff choose it by (Indonesian)")
    title_en: Mapped[str] = mapped_column(String(120), comment="what staff choose it by (English)")
    text_id: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# --- people -----------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    session_token: Mapped[str] = mapped_column(
        String(32), default=lambda: secrets.token_hex(16),
        comment="part of the login session id; replaced at logout, which ends every session")

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin")


class Membership(Base):
    """A role held by a user, scoped to an agency, a QR team, or the whole city (both NULL)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "role", "agency_id", "team_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role]
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("qr_teams.id"))

    user: Mapped[User] = relationship(back_populates="memberships")


# --- reports and cases ------------------------------------------------------------------------


class Report(Base):
    """What the citizen sent. Never updated after insert."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_hash: Mapped[str] = mapped_column(
        String(64), unique=True,
        comment="HMAC-SHA256 of the tracking code under the tracking key (the code is never stored)")
    channel: Mapped[Channel]
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    description: Mapped[str] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), comment="kecamatan")
    kelurahan_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    anonymous: Mapped[bool] = mapped_column(
        Boolean, default=False,
        comment="the reporter's identity (name, e-mail, phone) is shown to no staff role")
    confidential: Mapped[bool] = mapped_column(Boolean, default=False,
                                               comment="keep the case off public pages")
    attributes: Mapped[dict | None] = mapped_column(comment="answers to the category's extra fields")
    media_url: Mapped[str | None] = mapped_column(String(500), comment="a photo link sent by an API client")
    submitted_at: Mapped[datetime]


class ProcessSpec(Base):
    """A process version: the serialized BPMN spec (with its subprocess and DMN specs) and the
    files it was made of, stored once per content hash. New cases start on the version deployed
    last (``deployed_at``); a case keeps its version until it is migrated."""

    __tablename__ = "process_specs"
    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    process_id: Mapped[str] = mapped_column(String(100))
    spec_json: Mapped[str] = mapped_column(Text)
    source: Mapped[dict] = mapped_column(comment="{file name: text}: the .bpmn, .dmn and tasks.yaml it was made of")
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, unique=True, comment="1, 2, ... in the order first deployed")
    deployed_at: Mapped[datetime] = mapped_column(
        index=True, comment="when it was (last) deployed: the latest is the one new cases start on")
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), comment="NULL: the files of a release")
    note: Mapped[str] = mapped_column(Text, default="", server_default="", comment="what changed, in the deployer's words")

    deployed_by: Mapped[User | None] = relationship()


# Literal, not bound: SQLite uses a partial index only for a query repeating its WHERE as written.
_OPEN_SQL = "status IN (" + ", ".join(f"'{s.value}'" for s in OPEN_STATUSES) + ")"
_OPEN_CASE_INDEX = text(_OPEN_SQL)
OPEN_CASE = text(f"cases.{_OPEN_SQL}")  # for queries: the case is open


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_agency", "status", "agency_id"),
        # the dashboard: each figure reads one of these ranges (covering where it matters)
        Index("ix_cases_status_category", "status", "category_id"),
        Index("ix_cases_status_area", "status", "area_id"),
        Index("ix_cases_status_created", "status", "created_at"),
        Index("ix_cases_created", "created_at"),
        Index("ix_cases_closed", "closed_at", "status", "agency_id", "category_id", "area_id", "close_seconds"),
        # the place queries (workflow.read.nearby): open cases near a point, and recent ones
        Index("ix_cases_open_place", "category_id", "lat", "lon",
              sqlite_where=_OPEN_CASE_INDEX, postgresql_where=_OPEN_CASE_INDEX),
        Index("ix_cases_recent_place", "category_id", "created_at", "lat", "lon"),
        # supporters of a case: the reports merged into it
        Index("ix_cases_merged_into", "merged_into_id", sqlite_where=text("merged_into_id IS NOT NULL"),
              postgresql_where=text("merged_into_id IS NOT NULL")),
        # the dashboard's ratings per OPD: the few rated cases of a period
        Index("ix_cases_rated", "rated_at", "agency_id", "rating", sqlite_where=text("rated_at IS NOT NULL"),
              postgresql_where=text("rated_at IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True, comment="e.g. 2026-000042")
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), unique=True)
    spec_id: Mapped[int] = mapped_column(ForeignKey("process_specs.id"),
                                         comment="the process version this case runs")
    status: Mapped[CaseStatus]
    stage: Mapped[str | None] = mapped_column(String(60), comment="form key of the current task")
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    lat: Mapped[float | None] = mapped_column(
        Float, comment="the point the reporter gave (NULL: it named an area only), for the place indexes")
    lon: Mapped[float | None] = mapped_column(Float)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("qr_teams.id"))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    transfer_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(comment="deadline of the current stage")
    expected_at: Mapped[datetime | None] = mapped_column(
        comment="when the case should be closed: the sum of its stages' SLA targets, in business time")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_seconds: Mapped[float | None] = mapped_column(
        Float, comment="time from report to closure, for closed (not rejected or merged) cases")
    rating: Mapped[int | None] = mapped_column(
        SmallInteger, comment="the reporter's rating of the handling when confirming the fix (tasks.yaml: rating)")
    rating_comment: Mapped[str | None] = mapped_column(Text, comment="the reporter's comment with the rating")
    rated_at: Mapped[datetime | None] = mapped_column(comment="when the reporter rated (the confirmation)")
    version: Mapped[int] = mapped_column(Integer, default=1, comment="optimistic lock")
    event_count: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0",
        comment="events in the case's audit chain; `audit verify` checks the chain is this long")

    report: Mapped[Report] = relationship(lazy="joined")
    category: Mapped[Category] = relationship()
    area: Mapped[Area] = relationship()
    agency: Mapped[Agency | None] = relationship()
    team: Mapped[QrTeam | None] = relationship()

    # Optimistic locking: every UPDATE says WHERE version = <the version loaded>. The counter is
    # moved by hand, once per command (workflow.commands.change.CaseChange.lock), not once per flush.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class CaseState(Base):
    """The case's serialized SpiffWorkflow state, without the spec."""

    __tablename__ = "case_states"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    state_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


_OPEN_ITEM = text("completed_at IS NULL")


class WorkItem(Base):
    """Projection of the human tasks of a case. Rows with ``completed_at IS NULL`` are exactly the
    READY tasks of the workflow; finished rows stay, so a late second attempt can be told who
    handled the task. Rewritten in the transaction that changes the state."""

    __tablename__ = "work_items"
    __table_args__ = (
        # the inbox, also filtered by kecamatan or category: the page in deadline order (the id
        # breaking ties, as the inbox sorts) from the index, with no sort of the scope
        Index("ix_work_items_inbox", "role", "agency_id", "due_at", "id",
              sqlite_where=_OPEN_ITEM, postgresql_where=_OPEN_ITEM),
        Index("ix_work_items_inbox_area", "role", "agency_id", "area_id", "due_at", "id",
              sqlite_where=_OPEN_ITEM, postgresql_where=_OPEN_ITEM),
        Index("ix_work_items_inbox_category", "role", "agency_id", "category_id", "due_at", "id",
              sqlite_where=_OPEN_ITEM, postgresql_where=_OPEN_ITEM),
        Index("ix_work_items_team", "team_id", "due_at",
              sqlite_where=_OPEN_ITEM, postgresql_where=_OPEN_ITEM),
        Index("ix_work_items_assignee", "assignee_id",
              sqlite_where=_OPEN_ITEM, postgresql_where=_OPEN_ITEM),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    bpmn_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    task_name: Mapped[str] = mapped_column(String(100), comment="BPMN task id, e.g. disposition")
    form_key: Mapped[str] = mapped_column(String(60))
    lane: Mapped[str] = mapped_column(String(60))
    role: Mapped[Role]
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("qr_teams.id"))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id"), comment="the case's, kept with the open item: the inbox filters on it")
    area_id: Mapped[int | None] = mapped_column(
        ForeignKey("areas.id"), comment="the case's kecamatan, kept with the open item: the inbox filters on it")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    at_risk_at: Mapped[datetime | None] = mapped_column(
        comment="when the item turns 'at risk' (a share of the time from creation to due)")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    sla_paused_since: Mapped[datetime | None] = mapped_column(
        comment="the SLA clock stands still since then: the case waits for the citizen")
    completed_at: Mapped[datetime | None] = mapped_column(comment="set when the task left READY")
    completed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="who completed it (NULL: citizen, system or cancelled)")
    outcome: Mapped[str | None] = mapped_column(String(16), comment="completed / cancelled")

    case: Mapped[Case] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])


class Timer(Base):
    """Projection of one WAITING timer event of a case."""

    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    bpmn_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    timer_name: Mapped[str] = mapped_column(String(100), comment="BPMN id of the timer event")
    guards_task: Mapped[str | None] = mapped_column(String(100),
                                                    comment="task the boundary timer sits on")
    interrupting: Mapped[bool] = mapped_column(Boolean)
    due_at: Mapped[datetime] = mapped_column(index=True)
    # Sweeper bookkeeping (escalation/sweeper.py); kept while the timer waits.
    lease_owner: Mapped[str | None] = mapped_column(String(80), comment="worker holding the lease")
    lease_expires_at: Mapped[datetime | None] = mapped_column(comment="another worker may take it after")
    attempts: Mapped[int] = mapped_column(Integer, default=0, comment="failed firing attempts")
    next_attempt_at: Mapped[datetime | None] = mapped_column(comment="backoff after a failure")
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(comment="gave up: an incident was recorded")


_OPEN_ESCALATION = text("resolved_at IS NULL")


class Escalation(Base):
    """A late task raised to a supervisor: by its SLA timer (breach), or at twice the target to
    the city level (critical). Open until a supervisor acknowledges it or the task is done."""

    __tablename__ = "escalations"
    __table_args__ = (
        # the escalation view: open late tasks in deadline order, city-wide and per OPD, and the
        # counts per level, each read from its index a page (or a capped count) at a time
        Index("ix_escalations_open_due", "due_at", "case_id", "task_name",
              sqlite_where=_OPEN_ESCALATION, postgresql_where=_OPEN_ESCALATION),
        Index("ix_escalations_open_agency_due", "agency_id", "due_at", "case_id", "task_name",
              sqlite_where=_OPEN_ESCALATION, postgresql_where=_OPEN_ESCALATION),
        Index("ix_escalations_open_level", "level", "agency_id",
              sqlite_where=_OPEN_ESCALATION, postgresql_where=_OPEN_ESCALATION),
        Index("ix_escalations_raised", "raised_at", "agency_id", "level"))
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), unique=True,
                                              comment="the supervisor's review task")
    task_name: Mapped[str] = mapped_column(String(100), comment="the late task")
    level: Mapped[str] = mapped_column(String(16), comment="breach / critical / pingpong")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"),
                                                  comment="supervisors of this OPD; NULL: city level")
    raised_at: Mapped[datetime]
    due_at: Mapped[datetime] = mapped_column(
        comment="the late task's deadline (the case's, kept while open; its raising time if it has none)")
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(comment="acknowledged, or the task was done")


class CaseEvent(Base):
    """The audit trail: append-only, hash-chained per case."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="case_seq"),
                      Index("ix_case_events_action", "action", "occurred_at", "from_agency", "to_agency"),
                      Index("ix_case_events_actor", "actor_user_id", "occurred_at"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer, comment="1, 2, ... within the case")
    occurred_at: Mapped[datetime]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(200), comment="username, 'system' or 'citizen'")
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(60), comment="<subject>_<past verb>")
    task_name: Mapped[str | None] = mapped_column(String(100), comment="task acted on")
    from_agency: Mapped[str | None] = mapped_column(String(32))
    to_agency: Mapped[str | None] = mapped_column(String(32))
    from_task: Mapped[str | None] = mapped_column(String(100))
    to_task: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text, comment="canonical JSON exactly as hashed")
    prev_hash: Mapped[str] = mapped_column(String(64))
    # unique per row (it covers case_id and seq): SQLite's driver can insert a command's events
    # in one statement and still tell whose id is whose (``insertmanyvalues``)
    hash: Mapped[str] = mapped_column(String(64), insert_sentinel=True)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), comment="before / after / evidence")
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    storage_name: Mapped[str] = mapped_column(String(80), unique=True,
                                              comment="random file name under the upload folder")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, comment="public reply shown to the citizen")
    created_at: Mapped[datetime]
    work_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_items.id"), index=True,
        comment="a supervisor's instruction: shown on this work item")

    author: Mapped[User | None] = relationship()


class Subscription(Base):
    """Someone told about a case: its reporter, the reporter of a duplicate merged into it, or a
    follower. The address is used for these notices and nothing else."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    following: Mapped[Following]
    channel: Mapped[NoticeChannel]
    address: Mapped[str] = mapped_column(String(200), comment="e-mail address or phone number")
    language: Mapped[str] = mapped_column(String(5), comment="of the notices: id or en")
    sealed_code: Mapped[str | None] = mapped_column(
        Text, comment="the reporter's tracking code sealed under the tracking key (for links)")
    created_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None] = mapped_column(comment="the stop link was used")


class OutboxMessage(Base):
    """One notice to one recipient, written with the change that caused it, delivered after
    commit by ``workflow.notify.delivery`` (leases, retries with backoff, then an incident)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "id"),
                      Index("ix_outbox_sent", "sent_at", "channel"),
                      Index("ix_outbox_failed", "failed_at", "channel", postgresql_where=text("failed_at IS NOT NULL"),
                            sqlite_where=text("failed_at IS NOT NULL")))
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(String(60), comment="the audit action it tells of")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    channel: Mapped[NoticeChannel | None]
    recipient: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(comment="the public facts the notice names")
    key: Mapped[str | None] = mapped_column(
        String(100), unique=True, comment="idempotency key: Message-ID, the gateway's reference")
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(comment="backoff after a failure")
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None] = mapped_column(comment="gave up: an incident was recorded")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))


class Incident(Base):
    """A BPMN step that failed. The case state was left as it was; admins see and retry these."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    operation: Mapped[str] = mapped_column(String(60))
    task_name: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str] = mapped_column(Text)
    details: Mapped[dict]
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="the admin who retried it (NULL: resolved by the system)")
    resolution_note: Mapped[str | None] = mapped_column(
        Text, comment="what the administrator who closed it did (NULL: retried)")


class ApiCredential(Base):
    """An Open311 API key (per client application) or a JSON API bearer token (per user).

    Only a hash of the secret is kept; ``prefix`` finds the row without it. Revoked credentials
    stay for the record."""

    __tablename__ = "api_credentials"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), comment="open311 / token")
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), comment="sha256 of the whole secret")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), comment="tokens act as this user")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship()


class SlaDaily(Base):
    """Completed staff tasks per local day (the city's time zone), OPD and stage, and how many met their deadline.

    A rollup kept in step by ``projections.sync_work_items`` (an upsert in the same
    transaction), so the dashboard's SLA figure reads a few hundred rows, not every task."""

    __tablename__ = "sla_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    form_key: Mapped[str] = mapped_column(String(60), primary_key=True)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)


class RateCounter(Base):
    """A counter of a fixed time window, shared by every worker and host: rate limits of the
    web app (``web.ratelimit``) and login attempts (``workflow.throttle``)."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(200), primary_key=True,
                                     comment="what is counted, e.g. login:user:budi")
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(index=True, comment="end of the current window")


class KeyCheck(Base):
    """A check value of a deployment secret (``workflow.store.tracking.check_key``)."""

    __tablename__ = "key_checks"
    name: Mapped[str] = mapped_column(String(40), primary_key=True, comment="which secret")
    check_value: Mapped[str] = mapped_column(
        String(64), comment="HMAC-SHA256 of a fixed text under the secret (not the secret)")


class SecurityEvent(Base):
    """The security log: who logged in or failed to, who changed what as an administrator, who
    opened a reporter's contact details. Append-only (database triggers, migration 0020) and one
    hash chain for the whole deployment (``workflow.store.security_log``)."""

    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_actor", "actor_user_id", "occurred_at"),
                      Index("ix_security_events_subject", "subject_user_id", "occurred_at"),
                      Index("ix_security_events_action", "action", "occurred_at"),
                      Index("ix_security_events_occurred", "occurred_at"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), unique=True,
                                     comment="1, 2, ... along the one chain")
    occurred_at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(60), comment="workflow.vocabulary.SecurityAction")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), comment="who acted (NULL: unknown)")
    actor_name: Mapped[str] = mapped_column(String(200), comment="username as typed, or 'system'")
    subject_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), comment="the account concerned")
    subject: Mapped[str | None] = mapped_column(String(200), comment="what it concerns, e.g. agency:DLH, case:42")
    client_ip: Mapped[str | None] = mapped_column(String(64), comment="the request's address, if any")
    details: Mapped[str] = mapped_column(Text, comment="canonical JSON exactly as hashed (old and new values)")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class SecurityChain(Base):
    """The head of the security log's chain: one row. Appending updates it first, which queues
    concurrent writers (the row lock on PostgreSQL) so that the chain never forks."""

    __tablename__ = "security_chain"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), comment="length of the chain")
    hash: Mapped[str] = mapped_column(String(64), comment="hash of its last event")


class ProcessMigration(Base):
    """Moving open cases from one process version to another, in the background: one case per
    transaction, the progress written with it, so that a worker killed halfway resumes after the
    last case it committed (``cursor_case_id``)."""

    __tablename__ = "process_migrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    from_spec_id: Mapped[int] = mapped_column(ForeignKey("process_specs.id"))
    to_spec_id: Mapped[int] = mapped_column(ForeignKey("process_specs.id"))
    case_filter: Mapped[dict] = mapped_column(comment="which open cases of the version: category, agency, stage")
    state: Mapped[str] = mapped_column(String(16), index=True, comment="queued / running / done / cancelled")
    total: Mapped[int] = mapped_column(Integer, comment="cases chosen when it was queued")
    migrated: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    cursor_case_id: Mapped[int] = mapped_column(Integer, default=0, comment="every case up to this id is handled")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(80), comment="worker running it")
    lease_expires_at: Mapped[datetime | None] = mapped_column(comment="another worker may take it over after")

    created_by: Mapped[User | None] = relationship()


class MigrationRefusal(Base):
    """A case a migration left on its version, and why."""

    __tablename__ = "migration_refusals"
    __table_args__ = (UniqueConstraint("migration_id", "case_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    migration_id: Mapped[int] = mapped_column(ForeignKey("process_migrations.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    reason: Mapped[str] = mapped_column(Text, comment="in the application's message form (workflow.messages)")


_BIG = BigInteger().with_variant(Integer, "sqlite")


class LogPending(Base):
    """An audit event signed in its own transaction and not yet in the Merkle log: the log's
    worker moves it there in commit order and removes this row (``workflow.store.merkle_log``).
    A row without a signature is an event written before the log existed (migration 0023),
    signed when the worker first takes it."""

    __tablename__ = "log_pending"
    id: Mapped[int] = mapped_column(_BIG, primary_key=True)
    case_event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"), unique=True)
    security_event_id: Mapped[int | None] = mapped_column(ForeignKey("security_events.id"), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(16), comment="the signing key (NULL: written before the log)")
    signature: Mapped[bytes | None] = mapped_column(LargeBinary, comment="Ed25519 over the event's leaf")

    case_event: Mapped[CaseEvent | None] = relationship()
    security_event: Mapped[SecurityEvent | None] = relationship()


class LogEntry(Base):
    """One leaf of the append-only Merkle log (RFC 9162 hashing): every audit event, in the order
    the log's worker took them. Append-only (triggers). ``case_id`` and ``seq`` are copied so that
    an event deleted later is still named."""

    __tablename__ = "log_entries"
    idx: Mapped[int] = mapped_column(_BIG, primary_key=True, autoincrement=False, comment="0, 1, ... leaf index")
    case_event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"), unique=True)
    security_event_id: Mapped[int | None] = mapped_column(ForeignKey("security_events.id"), unique=True)
    case_id: Mapped[int | None] = mapped_column(Integer, comment="the case's chain (NULL: the security log)")
    seq: Mapped[int] = mapped_column(_BIG, comment="the event's place in its chain")
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary, comment="sha256(0x00 || leaf)")
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes] = mapped_column(LargeBinary, comment="Ed25519 over the event's leaf")
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False,
                                             comment="written before the log existed, signed when it was added")
    logged_at: Mapped[datetime]


class LogNode(Base):
    """Hashes of complete subtrees of the log at every fourth level (16, 256, 4096 ... leaves),
    so that a proof reads at most 16 rows per step. Append-only (triggers)."""

    __tablename__ = "log_nodes"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(_BIG, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class TreeHead(Base):
    """A signed tree head: the log's size and root at a time, signed with the audit key and,
    when a time-stamp authority is configured, anchored by its RFC 3161 token. Append-only."""

    __tablename__ = "tree_heads"
    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(_BIG, index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    time: Mapped[str] = mapped_column(String(40), comment="UTC, ISO 8601, exactly as signed")
    issued_at: Mapped[datetime] = mapped_column(index=True)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes] = mapped_column(LargeBinary, comment="Ed25519 over tanggap_verify.head_message")
    tsa_token: Mapped[bytes | None] = mapped_column(LargeBinary, comment="RFC 3161 TimeStampToken (DER)")
    tsa_time: Mapped[datetime | None] = mapped_column(comment="the time the authority certified")
    tsa_error: Mapped[str | None] = mapped_column(Text, comment="why anchoring failed, if it did")


class LogState(Base):
    """The log's right edge (one row): its size and the roots of the complete subtrees it ends
    in. The worker updates it first, which queues a second worker behind the first."""

    __tablename__ = "log_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(_BIG, default=0)
    frontier: Mapped[str] = mapped_column(Text, default="", comment="hex subtree roots, largest first")
    legacy_pending_max: Mapped[int] = mapped_column(_BIG, default=0,
                                                    comment="pending rows up to this id are events from before the log")
    rejected: Mapped[int] = mapped_column(_BIG, default=0, comment="pending events refused (bad or no signature)")
    backfill_closed: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  comment="a signed event is in the log: no unsigned one is signed")
