"""Each access rule exists twice in ``workflow/access.py``: as a Python predicate (one object)
and as a SQL condition (lists read from the database). For generated actors, over every
combination of agency and team an object can have, both must pick the same objects."""

from __future__ import annotations

import enum
import itertools
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from workflow import access
from workflow.access import Actor, Scope, Screen
from workflow.store.models import Base, Case, Escalation, Membership, Report, WorkItem
from workflow.vocabulary import CaseStatus, Role

AGENCIES = (None, 1, 2, 3)
TEAMS = (None, 1, 2)
NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)


def _filler(column, n: int):
    """A value for a required column the rule does not look at (unique per row)."""
    kind = getattr(column.type, "impl_instance", column.type).python_type
    if issubclass(kind, enum.Enum):
        return next(iter(kind))
    if kind is bool:
        return False
    if kind in (int, float):
        return n
    if kind is datetime:
        return NOW
    if kind is dict:
        return {}
    return f"v{n}"


def _rows(table, given: list[dict]) -> list[dict]:
    rows = []
    for n, values in enumerate(given, start=1):
        row = dict(values, id=n)
        for column in table.columns:
            if column.name not in row and not column.nullable and column.default is None \
                    and column.server_default is None:
                row[column.name] = _filler(column, n)
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def universe():
    """Every agency/team combination for cases and escalations, every role/agency/team for work
    items and memberships, in an in-memory database (the rules read no other column)."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    places = list(itertools.product(AGENCIES, TEAMS))
    cases = [{"agency_id": a, "team_id": t, "status": CaseStatus.IN_PROGRESS} for a, t in places]
    items = [{"role": r, "agency_id": a, "team_id": t, "case_id": 1}
             for r, (a, t) in itertools.product(Role, places)]
    escalations = [{"agency_id": a, "case_id": 1, "work_item_id": n}
                   for n, a in enumerate(AGENCIES, start=1)]
    memberships = [{"role": r, "agency_id": a, "team_id": t, "user_id": 1}
                   for r, (a, t) in itertools.product(Role, places)]
    with engine.begin() as conn:
        for model, given_rows in ((Case, cases), (WorkItem, items), (Escalation, escalations),
                                  (Membership, memberships)):
            conn.execute(insert(model.__table__), _rows(model.__table__, given_rows))
    session = Session(engine)
    yield session
    session.close()
    engine.dispose()


scopes = st.builds(Scope, role=st.sampled_from(list(Role)), agency_id=st.sampled_from(AGENCIES),
                   team_id=st.sampled_from(TEAMS))
actors = st.builds(lambda s: Actor(user_id=7, name="x", scopes=tuple(s)),
                   st.lists(scopes, max_size=3))


def _picked(session, model, condition) -> set[int]:
    return set(session.scalars(select(model.id).where(condition)))


def _kept(session, model, predicate) -> set[int]:
    return {o.id for o in session.scalars(select(model)) if predicate(o)}


@settings(max_examples=300, deadline=None)
@given(actor=actors)
def test_the_sql_of_each_rule_picks_what_its_predicate_allows(universe, actor):
    s = universe
    assert _picked(s, Case, access.cases_visible(actor)) == _kept(
        s, Case, lambda c: access.can_view_case(actor, c))
    assert _picked(s, Case, access.histories_readable(actor)) == _kept(
        s, Case, lambda c: access.can_read_history(actor, c))
    assert _picked(s, Escalation, access.escalations_visible(actor)) == _kept(
        s, Escalation, lambda e: access.can_see_escalation(actor, e))
    assert _picked(s, WorkItem, access.work_supervised(actor)) == _kept(
        s, WorkItem, lambda i: access.supervising_role(actor, i.agency_id) is not None)
    inbox_roles = access.SCREEN_ROLES[Screen.INBOX]
    assert _picked(s, WorkItem, access.items_workable(actor)) == _kept(
        s, WorkItem, lambda i: i.role in inbox_roles and access.role_for_item(actor, i) is not None)


@settings(max_examples=150, deadline=None)
@given(item=st.builds(lambda r, a, t: WorkItem(role=r, agency_id=a, team_id=t),
                      st.sampled_from(list(Role)), st.sampled_from(AGENCIES), st.sampled_from(TEAMS)))
def test_whom_an_item_can_be_reassigned_to_is_whom_it_lets_work_it(universe, item):
    s = universe
    assert _picked(s, Membership, access.memberships_working(item)) == _kept(
        s, Membership, lambda m: access.role_for_item(
            Actor(7, "x", (Scope(m.role, m.agency_id, m.team_id),)), item) is not None)


def test_the_universe_holds_objects_each_rule_lets_through_and_keeps_out(universe):
    """The properties above would hold trivially if every rule picked nothing."""
    s = universe
    dlh_coordinator = Actor(7, "x", (Scope(Role.COORDINATOR, agency_id=2),))
    picked = _picked(s, Case, access.cases_visible(dlh_coordinator))
    assert picked and len(picked) < len(AGENCIES) * len(TEAMS)
    assert {c.agency_id for c in s.scalars(select(Case).where(Case.id.in_(picked)))} == {2}
    city_supervisor = Actor(7, "x", (Scope(Role.SUPERVISOR),))
    assert len(_picked(s, Escalation, access.escalations_visible(city_supervisor))) == len(AGENCIES)
    assert _picked(s, Escalation, access.escalations_visible(dlh_coordinator)) == set()


@pytest.fixture(scope="module")
def reported():
    """Cases of every agency/team and status, their reports anonymous or not (the contact rule
    reads the case's status and its report)."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    combos = list(itertools.product(AGENCIES, TEAMS, CaseStatus, (False, True)))
    reports = [{"anonymous": anonymous, "tracking_hash": f"h{n}"} for n, (*_r, anonymous) in enumerate(combos)]
    cases = [{"agency_id": a, "team_id": t, "status": status, "report_id": n}
             for n, (a, t, status, _anon) in enumerate(combos, start=1)]
    with engine.begin() as conn:
        conn.execute(insert(Report.__table__), _rows(Report.__table__, reports))
        conn.execute(insert(Case.__table__), _rows(Case.__table__, cases))
    session = Session(engine)
    yield session
    session.close()
    engine.dispose()


@settings(max_examples=200, deadline=None)
@given(actor=actors)
def test_a_search_by_contact_matches_only_cases_whose_contact_the_actor_sees(reported, actor):
    s = reported
    picked = set(s.scalars(select(Case.id).join(Report, Report.id == Case.report_id)
                           .where(access.contacts_visible(actor))))
    assert picked == _kept(s, Case, lambda c: access.can_see_contact(actor, c))


def test_the_contact_universe_holds_cases_each_desk_may_call_back(reported):
    dlh = Actor(7, "x", (Scope(Role.COORDINATOR, agency_id=2),))
    picked = set(reported.scalars(select(Case.id).join(Report, Report.id == Case.report_id)
                                  .where(access.contacts_visible(dlh))))
    assert picked and {reported.get(Case, i).agency_id for i in picked} == {2}
    assert not any(reported.get(Case, i).report.anonymous for i in picked)
