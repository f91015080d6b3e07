"""Opening a reporter's contact details: the one way any page or API shows them.

A case's page does not carry the reporter's e-mail and phone (``read.cases.case_detail`` says
only whether there is a contact the viewer may see); the desk that must call back asks for them
with :func:`reveal_contact`, which writes ``contact_viewed`` to the security log in the same
transaction as it reads them. So every showing of a contact is in the log, and none happens
without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.access import Actor, can_see_contact
from workflow.errors import PermissionDenied
from workflow.messages import msg
from workflow.read.cases import visible_case
from workflow.store import security_log
from workflow.store.security_log import Who
from workflow.store.uow import UnitOfWork
from workflow.vocabulary import SecurityAction


@dataclass(frozen=True)
class Contact:
    case_id: int
    case_number: str
    reporter_name: str | None
    email: str | None
    phone: str | None


def contact_subject(case_id: int) -> str:
    """What a ``contact_viewed`` entry concerns: ``case:<id>``."""
    return f"case:{case_id}"


def reveal_contact(uow: UnitOfWork, actor: Actor, case_id: int, *, client_ip: str | None = None) -> Contact:
    """The reporter's name, e-mail and phone of a case, for a desk that may call them back
    (``access.can_see_contact``); recorded as ``contact_viewed`` with ``client_ip``. A case the
    actor cannot see is not found; one whose contact is not theirs to see is forbidden."""
    case = visible_case(uow.session, actor, case_id)
    if not can_see_contact(actor, case):
        raise PermissionDenied(msg("only the desk working this case may see the reporter's contact"))
    report = case.report
    shown = [name for name, value in (("email", report.contact_email), ("phone", report.contact_phone)) if value]
    security_log.record(uow.session, action=SecurityAction.CONTACT_VIEWED,
                        who=Who(actor.user_id, actor.name, client_ip), occurred_at=uow.clock.now(),
                        subject=contact_subject(case.id),
                        details={"case_number": case.number, "shown": shown})
    return Contact(case_id=case.id, case_number=case.number, reporter_name=report.reporter_name,
                   email=report.contact_email, phone=report.contact_phone)
