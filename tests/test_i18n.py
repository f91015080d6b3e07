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
    import re

    from web.catalog import ROOT
    from web.labels import ACTIONS

    written = set()
    for path in (ROOT / "workflow").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        written |= set(re.findall(r'action="([a-z_]+)"', text))
        written |= set(re.findall(r'"action": "([a-z_]+)"', text))
    # actions whose name is computed: status changes (a table in _case.py) and SLA pauses
    written |= {"case_rejected", "case_merged", "case_resolved", "case_closed", "case_reopened",
                "sla_paused", "sla_resumed"}
    assert written and written - set(ACTIONS) == set()
