"""Response templates: seed data checked against the process's forms, offered on the forms they
fill for the case's category, with the case's facts in them."""

from __future__ import annotations

import re

import pytest
import yaml
from sqlalchemy import select

from tests import actions
from tests.webclient import WebClient
from workflow import responses
from workflow.store.models import ResponseTemplate
from workflow.store.seed import DEFAULT_SEED


def test_every_seeded_template_fills_a_text_field_of_a_form_and_uses_known_placeholders(definition):
    seeded = yaml.safe_load(DEFAULT_SEED.read_text(encoding="utf-8"))["response_templates"]
    assert seeded
    for t in seeded:
        if t["form"] == responses.NOTE_FORM:
            assert t["field"] == "body"  # web.cases.NoteForm
        else:
            field = definition.forms[t["form"]].field(t["field"])
            assert field.type == "text", t["code"]
        for text in (t["id"], t["en"]):
            assert responses.placeholders_of(text) <= set(responses.PLACEHOLDERS), t["code"]


@pytest.mark.parametrize("text, words", [("Halo {nama}", "response template x: unknown placeholder {nama}"),
                                         ("Halo {kelurahan", "response template x: a brace without its pair"),
                                         ("Halo {city!r}", "placeholder {city} without a format"),
                                         ("Halo {city:>30}", "placeholder {city} without a format")])
def test_a_template_with_a_wrong_placeholder_is_refused(text, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        responses.check_template("x", text)


def test_the_closure_form_offers_the_categorys_texts_filled_in(world, app):
    sub = world.approved()  # garbage, in Mariso, worked by Mariso's QR team
    item = world.item(sub.case_id)
    web = WebClient(app)
    web.login("koor.dlh")
    html = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    box = re.search(r'<details class="responses" data-for="closure_note".*?</details>', html, re.S).group(0)
    assert "Sampah diangkut" in box and "Selesai ditangani" in box  # the category's, then the general one
    assert "Lampu atau rambu diperbaiki" not in box  # another category's
    assert "Kelurahan Lette, Kecamatan Mariso sudah diangkut oleh Tim QR Mariso" in box
    assert "{" not in re.sub(r"<[^>]+>", "", box)  # every placeholder filled
    assert 'data-target="closure_note"' in box


def test_texts_follow_the_language_and_one_missing_a_fact_is_not_offered(world, app):
    sub = world.report()
    web = WebClient(app)
    world.triage
    web.login("triase")
    html = web.get(f"/tasks/{world.item(sub.case_id).id}?lang=en").get_data(as_text=True)
    assert "This problem is not for the Kota Makassar government to handle." in html
    assert ">Not for the city to handle</button>" in html and "Bukan wewenang kota" not in html  # its title too
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.do(actions.accept, world.dlh, sub.case_id)
    html = web.get(f"/cases/{sub.case_id}?lang=id").get_data(as_text=True)
    assert "Laporan " + sub.case_number + " sedang ditangani" in html  # a public reply's ready text
    with world.services.reading() as session:
        from workflow.store.models import Case
        case = session.get(Case, sub.case_id)
        offered = responses.offered(session, case, "dispatch", "id")
    assert [o.code for o in offered["instructions"]] == ["instruksi-sampah", "instruksi-umum"]
    with world.services.reading() as session:  # before dispatch there is no team to name
        closing = responses.offered(session, session.get(Case, sub.case_id), "closure", "id")
    assert "tutup-umum" not in [o.code for o in closing.get("closure_note", [])]


def test_an_inactive_template_is_not_offered(world):
    sub = world.report()
    with world.services.uow() as uow:
        for t in uow.session.scalars(select(ResponseTemplate).where(ResponseTemplate.form_key == "triage")):
            t.active = False
        uow.commit()
    try:
        with world.services.reading() as session:
            from workflow.store.models import Case
            assert responses.offered(session, session.get(Case, sub.case_id), "triage", "id") == {}
    finally:
        with world.services.uow() as uow:
            for t in uow.session.scalars(select(ResponseTemplate)):
                t.active = True
            uow.commit()


def _seed_with(tmp_path, change):
    """``tanggap seed`` of the default seed file after ``change(seed)``, on a fresh database."""
    from click.testing import CliRunner

    from tanggap.cli import main

    seed = yaml.safe_load(DEFAULT_SEED.read_text(encoding="utf-8"))
    seed["city"]["areas_file"] = str(DEFAULT_SEED.parent / seed["city"]["areas_file"])  # the file moved
    change(seed)
    bad = tmp_path / "city.yaml"
    bad.write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
    env = {"TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": ""}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return CliRunner().invoke(main, ["seed", "--file", str(bad)], env=env)


def test_the_seed_refuses_templates_for_fields_the_process_does_not_have(tmp_path):
    result = _seed_with(tmp_path, lambda seed: seed["response_templates"].append({
        "code": "salah", "form": "closure", "field": "closur_note", "title": {"id": "Salah ketik", "en": "Typo"},
        "id": "Selesai.", "en": "Done."}))
    assert result.exit_code == 1
    assert "salah: closure has no text field 'closur_note' (text fields: closure_note)" in result.output


def test_the_seed_refuses_a_template_titled_in_one_language_only(tmp_path):
    result = _seed_with(tmp_path, lambda seed: seed["response_templates"][0].update(title="Sampah diangkut"))
    assert result.exit_code == 1
    assert "tutup-sampah: title needs both languages, as title: {id: ..., en: ...}" in result.output


def test_a_template_for_a_form_only_the_reporter_fills_is_misplaced(world, reference_restored):
    """Ready texts are offered to staff: the reporter's own forms take none (responses.fillable)."""
    places = responses.fillable(world.services.definition)
    assert places["closure"] == ("closure_note",) and places[responses.NOTE_FORM] == (responses.NOTE_FIELD,)
    assert "citizen_feedback" not in places and "citizen_info" not in places
    with world.services.uow() as uow:
        uow.session.add(ResponseTemplate(code="komentar", form_key="citizen_feedback", field="comment",
                                         title_id="Komentar", title_en="Comment", text_id="Bagus.", text_en="Good."))
        uow.session.add(ResponseTemplate(code="salah-isian", form_key="closure", field="outcome",
                                         title_id="Salah", title_en="Wrong", text_id="x", text_en="x"))
        uow.session.flush()
        wrong = responses.misplaced(uow.session, world.services.definition)
    assert [w.split(":")[0] for w in wrong] == ["komentar", "salah-isian"]
    assert "no form 'citizen_feedback' staff fill with text" in wrong[0]
    assert "closure has no text field 'outcome'" in wrong[1]
