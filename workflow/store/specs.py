"""Process versions in the database: each spec stored once, by content hash."""

from __future__ import annotations

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
