"""Notes and attachments on a case: no process step, but locked, scoped and audited like one."""

from __future__ import annotations

from workflow.access import Actor, can_view_case, can_write_notes
from workflow.commands.change import CaseChange
from workflow.errors import NotFound, PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.store import audit
from workflow.store.attachments import PreparedImage
from workflow.store.models import Attachment, Case, Note
from workflow.store.uow import UnitOfWork
from workflow.text import check
from workflow.vocabulary import Action, AttachmentKind

NOTE_MAX = 4000


def _writable_case(uow: UnitOfWork, actor: Actor, case_id: int):
    case = uow.session.get(Case, case_id)
    if case is None or not can_view_case(actor, case):
        raise NotFound(msg("case {case_id} not found", case_id=case_id))
    role = can_write_notes(actor, case)
    if role is None:
        raise PermissionDenied(msg("your role can read this case but not change it"))
    return case, role


def add_note(uow: UnitOfWork, actor: Actor, case_id: int, body: str, *, public: bool = False,
             expected_version: int | None = None) -> Note:
    """An internal note for staff, or a public reply the citizen sees on the status page."""
    case, role = _writable_case(uow, actor, case_id)
    text = (check(body, "body") or "").strip()
    if not text:
        raise ValidationError({"body": msg("write a note")})
    if len(text) > NOTE_MAX:
        raise ValidationError({"body": msg("write at most {limit} characters", limit=NOTE_MAX)})
    with CaseChange(uow, case, actor.ref(role), expected_version=expected_version) as change:
        note = Note(case_id=case.id, author_id=actor.user_id, body=text, public=bool(public),
                    created_at=uow.clock.now())
        uow.session.add(note)
        uow.session.flush()
        change.record(Action.NOTE_ADDED, task_name=case.stage,
                      data={"note_id": note.id, "public": note.public, "body": text})
    return note


def add_attachment(uow: UnitOfWork, actor: Actor, case_id: int, image: PreparedImage, *,
                   kind: str) -> Attachment:
    """Attach a photo checked by ``AttachmentStore.prepare`` (before/after/evidence)."""
    if kind not in set(AttachmentKind):
        raise ValidationError({"kind": msg("must be one of {choices}", choices=", ".join(AttachmentKind))})
    case, _role = _writable_case(uow, actor, case_id)
    with CaseChange(uow, case, actor.ref()) as change:
        return store_attachment(uow, case, image, kind=kind, actor=actor, change=change)


def store_attachment(uow: UnitOfWork, case: Case, image: PreparedImage, *, kind: str,
                     actor: Actor, change: CaseChange | None = None) -> Attachment:
    """Write the file, its row and its audit event; the file is removed if the work rolls back.
    ``change``: the case's change this is all of (its lock counts the event)."""
    name = uow.storage.save(image)
    uow.on_rollback(lambda: uow.storage.delete(name))
    counted = change.reserve(1) if change is not None else False
    row = Attachment(case_id=case.id, kind=kind, sha256=image.sha256, mime=image.mime,
                     size=image.size, width=image.width, height=image.height, storage_name=name,
                     uploaded_by_id=actor.user_id, created_at=uow.clock.now())
    uow.session.add(row)
    uow.session.flush()
    audit.append(uow.session, case_id=case.id, actor=actor.ref(), action=Action.ATTACHMENT_ADDED,
                 occurred_at=uow.clock.now(), task_name=case.stage, counted=counted,
                 data={"attachment_id": row.id, "kind": kind, "sha256": image.sha256,
                       "mime": image.mime, "size": image.size})
    return row
