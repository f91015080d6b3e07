"""The minimal web app of the engine-core stage: landing page and health check."""

from __future__ import annotations

from web import create_app


def test_home_counts_cases_by_status(world):
    world.report()
    app = create_app({"TESTING": True}, services=world.services)
    response = app.test_client().get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Menunggu triase</td><td>1</td>" in page
    assert "(1 kasus)" in page


def test_healthz(world):
    app = create_app({"TESTING": True}, services=world.services)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_the_report_forms_fast_select_writes_what_wtforms_writes():
    """web.forms.Select renders the report form's long option lists itself: the same markup."""
    from werkzeug.datastructures import MultiDict
    from wtforms import Form, SelectField
    from wtforms.fields.choices import SelectChoice

    from web.forms import Select

    choices = [SelectChoice("", "Pilih"), SelectChoice("a&b", 'A <b> "c"', optgroup="Grup"),
               SelectChoice("c", "C", optgroup="Grup"), SelectChoice("d", "D"), SelectChoice(True, "Ya"),
               SelectChoice("e", "E", render_kw={"disabled": True})]

    class Theirs(Form):
        field = SelectField(choices=choices)

    class Ours(Form):
        field = SelectField(choices=choices, widget=Select())

    for sent in ({}, {"field": "c"}, {"field": "a&b"}):
        assert Ours(MultiDict(sent)).field() == Theirs(MultiDict(sent)).field()
