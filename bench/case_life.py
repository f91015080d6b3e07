"""Case life: what one citizen report costs from submission to closure, against SpiffWorkflow alone.

A case life is the report submitted, then seven human steps through the real commands, each in
its own committed unit of work (:data:`STEPS`: triage, a transfer to another OPD, acceptance,
dispatch to a QR team, field work with an after photo uploaded first, verification, closure).
The baseline is the same BPMN process driven with SpiffWorkflow directly, no database: the same
start variables and form values, the state serialized and deserialized around every step as the
app stores it (``workflow.engine.serialization``). Both run in the same process, interleaved.

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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from PIL import Image
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event, select

from bench.report import Figure, interleaved, table
from bench.setup import fresh_services
from workflow import commands
from workflow.access import Actor, actor_for_user
from workflow.commands.reports import start_variables
from workflow.engine import sla
from workflow.engine import timer_clock as engine_clock
from workflow.engine.scripting import make_script_engine
from workflow.engine.serialization import dump_state, load_state
from workflow.passwords import Passwords
from workflow.services import Services
from workflow.store.models import WorkItem
from workflow.vocabulary import AttachmentKind, Channel

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

# (who works it, the form, its values): "photo" stands for the after photo's attachment id,
# "arrived" for the arrival time (five minutes before the step)
STEPS = (
    ("triage", "triage", {"decision": "valid", "reason": None, "duplicate_of": None, "corrected_category": None}),
    ("dlh", "disposition", {"decision": "transfer", "transfer_to": "DPU", "reason": "Saluran, bukan sampah"}),
    ("dpu", "disposition", {"decision": "accept"}),
    ("dpu", "dispatch", {"team": "qr-mariso-1", "instructions": None}),
    ("qr", "field_work", {"arrived_at": "arrived", "action_taken": "Saluran dibersihkan.", "after_photo": "photo"}),
    ("dpu", "verification", {"decision": "approve", "reason": None}),
    ("dpu", "closure", {"closure_note": "Saluran sudah dibersihkan."}),
)
CAST = {"triage": ("triage", "KOMINFO"), "dlh": ("coordinator", "DLH"), "dpu": ("coordinator", "DPU"),
        "qr": ("qr_officer", "qr-mariso-1")}


def _values(values: dict, *, now: datetime, photo: int) -> dict:
    placeholders = {"arrived": now - timedelta(minutes=5), "photo": photo}
    return {k: placeholders.get(v, v) if isinstance(v, str) else v for k, v in values.items()}


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
    actors: dict[str, Actor]
    counter: StatementCounter
    photo: bytes

    @classmethod
    def on(cls, database_url: str | None) -> AppLife:
        """On a new database (``bench.setup.fresh_services``)."""
        services = fresh_services(database_url, START, env=NOTICES_OFFERED)
        services.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        return cls.with_cast(services)

    @classmethod
    def with_cast(cls, services: Services) -> AppLife:
        """On ``services``' database, with the staff of :data:`CAST` created there."""
        actors = {}
        for key, (role, scope) in CAST.items():
            with services.uow() as uow:
                user = commands.create_user(uow, username=f"bench.{key}", full_name=key.upper(),
                                            password="case life bench password", roles=[(role, scope)])
                uow.commit()
                actors[key] = actor_for_user(uow.session, user.id)
        return cls(services, actors, StatementCounter(services), _jpeg())

    def _item(self, task_id: str) -> int:
        with self.services.reading() as session:
            return session.scalar(select(WorkItem.id).where(WorkItem.bpmn_task_id == task_id))

    def _command(self, run: Callable):
        with self.counter.counting(), self.services.uow() as uow:
            result = run(uow)
            uow.commit()
        return result

    def life(self) -> None:
        """One case life; the statements its commands sent are in ``counter`` (from empty)."""
        clock, self.counter.statements = self.services.clock, []
        submitted = self._command(lambda uow: commands.submit_report(uow, commands.ReportInput(**REPORT)))
        with self.services.reading() as session:
            task_id = session.scalar(select(WorkItem.bpmn_task_id).where(WorkItem.case_id == submitted.case_id))
        photo = 0
        for who, form, values in STEPS:
            actor = self.actors[who]
            if "photo" in values.values():
                image = self.services.storage.prepare(self.photo)
                photo = self._command(lambda uow: commands.add_attachment(
                    uow, actor, submitted.case_id, image, kind=AttachmentKind.AFTER)).id
            item_id, filled = self._item(task_id), _values(values, now=clock.now(), photo=photo)
            snap = self._command(lambda uow: commands.complete_work_item(
                uow, actor, item_id, filled, expected_form=form))
            task_id = snap.main_task.task_id if snap.main_task else None
            clock.advance(STEP)

    def statements(self) -> Counter:
        """By kind, the statements of one case life."""
        self.life()
        return self.counter.kinds()


class RawLife:
    """The same case life on SpiffWorkflow alone: the app's process definition and script
    environment, the state serialized and deserialized around every step, nothing else."""

    def __init__(self, services: Services):
        self.definition = services.definition
        self.clock = services.clock
        self.settings = services.settings
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
            for _who, form, values in STEPS:
                workflow = load_state(self.specs, state, self.script_engine)
                task = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                            if self.definition.task(t.task_spec.name).form_key == form)
                fields = {f.name: None for f in self.definition.forms[form].fields}  # as the form's clean() sends
                task.set_data(**{**fields, **_values(values, now=self.clock.now(), photo=1)})
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
        raw = RawLife(app.services)
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
