"""The dashboard's figures on seeded data with known answers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from escalation.sweeper import Sweeper
from tests import actions
from tests.conftest import START
from tests.webclient import WebClient
from workflow.errors import ValidationError
from workflow.read import dashboard

H = timedelta(hours=1)


def _close(w, sub, coordinator, *, hours, team="qr-mariso-1", late_dispatch=False):
    """Drive a case to closure; the citizen confirms ``hours`` after the report came in."""
    created = w.case(sub.case_id).created_at
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.accept, coordinator, sub.case_id)
    if late_dispatch:
        w.services.clock.set(w.item(sub.case_id).due_at + timedelta(minutes=1))
    w.do(actions.dispatch, coordinator, sub.case_id, team=team)
    w.field_work(w.qr_mariso, sub.case_id)
    w.do(actions.verify, coordinator, sub.case_id, approve=True)
    w.do(actions.close, coordinator, sub.case_id, closure_note="Selesai ditangani di lapangan.")
    w.services.clock.set(created + hours * H)
    w.citizen(actions.confirm, sub.tracking_code)


@pytest.fixture
def seeded(world):
    w = world
    clock = w.services.clock
    subs = {}
    clock.set(START)  # Monday 23 Nov, 08:00 WITA
    subs["a"] = w.report()  # DLH, mariso
    _close(w, subs["a"], w.dlh, hours=4)
    clock.set(START + timedelta(days=1))
    subs["b"] = w.report(area="mariso", description="Sampah di selokan belakang pasar.")
    _close(w, subs["b"], w.dlh, hours=30, late_dispatch=True)
    clock.set(START + timedelta(days=2))
    subs["c"] = w.report(category="lampu-rambu", attributes={"jenis": "lampu"},
                         description="Lampu jalan mati di depan sekolah.")
    _close(w, subs["c"], w.dpu, hours=20)
    clock.set(START + timedelta(days=8))  # the next week
    subs["d"] = w.report(area="tallo", kelurahan=None, lat=-5.105, lon=119.44)  # DLH, still at triage
    subs["e"] = w.report(description="Sampah dan lumpur di saluran pasar.")
    w.do(actions.triage, w.triage, subs["e"].case_id, decision="valid")
    w.do(actions.transfer, w.dlh, subs["e"].case_id, to_agency="DPU", reason="Saluran: DPU")
    clock.set(w.item(subs["e"].case_id).due_at)
    Sweeper(w.services, worker="t").run_once()  # DPU's disposition breach (and d's triage breach)
    subs["f"] = w.report(description="Laporan tidak jelas sama sekali.")
    w.do(actions.triage, w.triage, subs["f"].case_id, decision="reject", reason="Tidak jelas")
    return subs


def _board(w, start="2026-11-23", end="2026-12-06"):
    with w.services.reading() as session:
        return dashboard.build(session, dashboard.Period.parse(start, end, w.services.clock.now().date(), w.services.zone),
                               w.services.clock.now())


def _codes(pairs):
    return {n.code: c for n, c in pairs}


def test_every_figure_has_the_known_answer(world, seeded):
    w = world
    d = _board(w)
    assert _codes(d.open_by_agency) == {"-": 1, "DPU": 1}  # d at triage (no OPD yet), e at DPU
    assert _codes(d.open_by_category) == {"sampah": 2}
    assert _codes(d.open_by_area) == {"tallo": 1, "mariso": 1}
    assert _codes(d.closed_by_agency) == {"DLH": 2, "DPU": 1}  # the rejected one is not "closed"
    assert _codes(d.closed_by_category) == {"sampah": 2, "lampu-rambu": 1}
    assert _codes(d.closed_by_area) == {"mariso": 3}

    city, *per_opd = d.time_to_close
    assert city == (None, 3, 20 * H, 30 * H)  # 4 h, 20 h, 30 h: median 20 h, p90 (nearest rank) 30 h
    assert {n.code: (count, median, p90) for n, count, median, p90 in per_opd} == {
        "DLH": (2, 4 * H, 30 * H), "DPU": (1, 20 * H, 20 * H)}

    sla = {(r.agency.code, r.stage): (r.completed, r.on_time) for r in d.sla}
    # the stages open now, and how many are already late: the breaches escalated below
    assert {(r.agency.code, r.stage): (r.open, r.late) for r in d.sla if r.open} == {
        ("DPU", "disposition"): (1, 1), ("KOMINFO", "triage"): (1, 1)}
    assert sla[("DLH", "dispatch")] == (2, 1)  # b's dispatch was a minute late
    assert sla[("DLH", "disposition")] == (3, 3)  # a, b accepted; e transferred, all on time
    assert sla[("DPU", "closure")] == (1, 1)
    assert sla[("DPU", "disposition")] == (1, 1)  # c's; e's is still open
    assert sla[("KOMINFO", "triage")] == (5, 5)  # a, b, c, e, f (d is waiting)
    assert all(stage not in ("citizen_feedback", "sla_escalation") for _a, stage in sla)

    assert d.transfers[0][0].code == "DLH" and [(n.code, away, got) for n, away, got in d.transfers] == [
        ("DLH", 1, 0), ("DPU", 0, 1)]
    # e's disposition at DPU passed its target; d's triage (command center) passed twice its own
    assert {(n.code if n else None): e for n, e in d.escalations} == {
        "DPU": {"breach": 1}, "KOMINFO": {"breach": 1}, None: {"critical": 1}}
    # received a, b, c and closed them (Mon 12:00, Wed 14:00, Thu 04:00) in the first week;
    # received d, e, f in the second (f was rejected: not "closed")
    assert d.weekly == [(START.date(), 3, 3), (START.date() + timedelta(days=7), 3, 0)]
    ages = dict(d.backlog)
    assert sum(ages.values()) == 2 and ages["< 1 d"] == 2


def test_the_period_filters_and_validation(world, seeded):
    w = world
    first_week = _board(w, "2026-11-23", "2026-11-29")
    assert _codes(first_week.closed_by_agency) == {"DLH": 2, "DPU": 1}
    assert first_week.transfers == [] and first_week.escalations == []
    assert _codes(first_week.open_by_agency) == {"-": 1, "DPU": 1}  # open: always now
    for start, end in (("kemarin", None), ("2026-12-01", "2026-11-01"), ("2025-01-01", "2026-12-01")):
        with pytest.raises(ValidationError):
            _board(w, start, end)


def test_the_page_and_its_csv_exports(world, app, seeded):
    world.auditor
    web = WebClient(app)
    web.login("inspektorat")
    page = web.get("/dashboard?start=2026-11-23&end=2026-12-06")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count('class="chart"') >= 5
    # the choropleth: every kecamatan drawn as a polygon, shaded by its count, named and counted on it
    assert re.search(r'class="map-area map-c[1-4]" data-area="tallo" data-count="1"><title>Tallo: 1</title><path d="M', html)
    assert re.search(r'class="map-area map-c0" data-area="wajo" data-count="0">', html)
    assert html.count('class="map-area ') == 15
    assert re.search(r'<tspan x="[0-9.]+">Tallo</tspan><tspan x="[0-9.]+" dy="1.1em" class="count">1</tspan>', html)
    csv_text = web.get("/dashboard/time_to_close.csv?start=2026-11-23&end=2026-12-06").get_data(as_text=True)
    lines = csv_text.lstrip("\ufeff").strip().splitlines()
    assert lines[0] == "OPD,Selesai,Median (jam),Persentil ke-90 (jam)"
    assert lines[1] == "Seluruh kota,3,20.0,30.0"  # durations as numbers of hours
    excel = web.get("/dashboard/time_to_close.csv?start=2026-11-23&end=2026-12-06&sep=;").get_data(as_text=True)
    assert excel.lstrip("\ufeff").splitlines()[1] == "Seluruh kota;3;20,0;30,0"  # Indonesian Excel
    # every count opens the list of its cases, and that list holds as many as the figure says
    links = re.findall(r'<td><a href="(/cases\?[^"]+)">(\d+)</a></td>', html)
    kinds = {re.sub(r"=[^&]*", "", href) for href, _n in links}
    assert len(links) >= 20 and any("&amp;late" in k for k in kinds) and any("age_min" in k for k in kinds) \
        and any("closed_from" in k for k in kinds) and any("received_from" in k for k in kinds)
    for href, count in links:
        listed = web.get(href.replace("&amp;", "&")).get_data(as_text=True)
        assert re.search(rf"<p class=\"muted\" role=\"status\">[^<]*\b{count} kasus</p>", listed), (href, count)
    assert 'href="/cases?stage=disposition&amp;late=1&amp;agency=DPU"' in html
    # an OPD's supervisor sees the city's figures, but opens only their own OPD's lists, which add up
    world.user("sup.dlh", ("supervisor", "DLH"))
    opd = WebClient(app)
    opd.login("sup.dlh")
    theirs = opd.get("/dashboard?start=2026-11-23&end=2026-12-06").get_data(as_text=True)
    own = re.findall(r'<td><a href="(/cases\?[^"]+)">(\d+)</a></td>', theirs)
    assert own and all("agency=DLH" in href for href, _n in own)
    for href, count in own:
        listed = opd.get(href.replace("&amp;", "&")).get_data(as_text=True)
        assert re.search(rf"<p class=\"muted\" role=\"status\">[^<]*\b{count} kasus</p>", listed), (href, count)
    assert web.get("/dashboard?start=nanti").status_code == 400
    world.dlh
    coordinator = WebClient(app)
    coordinator.login("koor.dlh")
    assert coordinator.get("/dashboard").status_code == 403


def test_the_choropleth_shades_by_count_with_the_largest_darkest(world):
    from web.dashboard import SHADES, city_map
    from workflow.areas import area_map
    from workflow.store.reference import References

    with world.services.reading() as session:
        refs = References(session)
        counts = [(refs.areas["tallo"], 5), (refs.areas["mariso"], 1), (refs.areas["rappocini"], 3)]
        svg = str(city_map(area_map(session), counts))
    shade = {area: int(c) for c, area in re.findall(r'class="map-area map-c(\d)" data-area="([a-z-]+)"', svg)}
    assert shade["tallo"] == SHADES - 1 and shade["mariso"] == 1 and shade["wajo"] == 0
    assert 1 < shade["rappocini"] < SHADES - 1
