"""The data generator and the work-list benchmark (bench/generate.py, bench/queries.py) keep
working: the copies are what the engine writes (the engine steps a sample and its chains verify),
the stages and statuses are spread as a city's, and a tiny run yields every figure with its
same-run baseline."""

from __future__ import annotations

import tempfile

import pytest
from sqlalchemy import func, select

from bench import generate, queries
from tests.conftest import PG_URL
from workflow.store.models import Case, CaseEvent, Escalation, WorkItem
from workflow.vocabulary import OPEN_STATUSES


@pytest.fixture
def city(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the benchmark's database goes here
    from bench.setup import fresh_services

    services = fresh_services(None, generate.NOW)
    yield services
    services.dispose()


@pytest.mark.timeout(180)
def test_the_copies_are_what_the_engine_writes(city):
    pool = generate.templates(city, 40)
    assert {t.open for t in pool} == {True, False}
    got = generate.generate(city, 600, pool=pool, open_share=0.2)
    assert got.cases == 600 and 60 < got.open < 200, got
    with city.reading() as session:
        copies = select(Case).where(Case.number.like("B%")).subquery()
        assert session.scalar(select(func.count()).select_from(copies)) == 600
        statuses = dict(session.execute(select(Case.status, func.count()).where(Case.number.like("B%"))
                                        .group_by(Case.status)).all())
        # the closed copies lie in the past years, the open ones where their templates stand
        oldest = session.scalar(select(func.min(Case.created_at)).where(Case.number.like("B%")))
        # every copy's chain is as long as its case says; open copies have open work
        lengths = dict(session.execute(select(CaseEvent.case_id, func.count()).group_by(CaseEvent.case_id)).all())
        counts = dict(session.execute(select(Case.id, Case.event_count).where(Case.number.like("B%"))).all())
        open_items = session.scalar(select(func.count()).select_from(WorkItem).join(Case, Case.id == WorkItem.case_id)
                                    .where(Case.number.like("B%"), WorkItem.completed_at.is_(None)))
        escalated = session.scalar(select(func.count(func.distinct(Escalation.case_id))).join(
            Case, Case.id == Escalation.case_id).where(Case.number.like("B%")))
    assert sum(n for s, n in statuses.items() if s in OPEN_STATUSES) == got.open
    assert statuses.get("closed", 0) > statuses.get("rejected", 0) > 0, statuses
    assert (generate.NOW - oldest).days > 300
    assert all(lengths.get(case_id, 0) == n for case_id, n in counts.items())
    assert open_items >= got.open and escalated > 0
    assert generate.check_sample(city, size=3) == []


@pytest.mark.timeout(180)
def test_a_broken_copy_is_found_by_the_sample_check(city):
    pool = generate.templates(city, 30)
    with pytest.MonkeyPatch.context() as m:  # a generator that chains its copies' events wrongly
        m.setattr(generate.audit, "compute_hash", lambda prev, payload: "0" * 64)
        generate.generate(city, 200, pool=pool, open_share=0.5)
    problems = generate.check_sample(city, size=2)
    assert problems and any("altered" in p for p in problems), problems


def _tiny_run(database_url: str | None) -> None:
    notes: list[str] = []
    figures = queries.figures("smoke", database_url, notes)
    assert [f.name.split(", p95")[0] for f in figures] == list(queries.TARGETS)
    for f in figures:
        assert f.value > 0 and f.baseline_value > 0 and f.ratio > 0, f
        assert f.target == queries.TARGETS[f.name.split(", p95")[0]][0]
    # both databases were checked: the engine stepped a sample of the copies, their chains verify
    checked = [n for n in notes if n.startswith("work lists,")]
    assert len(checked) == 2 and all("the engine stepped a sample" in n for n in checked), notes
    assert not [n for n in notes if "FAILED" in n], notes


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_tiny_run_yields_every_figure_with_its_baseline(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _tiny_run(None)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_tiny_run_on_postgresql(monkeypatch, tmp_path, pg_database):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _tiny_run(PG_URL)
