"""The business calendar as the city's data (/admin/calendar): working days and hours, cuti
bersama, the city's own holidays and extra working days; every worker's deadlines follow a change
without a restart, deadlines already set keep their time; each change is in the security log."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, text

from escalation.wiring import build
from tests.helpers import FAST_PASSWORDS, World, empty_database
from tests.webclient import WebClient, errors
from workflow import commands as domain
from workflow.calendar import read_rules
from workflow.commands import settings as settings_commands
from workflow.errors import Conflict, ValidationError
from workflow.store import schema, seed
from workflow.store.db import make_engine
from workflow.store.models import CalendarDay, City, SecurityEvent, WorkItem
from workflow.vocabulary import SecurityAction

WITA = ZoneInfo("Asia/Makassar")


def wita(*args) -> datetime:
    return datetime(*args, tzinfo=WITA)


def _build(settings, clock, definition):
    return build(settings, clock=clock, definition=definition, passwords=FAST_PASSWORDS)


@pytest.fixture
def city(settings, clock, definition, reference_restored):
    """Services with the city's calendar, as every process runs (the web app, the sweeper)."""
    svc = _build(settings, clock, definition)
    yield svc
    svc.dispose()


@pytest.fixture
def admin_web(city):
    from web import create_app

    World(city).user("admin", ("admin", None))
    web = WebClient(create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, services=city))
    web.login("admin")
    return web


def _triage_due(svc) -> datetime:
    """The deadline of the triage task of a report filed now, on ``svc``."""
    with svc.uow() as uow:
        domain.submit_report(uow, domain.ReportInput(category="sampah", description="Sampah menumpuk di pasar.",
                                                     lat=-5.156, lon=119.405, area="mariso"))
        uow.commit()
    with svc.reading() as session:
        return session.scalars(select(WorkItem).order_by(WorkItem.id.desc())).first().due_at


def _admin_changes(svc) -> list[dict]:
    with svc.reading() as session:
        return [json.loads(e.details) for e in session.scalars(
            select(SecurityEvent).where(SecurityEvent.action == str(SecurityAction.ADMIN_CHANGED))
            .order_by(SecurityEvent.seq))]


def _days(svc) -> list[tuple[date, str, str]]:
    with svc.reading() as session:
        return [(d.day, str(d.kind), d.note) for d in session.scalars(select(CalendarDay).order_by(CalendarDay.day))]


def _page(web, url="/admin/calendar") -> str:
    response = web.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


# -- deadlines follow the calendar ---------------------------------------------------------------------


def test_a_cuti_bersama_day_added_moves_new_deadlines_in_every_worker_but_not_the_ones_set(
        city, admin_web, settings, clock, definition):
    other = _build(settings, clock, definition)  # another worker (a gunicorn process, the sweeper)
    try:
        clock.set(wita(2026, 11, 23, 15, 0))  # Monday
        before = _triage_due(other)  # 4 working hours: one on Monday, three on Tuesday
        assert before == wita(2026, 11, 24, 11, 0)
        response = admin_web.post("/admin/calendar/days", {"day": "2026-11-24", "kind": "cuti_bersama",
                                                           "note": "Cuti bersama Hari Guru"}, page="/admin/calendar")
        assert response.status_code == 302
        clock.set(wita(2026, 11, 23, 15, 30))
        assert _triage_due(other) == wita(2026, 11, 25, 11, 30)  # Tuesday skipped, without a restart
        assert _triage_due(city) == wita(2026, 11, 25, 11, 30)
        with other.reading() as session:  # the task set before keeps its time
            first = session.scalars(select(WorkItem).order_by(WorkItem.id)).first()
        assert first.due_at == before
    finally:
        other.dispose()


def test_new_working_hours_and_an_extra_working_day_are_what_new_deadlines_count(city, admin_web, clock):
    clock.set(wita(2026, 11, 27, 15, 0))  # Friday
    assert _triage_due(city) == wita(2026, 11, 30, 11, 0)  # Monday
    page = _page(admin_web)
    token = read_rules_token(city)
    assert f'name="loaded" type="hidden" value="{token}"' in page
    response = admin_web.post("/admin/calendar/days", {"day": "2026-11-28", "kind": "working_day",
                                                       "note": "Pengganti cuti"})
    assert response.status_code == 302
    assert _triage_due(city) == wita(2026, 11, 28, 11, 0)  # Saturday is worked
    response = admin_web.post("/admin/calendar/hours", {"workdays": ["mon", "tue", "wed", "thu", "fri"],
                                                        "starts": "08:00", "ends": "14:00", "loaded": token})
    assert response.status_code == 302
    assert _triage_due(city) == wita(2026, 11, 28, 12, 0)  # offices closed at 14:00: Saturday 08:00 + 4 h


def read_rules_token(svc) -> str:
    with svc.reading() as session:
        return read_rules(session).hours_token()


def test_a_case_history_counts_working_time_by_the_calendar_as_it_is_now(city, admin_web, settings, clock,
                                                                          definition):
    from workflow.read import history

    other = _build(settings, clock, definition)  # the auditor's worker
    try:
        _triage_due(city)  # filed Monday 08:00, still in triage on Tuesday evening
        clock.set(wita(2026, 11, 24, 18, 0))
        auditor = World(city).auditor

        def working_time() -> timedelta:
            with other.reading() as session:
                case_id = session.scalar(select(WorkItem.case_id))
                return history.timeline(session, auditor, case_id, now=clock.now(), calendar=other.process.calendar,
                                        definition=other.definition).stages[0].business

        assert working_time() == timedelta(hours=16)
        admin_web.post("/admin/calendar/days", {"day": "2026-11-24", "kind": "cuti_bersama", "note": "Cuti"})
        assert working_time() == timedelta(hours=8)  # no unit of work ran in that worker meanwhile
    finally:
        other.dispose()


def test_the_calendar_is_checked_once_per_unit_of_work_not_once_per_deadline(city):
    calendar = city.process.calendar
    statements = []
    event.listen(city.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with city.reading() as session:
        calendar.refresh(session)  # built
        statements.clear()
        calendar.refresh(session)
        calendar.refresh(session)
    assert len(statements) == 2 and all("calendar_hash" in s for s in statements)
    start = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
    calendar.add_business_time(start, timedelta(hours=1))  # the city's zone, read once a process
    statements.clear()
    for hours in range(1, 200):
        calendar.add_business_time(start, timedelta(hours=hours))
    assert statements == []


def test_the_seed_gives_a_new_city_its_calendar_and_leaves_an_existing_one_alone(city, admin_web):
    with city.reading() as session:
        rules = read_rules(session)
    assert rules.workdays == ("mon", "tue", "wed", "thu", "fri") and (rules.starts, rules.ends) == ("08:00", "16:00")
    assert _days(city) == [(date(2026, 3, d), "cuti_bersama", "Idul Fitri 1447 H") for d in (20, 23, 24)]
    admin_web.post("/admin/calendar/hours", {"workdays": ["mon", "tue", "wed", "thu", "fri", "sat"],
                                             "starts": "07:00", "ends": "14:00", "loaded": rules.hours_token()})
    admin_web.post("/admin/calendar/days", {"day": "2026-12-24", "kind": "cuti_bersama", "note": "Natal"})
    admin_web.post("/admin/notices", {"told": ["report_submitted"], "loaded": ""})
    with city.uow() as uow:  # `tanggap seed` again, as after an upgrade
        seed.load_reference_data(uow.session)
        uow.commit()
    with city.reading() as session:
        rules = read_rules(session)
        quiet = session.scalar(select(City.quiet_notices))
    assert rules.workdays[-1] == "sat" and (rules.starts, rules.ends) == ("07:00", "14:00")
    assert (date(2026, 12, 24), "cuti_bersama", "Natal") in _days(city)
    assert "case_closed" in quiet


# -- the page ------------------------------------------------------------------------------------------


def test_the_page_lists_national_holidays_read_only_and_the_citys_days_to_remove(admin_web):
    page = _page(admin_web)
    assert "Batas waktu yang sudah ditetapkan tetap" in page
    assert "Hari Raya Natal" in page and "Libur nasional" in page  # from the holidays package
    assert 'data-day="2026-03-20"' in page and "Idul Fitri 1447 H" in page
    assert page.count("/remove") == 3  # the three cuti bersama days, not the national holidays
    assert page.count('aria-current="page">2026<') == 1
    next_year = _page(admin_web, "/admin/calendar?year=2027")
    assert "Tahun Baru Masehi" in next_year and "Jumat, 1 Januari 2027" in next_year
    assert "/remove" not in next_year and "Belum ada cuti bersama" in next_year
    for odd in ("1999", "abc", "9" * 40, "-1"):  # another year reads as this year
        assert 'data-day="2026-03-20"' in _page(admin_web, f"/admin/calendar?year={odd}")


def test_adding_and_removing_a_day_is_logged_with_old_and_new_values(city, admin_web):
    response = admin_web.post("/admin/calendar/days", {"day": " 2026-12-24 ", "kind": "cuti_bersama",
                                                       "note": "  Cuti bersama Natal "})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/calendar?year=2026")
    assert (date(2026, 12, 24), "cuti_bersama", "Cuti bersama Natal") in _days(city)
    page = _page(admin_web)
    assert "24 Desember 2026 ada di kalender" in page and 'data-day="2026-12-24"' in page
    with city.reading() as session:
        day_id = session.scalar(select(CalendarDay.id).where(CalendarDay.day == date(2026, 12, 24)))
    assert admin_web.post(f"/admin/calendar/days/{day_id}/remove").status_code == 302
    assert date(2026, 12, 24) not in [d for d, _k, _n in _days(city)]
    added, removed = _admin_changes(city)
    assert added == {"entity": "calendar_day", "key": "2026-12-24", "change": "created",
                     "fields": {"kind": {"old": None, "new": "cuti_bersama"},
                                "note": {"old": None, "new": "Cuti bersama Natal"}}}
    assert removed["change"] == "removed" and removed["fields"] == {
        "kind": {"old": "cuti_bersama", "new": None}, "note": {"old": "Cuti bersama Natal", "new": None}}


def test_removing_a_day_someone_else_removed_says_so(city, admin_web):
    with city.reading() as session:
        day_id = session.scalar(select(CalendarDay.id).order_by(CalendarDay.day))
    assert admin_web.post(f"/admin/calendar/days/{day_id}/remove").status_code == 302
    again = admin_web.post(f"/admin/calendar/days/{day_id}/remove")
    assert again.status_code == 409
    assert "sudah tidak ada di kalender: orang lain sudah menghapusnya" in again.get_data(as_text=True)
    assert admin_web.post(f"/admin/calendar/days/{'9' * 30}/remove").status_code == 404  # no id that long
    assert len(_admin_changes(city)) == 1


def test_changing_the_working_hours_is_logged_with_old_and_new_values(city, admin_web):
    token = read_rules_token(city)
    response = admin_web.post("/admin/calendar/hours", {"workdays": ["sat", "mon", "tue"], "starts": "07:00",
                                                        "ends": "15:00", "loaded": token})
    assert response.status_code == 302
    assert "Hari dan jam kerja disimpan" in _page(admin_web)
    (change,) = _admin_changes(city)
    assert change["entity"] == "calendar" and change["key"] == "working_hours" and change["change"] == "changed"
    assert change["fields"] == {"workdays": {"old": ["mon", "tue", "wed", "thu", "fri"], "new": ["mon", "tue", "sat"]},
                                "starts": {"old": "08:00", "new": "07:00"}, "ends": {"old": "16:00", "new": "15:00"}}
    same = admin_web.post("/admin/calendar/hours", {"workdays": ["mon", "tue", "sat"], "starts": "07:00",
                                                    "ends": "15:00", "loaded": read_rules_token(city)})
    assert same.status_code == 302 and len(_admin_changes(city)) == 1  # nothing moved: nothing logged


@pytest.mark.parametrize("data, field, message", [
    ({"starts": "16:00", "ends": "08:00"}, "ends", "Hari kerja harus berakhir setelah dimulai"),
    ({"starts": "08:00", "ends": "08:00"}, "ends", "Hari kerja harus berakhir setelah dimulai"),
    ({"workdays": []}, "workdays", "Pilih paling sedikit satu hari kerja"),
    ({"workdays": ["mon", "funday"]}, "workdays", "Pilih hari dalam seminggu"),
    ({"starts": "8:00"}, "starts", "Tulis jam sebagai JJ:MM"),
    ({"starts": "08:00:00"}, "starts", "Tulis jam sebagai JJ:MM"),
    ({"ends": "24:00"}, "ends", "Tulis jam sebagai JJ:MM"),
    ({"ends": "16.00"}, "ends", "Tulis jam sebagai JJ:MM"),
    ({"starts": ""}, "starts", "wajib diisi"),
    ({"starts": "08:00\x00"}, "starts", "karakter yang tidak diizinkan"),
    ({"ends": "\x1b[31m"}, "ends", "karakter yang tidak diizinkan"),
    ({"starts": "9" * 5000}, "starts", "Tulis jam sebagai JJ:MM"),
])
def test_working_hours_that_cannot_be_used_are_refused_with_what_was_typed(city, admin_web, data, field, message):
    rules_before = read_rules_token(city)
    form = {"workdays": ["mon", "tue", "wed"], "starts": "07:15", "ends": "15:45", "loaded": rules_before, **data}
    response = admin_web.post("/admin/calendar/hours", form)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert any(message.lower() in e.lower() for e in errors(response)), errors(response)
    assert f'aria-describedby="{field}' in body or f'id="{field}-0"' in body
    if "\x00" not in form["starts"] and "\x1b" not in form["ends"]:
        assert f'value="{form["starts"][:20]}' in body and f'value="{form["ends"]}"' in body
    assert read_rules_token(city) == rules_before and _admin_changes(city) == []


def test_two_administrators_changing_the_hours_at_once_get_a_conflict_not_a_silent_overwrite(city, admin_web):
    token = read_rules_token(city)  # what both pages showed
    World(city).user("admin2", ("admin", None))
    from web import create_app

    other = WebClient(create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, services=city))
    other.login("admin2")
    assert other.post("/admin/calendar/hours", {"workdays": ["mon", "tue", "wed", "thu"], "starts": "08:00",
                                                "ends": "16:00", "loaded": token}).status_code == 302
    late = admin_web.post("/admin/calendar/hours", {"workdays": ["mon", "tue", "wed", "thu", "fri"],
                                                    "starts": "09:00", "ends": "17:00", "loaded": token})
    body = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Orang lain mengubah jam kerja sejak Anda membuka halaman ini" in body
    assert 'value="09:00"' in body and 'value="17:00"' in body  # what was typed stays
    assert "Sekarang: Senin, Selasa, Rabu, Kamis, 08:00–16:00" in body
    assert read_rules_token(city) == "mon,tue,wed,thu|08:00|16:00"
    new_token = read_rules_token(city)
    assert f'value="{new_token}"' in body  # saving again replaces it, knowingly
    again = admin_web.post("/admin/calendar/hours", {"workdays": ["mon", "tue", "wed", "thu", "fri"],
                                                     "starts": "09:00", "ends": "17:00", "loaded": new_token})
    assert again.status_code == 302 and read_rules_token(city) == "mon,tue,wed,thu,fri|09:00|17:00"


@pytest.mark.parametrize("data, field, message", [
    ({"day": ""}, "day", "wajib diisi"),
    ({"day": "2026-02-30"}, "day", "TTTT-BB-HH"),
    ({"day": "24/12/2026"}, "day", "TTTT-BB-HH"),
    ({"day": "99999-01-01"}, "day", "TTTT-BB-HH"),
    ({"day": "9" * 3000}, "day", "TTTT-BB-HH"),
    ({"day": "2030-12-24"}, "day", "Pilih hari pada tahun 2026 atau 2027"),
    ({"day": "2025-12-24"}, "day", "Pilih hari pada tahun 2026 atau 2027"),
    ({"day": "2026-03-20"}, "day", "sudah ada di kalender"),
    ({"day": "2026-11-29"}, "day", "memang bukan hari kerja"),  # a Sunday
    ({"day": "2026-12-25"}, "day", "memang bukan hari kerja"),  # Christmas, national
    ({"day": "2026-12-24", "kind": "working_day"}, "day", "sudah hari kerja"),  # a Thursday
    ({"kind": "bogus"}, "kind", "Pilih salah satu jenis"),
    ({"note": ""}, "note", "wajib diisi"),
    ({"note": "   "}, "note", "wajib diisi"),
    ({"note": "x" * 201}, "note", "paling banyak 200 karakter"),
    ({"note": "Natal\x00"}, "note", "karakter yang tidak diizinkan"),
    ({"day": "2026-12-24\x85"}, "day", "karakter yang tidak diizinkan"),
])
def test_a_day_that_cannot_be_added_is_refused_with_what_was_typed(city, admin_web, data, field, message):
    form = {"day": "2026-12-24", "kind": "cuti_bersama", "note": "Cuti bersama Natal", **data}
    before = _days(city)
    response = admin_web.post("/admin/calendar/days", form)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert any(message.lower() in e.lower() for e in errors(response)), errors(response)
    assert f'id="{field}-error-1"' in body and f'{field}-error-1"' in body.split(f'id="{field}-error-1"')[0]
    if "\x00" not in form["note"] and "\x85" not in form["day"] and len(form["note"]) < 100:
        assert f'value="{form["note"]}"' in body
    assert _days(city) == before and _admin_changes(city) == []


def test_the_commands_refuse_odd_text_the_web_cannot_carry_and_non_administrators(city):
    w = World(city)
    admin = settings_commands.Admin(w.user("admin", ("admin", None)))
    coordinator = settings_commands.Admin(w.dlh)
    with pytest.raises(ValidationError) as refused, city.uow() as uow:
        settings_commands.add_calendar_day(uow, admin, day="2026-12-24", kind="cuti_bersama", note="Natal\ud800")
    assert refused.value.errors == {"note": "contains characters that are not allowed (control characters or broken Unicode)"}
    from workflow.errors import PermissionDenied

    with pytest.raises(PermissionDenied), city.uow() as uow:
        settings_commands.remove_calendar_day(uow, coordinator, 1)
    with pytest.raises(Conflict), city.uow() as uow:
        settings_commands.set_working_hours(uow, admin, workdays=["mon"], starts="08:00", ends="16:00",
                                            loaded="mon,tue|08:00|16:00")
    assert len(_days(city)) == 3 and _admin_changes(city) == []


# -- migration 0022: the old calendar.yaml moves into the database -------------------------------------


def _old_city(engine) -> None:
    """A city as it stood before migration 0022 (its calendar in bpmn/calendar.yaml)."""
    schema.upgrade(engine, "0020")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cities (code, name, timezone) VALUES ('makassar', 'Kota Makassar', "
                          "'Asia/Makassar')"))


def _migrated(engine):
    with engine.connect() as conn:
        city = conn.execute(text("SELECT workdays, work_starts, work_ends, calendar_hash FROM cities")).one()
        days = conn.execute(text("SELECT day, kind, note FROM calendar_days ORDER BY day")).all()
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        digest = read_rules(session).digest()
    workdays = city.workdays if isinstance(city.workdays, list) else json.loads(city.workdays)
    return workdays, city.work_starts, city.work_ends, city.calendar_hash == digest, [
        (d.day if isinstance(d.day, date) else date.fromisoformat(d.day), d.kind, d.note) for d in days]


SHIPPED = (["mon", "tue", "wed", "thu", "fri"], "08:00", "16:00", True,
           [(date(2026, 3, d), "cuti_bersama", "Idul Fitri 1447 H") for d in (20, 23, 24)])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0022_keeps_the_calendar_an_existing_city_had(tmp_path, backend):
    with empty_database(backend, tmp_path, "calendar") as engine:
        _old_city(engine)
        schema.upgrade(engine, calendar_file=tmp_path / "no-such-calendar.yaml")  # the file is gone
        assert _migrated(engine) == SHIPPED


def test_migration_0022_moves_a_deployments_own_calendar_yaml(tmp_path):
    own = tmp_path / "calendar.yaml"
    own.write_text("workdays: [Monday, tue, wed, thu, fri, sat]\nhours: \"07:30-15:00\"\ncuti_bersama:\n"
                   "  - 2026-12-24   # Natal\n  - 2026-12-31\n", encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        _old_city(engine)
        schema.upgrade(engine, calendar_file=own)
        assert _migrated(engine) == (["mon", "tue", "wed", "thu", "fri", "sat"], "07:30", "15:00", True,
                                     [(date(2026, 12, 24), "cuti_bersama", "Natal"),
                                      (date(2026, 12, 31), "cuti_bersama", "")])
    finally:
        engine.dispose()


def test_migration_0022_leaves_a_database_without_a_city_to_the_seed(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    try:
        schema.upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM calendar_days")).scalar() == 0
    finally:
        engine.dispose()


# -- racing administrators -----------------------------------------------------------------------------


def _race(count: int, act) -> list[object]:
    """``act(i)`` in ``count`` threads at once: "done", or the domain error it raised."""
    import threading

    from workflow.errors import DomainError

    barrier, outcomes = threading.Barrier(count), [None] * count

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            act(i)
            outcomes[i] = "done"
        except DomainError as exc:
            outcomes[i] = exc
        except Exception as exc:  # noqa: BLE001 - anything else is the failure being tested
            outcomes[i] = f"unexpected {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racer never finished"
    return outcomes


def test_administrators_adding_the_same_day_at_once_add_it_once(city):
    w = World(city)
    admins = [settings_commands.Admin(w.user(f"admin{i}", ("admin", None))) for i in range(3)]

    def add(i: int) -> None:
        with city.uow() as uow:
            settings_commands.add_calendar_day(uow, admins[i], day="2026-12-24", kind="cuti_bersama",
                                               note=f"Natal {i}")
            uow.commit()

    outcomes = _race(3, add)
    assert outcomes.count("done") == 1, outcomes
    assert all(isinstance(o, (ValidationError, Conflict)) for o in outcomes if o != "done"), outcomes
    assert [d for d, _k, _n in _days(city)].count(date(2026, 12, 24)) == 1
    assert len(_admin_changes(city)) == 1


def test_administrators_saving_the_hours_at_once_one_wins_the_other_is_told(city):
    w = World(city)
    admins = [settings_commands.Admin(w.user(f"admin{i}", ("admin", None))) for i in range(2)]
    token = read_rules_token(city)

    def save(i: int) -> None:
        with city.uow() as uow:
            settings_commands.set_working_hours(uow, admins[i], workdays=["mon", "tue", "wed"],
                                                starts=f"0{7 + i}:00", ends="15:00", loaded=token)
            uow.commit()

    outcomes = _race(2, save)
    assert outcomes.count("done") == 1 and isinstance(next(o for o in outcomes if o != "done"), Conflict), outcomes
    winner = outcomes.index("done")
    assert read_rules_token(city) == f"mon,tue,wed|0{7 + winner}:00|15:00"
    assert len(_admin_changes(city)) == 1
