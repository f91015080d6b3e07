"""Who carries the open work: per OPD, per person and per QR team, the open tasks, how many are
past their SLA target, the open escalations, and since when the oldest has waited; the oldest
first. For supervisors, over the OPDs they supervise (or the whole city). The reporter's own
tasks and the supervisors' reviews are not workload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from workflow.access import Actor, Screen, escalations_visible, may_use, work_supervised
from workflow.errors import PermissionDenied
from workflow.messages import msg
from workflow.read.lateness import open_sla_work, overdue
from workflow.store.models import Agency, Escalation, QrTeam, User, WorkItem


@dataclass(frozen=True)
class Load:
    key: str  # the OPD's or team's code, the person's username
    name: str
    open: int
    overdue: int
    escalations: int
    oldest: datetime  # when the longest-waiting open task was created


@dataclass(frozen=True)
class Workload:
    agencies: list[Load]
    people: list[Load]
    teams: list[Load]
    unassigned: int  # open tasks nobody holds


def workload(session: Session, actor: Actor, now: datetime) -> Workload:
    if not may_use(actor, Screen.ESCALATIONS):
        raise PermissionDenied(msg("the workload is for supervisors"))
    where = (open_sla_work(), work_supervised(actor))
    late = func.sum(case((overdue(now), 1), else_=0))
    figures = (func.count(WorkItem.id), late, func.min(WorkItem.created_at))
    open_escalations = (select(Escalation.case_id, Escalation.task_name)
                        .where(Escalation.resolved_at.is_(None), escalations_visible(actor)).distinct().subquery())
    escalated = func.count(open_escalations.c.case_id)

    def loads(key, name, *joins) -> list[Load]:
        stmt = select(key, name, *figures, escalated).select_from(WorkItem)
        for target, on in joins:
            stmt = stmt.join(target, on)
        stmt = (stmt.outerjoin(open_escalations, (open_escalations.c.case_id == WorkItem.case_id)
                               & (open_escalations.c.task_name == WorkItem.task_name))
                .where(*where).group_by(key, name).order_by(func.min(WorkItem.created_at), key))
        return [Load(key=k, name=n, open=count, overdue=int(late or 0), escalations=esc, oldest=oldest)
                for k, n, count, late, oldest, esc in session.execute(stmt)]

    return Workload(
        agencies=loads(Agency.code, Agency.name, (Agency, Agency.id == WorkItem.agency_id)),
        people=loads(User.username, User.full_name, (User, User.id == WorkItem.assignee_id)),
        teams=loads(QrTeam.code, QrTeam.name, (QrTeam, QrTeam.id == WorkItem.team_id)),
        unassigned=session.scalar(select(func.count()).select_from(WorkItem)
                                  .where(*where, WorkItem.assignee_id.is_(None))) or 0)
