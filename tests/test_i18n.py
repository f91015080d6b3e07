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
