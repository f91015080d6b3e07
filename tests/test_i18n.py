"""Every user-facing text has its Indonesian translation; task forms are labelled in both."""

from __future__ import annotations

from web.catalog import missing


def test_every_message_is_translated_to_indonesian():
    assert missing("id") == []


def test_every_form_field_and_choice_has_both_labels(definition):
    for form in definition.forms.values():
        assert set(form.title) == {"id", "en"}, form.key
        for field in form.fields:
            assert set(field.label) == {"id", "en"}, f"{form.key}.{field.name}"
            for choice in field.choices:
                assert set(field.choice_labels[choice]) == {"id", "en"}, f"{form.key}.{field.name}.{choice}"


def test_every_audit_action_has_a_label():
    """History pages show an action's label; an action written without one would show its code."""

    from web.labels import ACTIONS
    from workflow.vocabulary import Action

    written = set(Action)  # every action the domain can write
    assert written and written - set(ACTIONS) == set()


def test_wtforms_own_messages_are_in_indonesian(app):
    """WTForms ships no Indonesian: its messages go through the app's catalogue."""
    from tests.webclient import WebClient, errors

    web = WebClient(app)
    empty = web.post("/login", {"username": "", "password": ""}, page="/login")
    assert empty.status_code == 400 and "Wajib diisi." in errors(empty)
    from wtforms import SelectField, StringField
    from wtforms.fields.choices import SelectChoice

    from web.forms import Form

    with app.test_request_context("/?lang=id", method="POST", data={"pick": "z"}):
        class Pick(Form):
            class Meta:
                csrf = False
            pick = SelectField(choices=[SelectChoice("a", "A")])

        form = Pick()
        assert not form.validate() and form.pick.errors == ["Pilihan tidak dikenal."]

    from wtforms.validators import Length

    with app.test_request_context("/?lang=id", method="POST", data={"word": "panjang"}):
        class Short(Form):
            class Meta:
                csrf = False
            word = StringField(validators=[Length(max=3)])

        form = Short()
        assert not form.validate() and form.word.errors == ["Paling banyak 3 karakter."]


def test_the_process_names_every_element_it_shows(definition):
    """A timer reads after the task it watches; a list of ids as their labels; never a bare id."""
    assert definition.label("disposition_sla", "id") == "Disposisi: Batas waktu SLA"
    assert definition.label("disposition,sla_escalation", "id") == "Disposisi, Tindak lanjut eskalasi"
    assert definition.label("route_final", "id") == "Tetapkan OPD dan SLA"
