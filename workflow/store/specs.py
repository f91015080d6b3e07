"""Process versions in the database: each spec stored once, by content hash."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine.definition import ProcessDefinition
from workflow.store.models import ProcessSpec


def ensure_stored(session: Session, definition: ProcessDefinition, now) -> ProcessSpec:
    """The stored row for this spec version, inserted the first time it is seen."""
    row = session.scalar(select(ProcessSpec).where(ProcessSpec.content_hash == definition.content_hash))
    if row is None:
        row = ProcessSpec(content_hash=definition.content_hash, process_id=definition.process_id,
                          spec_json=definition.spec_json, source=definition.source, created_at=now)
        session.add(row)
        session.flush()
    return row


def fields_unread(session: Session, definition: ProcessDefinition, spec_id: int, form) -> set[str]:
    """The fields of ``form`` (today's ``tasks.yaml``) that the process reads by name but the
    process version ``spec_id`` a case runs does not: that version would ignore their value (a
    choice added to today's process, such as sending a report to another OPD than the routing
    table's). Fields no version reads (a reason, a note) are only recorded: none of these."""
    row = session.get(ProcessSpec, spec_id)
    if row is None or row.content_hash == definition.content_hash:
        return set()

    def reads(source: dict, name: str) -> bool:
        return any(re.search(rf"\b{re.escape(name)}\b", text) for text in source.values())

    return {f.name for f in form.fields if reads(definition.source, f.name) and not reads(row.source or {}, f.name)}
