"""What the process pages of the administration read: a version's files (its diagram and
downloads), the routing table new cases start with, and what the codes written in it name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from workflow.engine.definition import ProcessDefinition
from workflow.store.models import Agency, Area, Category, ProcessSpec
from workflow.store.specs import ProcessVersions

ROUTING_FILE = "routing.dmn"  # the decision table the process's business rule task evaluates


@dataclass(frozen=True)
class VersionFiles:
    version: int
    deployed_at: datetime
    deployed_by: str | None  # None: the files of a release
    note: str
    current: bool  # the version new cases start on
    process_id: str
    source: dict[str, str]  # {file name: text}
    definition: ProcessDefinition

    @property
    def main_bpmn(self) -> str | None:
        """The .bpmn file that holds the process itself (others hold its subprocesses)."""
        names = sorted(n for n in self.source if n.endswith(".bpmn"))
        marker = f'id="{self.process_id}"'
        return next((n for n in names if marker in self.source[n]), names[0] if names else None)


def version_files(session: Session, versions: ProcessVersions, number: int) -> VersionFiles | None:
    """Version ``number`` with its files, or None when there is no such version."""
    row = session.scalar(select(ProcessSpec).where(ProcessSpec.version == number))
    if row is None:
        return None
    versions.refresh(session)
    by = row.deployed_by
    return VersionFiles(version=row.version, deployed_at=row.deployed_at,
                        deployed_by=(by.full_name or by.username) if by else None, note=row.note or "",
                        current=row.id == versions.current_id, process_id=row.process_id, source=dict(row.source),
                        definition=versions.definition_of(session, row.id))


@dataclass(frozen=True)
class CurrentRouting:
    version: int | None  # None: no version deployed yet (the release's files are what cases start on)
    deployed_at: datetime | None
    xml: str


def current_routing(session: Session, versions: ProcessVersions) -> CurrentRouting:
    """The routing table of the version new cases start on."""
    definition = versions.refresh(session)
    row = session.get(ProcessSpec, versions.current_id) if versions.current_id is not None else None
    return CurrentRouting(version=row.version if row else None, deployed_at=row.deployed_at if row else None,
                          xml=definition.source.get(ROUTING_FILE, ""))


@dataclass(frozen=True)
class RoutingCodes:
    """The codes a routing table is written with: what each names."""

    categories: list[Category]  # active ones: each must be routed
    agencies: list[Agency]  # those that take reports
    kecamatan: list[Area]


def routing_codes(session: Session) -> RoutingCodes:
    return RoutingCodes(
        categories=list(session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code))),
        agencies=list(session.scalars(select(Agency).where(Agency.active.is_(True), Agency.handles_reports.is_(True))
                                      .order_by(Agency.code))),
        kecamatan=list(session.scalars(select(Area).options(defer(Area.geometry))
                                       .where(Area.parent_id.is_(None)).order_by(Area.code))))
