"""What the pages give those who cannot see them, as served (tests/test_browser.py runs axe-core on
every page in Chromium): form errors named by their fields with the focus on the first, text
alternatives for the charts and the process diagram, no table header without text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests import actions
from tests.webclient import WebClient
from workflow.config import REPO_ROOT


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict]]:
    parser = _Elements()
    parser.feed(html)
    return parser.found


def _by_id(html: str, element_id: str) -> str:
    """The text of the element with this id (up to its closing tag)."""
    found = re.search(rf'<(\w+)\b[^>]* id="{re.escape(element_id)}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no element with id {element_id}"
    return re.sub(r"<[^>]+>", "", found.group(2)).strip()


def _controls(html: str, name: str) -> list[dict]:
    return [a for tag, a in _elements(html) if tag in ("input", "select", "textarea") and a.get("name") == name]


def _focused(html: str) -> list[str]:
    return [a.get("name") or a.get("id") for _tag, a in _elements(html) if "autofocus" in a]


def test_no_table_header_is_empty():
    for path in (REPO_ROOT / "web" / "templates").rglob("*.html"):
        assert not re.search(r"<th\b[^>]*>\s*</th>", path.read_text()), path


def test_a_form_sent_with_errors_names_them_on_its_fields_and_opens_on_the_first(web):
    page = web.post("/login", {"username": "", "password": ""}, page="/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    for name in ("username", "password"):
        (control,) = _controls(html, name)
        assert control["aria-invalid"] == "true"
        assert control["aria-describedby"] == f"{name}-error-1"
        assert _by_id(html, f"{name}-error-1")
    assert _focused(html) == ["username"]  # the first invalid field only
    fine = web.get("/login").get_data(as_text=True)
    assert "aria-invalid" not in fine and "aria-describedby" not in fine.split("<main>")[1]
    assert _focused(fine) == ["username"]  # where one starts typing


def test_the_focus_goes_to_the_first_invalid_field_not_the_first_field(web):
    page = web.post("/login", {"username": "koor.dlh", "password": ""}, page="/login")
    html = page.get_data(as_text=True)
    assert "aria-invalid" not in str(_controls(html, "username"))
    assert _focused(html) == ["password"]


def test_a_radio_group_with_an_error(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    item = world.item(sub.case_id)
    world.dlh
    web = WebClient(app)
    web.login("koor.dlh")
    form = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    page = web.post(f"/tasks/{item.id}", {"version": version}, page=f"/tasks/{item.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    options = _controls(html, "decision")
    assert len(options) >= 2
    assert {o["aria-describedby"] for o in options} == {"decision-error-1"}
    assert all(o["aria-invalid"] == "true" for o in options)
    assert _by_id(html, "decision-error-1")
    assert _focused(html) == ["decision"] and "autofocus" in options[0]  # the first option, once


def test_a_hint_is_named_by_its_field(web):
    html = web.get("/lapor").get_data(as_text=True)
    (lat,) = _controls(html, "lat")
    assert lat["aria-describedby"] == "lat-hint" and "aria-invalid" not in lat
    assert "Google Maps" in _by_id(html, "lat-hint")


def test_a_search_with_a_wrong_date_names_the_date_field(world, app):
    world.auditor
    web = WebClient(app)
    web.login("inspektorat")
    page = web.get("/audit?date_from=kemarin&date_to=2026-12-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    (field,) = _controls(html, "date_from")
    assert field["aria-describedby"] == "error-date_from" and field["aria-invalid"] == "true"
    assert "aria-invalid" not in _controls(html, "date_to")[0]
    assert _by_id(html, "error-date_from").startswith("Diterima sejak:")  # the field's label, not its name
    assert _focused(html) == ["date_from"]
    board = web.get("/dashboard?start=2026-12-01&end=2026-11-01")
    html = board.get_data(as_text=True)
    assert board.status_code == 400
    assert _controls(html, "end")[0]["aria-describedby"] == "error-end" and _focused(html) == ["end"]
    assert _by_id(html, "error-end").startswith("Sampai:")


def test_the_dashboard_charts_say_what_they_show(world, app):
    world.auditor
    for area in ("mariso", "tallo", "mariso"):
        world.report(area=area)
    web = WebClient(app)
    web.login("inspektorat")
    html = web.get("/dashboard").get_data(as_text=True)
    charts = [a for tag, a in _elements(html) if tag == "svg" and a.get("class") == "chart"]
    names = [re.fullmatch(r"chart-(\w+)-title", c["aria-labelledby"]).group(1) for c in charts]
    assert "open_by_category" in names and "transfers" not in names  # no chart of nothing
    assert all(c["role"] == "img" and c["aria-describedby"] == f"chart-{n}-desc" for c, n in zip(charts, names))
    assert _by_id(html, "chart-open_by_category-title") == "Diagram batang: Kasus terbuka per kategori"
    assert _by_id(html, "chart-open_by_category-desc") == "Sampah: 3."  # every bar, in words
    (city,) = [a for tag, a in _elements(html) if tag == "svg" and a.get("class") == "city-map"]
    assert city["role"] == "img" and city["aria-label"]


def test_the_process_diagram_says_the_path_in_words(world, app):
    world.auditor
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    web = WebClient(app)
    web.login("inspektorat")
    html = web.get(f"/audit/cases/{sub.case_id}").get_data(as_text=True)
    (svg,) = [a for tag, a in _elements(html) if tag == "svg" and a.get("class") == "bpmn-diagram"]
    assert svg["role"] == "img" and svg["aria-describedby"] == "diagram-path"
    assert re.search(r'<svg class="bpmn-diagram"[^>]*><title>Diagram proses kasus ' + sub.case_number, html)
    assert _by_id(html, "diagram-path") == "Jalur kasus melalui proses:\n      Triase → Disposisi (sekarang)."
