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
