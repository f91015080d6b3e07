"""Case life: what one citizen report costs from submission to closure, against SpiffWorkflow alone.

A case life is the report submitted, then seven human steps through the real commands, each in
its own committed unit of work: the demo plan's steps named in :data:`LIFE` (triage, a transfer
to another OPD, acceptance, dispatch to a QR team, field work with an after photo uploaded first,
verification, closure), by staff who may work each task. The baseline is the same BPMN process
driven with SpiffWorkflow directly, no database: the same start variables and the form values the
app's case life sent, the state serialized and deserialized around every step as the app stores
it (``workflow.engine.serialization``). Both run in the same process, interleaved.

Figures per database: the case life's median time against the baseline's (ratio target 1.2) and
the SQL statements the commands of one case life send (target 60; the lookup of the open work
item between steps stands for the link a user follows and is timed but not counted).

    .venv/bin/python -m bench.case_life [--profile smoke|quick|full] [--database-url URL]
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from PIL import Image
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event, select

from bench.report import Figure, interleaved, table
from bench.setup import fresh_services
from tanggap.demo import load_plan, placeholder
from workflow import commands
from workflow.access import Actor, actor_for_user
from workflow.commands.reports import start_variables
from workflow.engine import sla
from workflow.engine import timer_clock as engine_clock
from workflow.engine.scripting import make_script_engine
from workflow.engine.serialization import dump_state, load_state
from workflow.passwords import Passwords
from workflow.read.options import task_choices
from workflow.services import Services
from workflow.store.models import Case, WorkItem
from workflow.vocabulary import AttachmentKind, Channel, Role

START = datetime(2026, 11, 23, tzinfo=timezone.utc)  # a Monday
STEP = timedelta(minutes=30)  # the clock moves this much after each step
ROUNDS = {"smoke": 1, "quick": 6, "full": 20}
STATEMENT_TARGET = 60
# A deployment that tells reporters by e-mail (the reporter gives an address, so notices are
# queued in the outbox as in production); nothing is sent: no delivery worker runs.
NOTICES_OFFERED = {"TANGGAP_SMTP_HOST": "127.0.0.1", "TANGGAP_SMTP_PORT": "9", "TANGGAP_SMTP_SECURITY": "none"}
RATIO_TARGET = 1.2

REPORT = dict(category="sampah", description="Sampah menumpuk di depan pasar sejak Senin.",
              lat=-5.1560, lon=119.4050, area="mariso", kelurahan="mariso/lette", address="Jl. Rajawali No. 1",
              reporter_name="Daeng Ngai", contact_email="daeng@example.id", contact_phone="+62 811 4000 123")

# The case life: these steps of the demo's plan (tanggap/demo_cases.yaml), which names the task
# each completes and its form values, in this order.
LIFE = ("valid", "transfer", "accept", "dispatch", "field_work", "approve", "close")
ARRIVED_BEFORE = timedelta(minutes=5)  # the field officer's arrival, before the step


def life_steps() -> list[tuple[str, dict]]:
    """(BPMN id of the task, form values with the plan's placeholders) of each step."""
    steps = load_plan()["steps"]
    return [(steps[name]["task"], dict(steps[name]["values"])) for name in LIFE]


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


class StatementCounter:
    """SQL statements sent while ``counting`` (a ``before_cursor_execute`` listener), by kind."""

    def __init__(self, services: Services):
        self.statements: list[str] = []
        self.on = False
        event.listen(services.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if self.on:
            self.statements.append(statement)

    @contextmanager
    def counting(self):
        self.on = True
        try:
            yield
        finally:
            self.on = False

    def kinds(self) -> Counter:
        return Counter(kind(s) for s in self.statements)


def kind(statement: str) -> str:
    """``SELECT work_items``, ``INSERT case_events``, ``BEGIN``, ...: a statement's verb and its
    first table."""
    words = statement.split()
    verb = words[0].upper() if words else "?"
    found = re.search(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", statement, re.IGNORECASE)
    return f"{verb} {found.group(1)}" if found and verb != "BEGIN" else verb


@dataclass
class AppLife:
    """Case lives through the real commands on one database."""

    services: Services
    counter: StatementCounter
    photo: bytes
    steps: list[tuple[str, dict]] = field(default_factory=life_steps)
    actors: dict[tuple, Actor] = field(default_factory=dict)  # by what they may work (role, OPD, team)
    filled: list[tuple[str, dict]] = field(default_factory=list)  # the last life's steps, as sent

    @classmethod
    def on(cls, database_url: str | None) -> AppLife:
        """On a new database (``bench.setup.fresh_services``)."""
        services = fresh_services(database_url, START, env=NOTICES_OFFERED)
        services.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        return cls.with_cast(services)

    @classmethod
    def with_cast(cls, services: Services) -> AppLife:
        """On ``services``' database; the staff who work the steps are created as the steps
        need them (outside the counted commands)."""
        return cls(services, StatementCounter(services), _jpeg())

    def _actor(self, item: WorkItem) -> Actor:
        key = (item.role, item.agency_id, item.team_id)
        if key not in self.actors:
            with self.services.uow() as uow:
                scope = (uow.refs.team_code(item.team_id) if item.role == Role.QR_OFFICER
                         else uow.refs.agency_code(item.agency_id))
                user = commands.create_user(uow, username=f"bench.{len(self.actors) + 1}", full_name=item.role,
                                            password="case life bench password", roles=[(item.role, scope)])
                uow.commit()
                self.actors[key] = actor_for_user(uow.session, user.id)
        return self.actors[key]

    def _item(self, task_id: str) -> WorkItem:
        with self.services.reading() as session:
            return session.scalar(select(WorkItem).where(WorkItem.bpmn_task_id == task_id))

    def _command(self, run: Callable):
        with self.counter.counting(), self.services.uow() as uow:
            result = run(uow)
            uow.commit()
        return result

    def _fill(self, value, item: WorkItem, actor: Actor):
        """A plan value, its placeholder filled as the form page would: the first of the OPDs or
        teams the form offers, an after photo uploaded first (a command of its own), the arrival
        a little before now."""
        found = placeholder(value)
        if found is None:
            return value
        name, arg = found
        if name == "arrived":
            return self.services.clock.now() - ARRIVED_BEFORE
        if name == "photo":
            image = self.services.storage.prepare(self.photo)
            return self._command(lambda uow: commands.add_attachment(
                uow, actor, item.case_id, image, kind=AttachmentKind(arg))).id
        if name in ("other_agency", "team"):
            with self.services.reading() as session:
                case = session.get(Case, item.case_id)
                return task_choices(session, case, "agencies" if name == "other_agency" else "teams")[0].code
        raise ValueError(f"case life: no value for the plan's {value!r}")

    def life(self) -> None:
        """One case life; the statements its commands sent are in ``counter`` (from empty)."""
        clock, self.counter.statements, self.filled = self.services.clock, [], []
        submitted = self._command(lambda uow: commands.submit_report(uow, commands.ReportInput(**REPORT)))
        with self.services.reading() as session:
            task_id = session.scalar(select(WorkItem.bpmn_task_id).where(WorkItem.case_id == submitted.case_id))
        for task, values in self.steps:
            item = self._item(task_id)
            if item is None or item.task_name != task:
                raise LookupError(f"case life: the step completes {task}, the case is at "
                                  f"{item.task_name if item else 'no task'}")
            actor = self._actor(item)
            filled = {k: self._fill(v, item, actor) for k, v in values.items()}
            self.filled.append((task, filled))
            snap = self._command(lambda uow: commands.complete_work_item(
                uow, actor, item.id, filled, expected_form=item.form_key))
            task_id = snap.main_task.task_id if snap.main_task else None
            clock.advance(STEP)

    def statements(self) -> Counter:
        """By kind, the statements of one case life."""
        self.life()
        return self.counter.kinds()


class RawLife:
    """The same case life on SpiffWorkflow alone: the app's process definition and script
    environment, the state serialized and deserialized around every step, nothing else.
    ``steps``: (task, values) as an app's case life sent them (``AppLife.filled``)."""

    def __init__(self, services: Services, steps: list[tuple[str, dict]]):
        self.definition = services.definition
        self.clock = services.clock
        self.settings = services.settings
        self.steps = steps
        self.specs = (self.definition.spec, self.definition.subprocess_specs)
        self.script_engine = make_script_engine(sla.deadline_functions(self.clock))
        engine_clock.install()

    def life(self) -> None:
        with engine_clock.using_clock(self.clock):
            workflow = BpmnWorkflow(*self.specs, script_engine=self.script_engine)
            workflow.get_next_task(state=TaskState.READY).data.update(start_variables(
                self.settings, case_number="2026-000001", category=REPORT["category"], area=REPORT["area"],
                channel=Channel.WEB))
            workflow.do_engine_steps()
            state = dump_state(workflow)
            for name, values in self.steps:
                workflow = load_state(self.specs, state, self.script_engine)
                task = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                            if t.task_spec.name == name)
                form = self.definition.task(name).form_key
                fields = {f.name: None for f in self.definition.forms[form].fields}  # as the form's clean() sends
                task.set_data(**{**fields, **values})
                task.run()
                workflow.do_engine_steps()
                state = dump_state(workflow)
                self.clock.advance(STEP)


def _database(database_url: str | None) -> str:
    return "PostgreSQL" if database_url else "SQLite"


def figures(profile: str, database_url: str | None, notes: list[str]) -> list[Figure]:
    """The case life's median time against SpiffWorkflow alone, and its SQL statements, on the
    database of ``database_url`` (None: SQLite)."""
    rounds = ROUNDS[profile]
    app = AppLife.on(database_url)
    try:
        app.life()  # the steps as sent, for the baseline to send the same
        raw = RawLife(app.services, app.filled)
        ours, theirs = interleaved(app.life, raw.life, rounds)
        statements = app.statements()
    finally:
        app.services.dispose()
    group = f"case life ({_database(database_url)})"
    top = ", ".join(f"{k} {v}" for k, v in statements.most_common(4))
    if profile == "smoke":
        notes.append("case life: smoke run, one round: its times say nothing.")
    return [
        Figure(group, "report to closure, 7 steps, median", statistics.median(ours), "ms",
               baseline="SpiffWorkflow alone, same steps and serialization", baseline_value=statistics.median(theirs),
               ratio_target=RATIO_TARGET, note=f"{rounds} rounds"),
        Figure(group, "SQL statements per case life", sum(statements.values()), "statements",
               target=STATEMENT_TARGET, note=f"most: {top}"),
    ]


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(prog="python -m bench.case_life", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=sorted(ROUNDS), default="quick")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: a new SQLite file)")
    args = parser.parse_args(argv)
    notes: list[str] = []
    got = figures(args.profile, args.database_url, notes)
    print(table(got))
    for note in notes:
        print(f"note: {note}")
    return got


if __name__ == "__main__":
    main()
