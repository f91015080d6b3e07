"""Demo users and demo cases. Every demo case is driven through the real commands, so each has
a real workflow state, projections and an intact audit chain. Where each case stops, and the
form values of each step, are data (``demo_cases.yaml``); the steps run on the same
``tanggap.scenario.Scenario`` the tests use."""

from __future__ import annotations

import dataclasses
import io
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from PIL import Image
from sqlalchemy import select

from tanggap.scenario import Scenario
from workflow import commands
from workflow.access import Actor, actor_for_user
from workflow.areas import area_map
from workflow.clock import ManualClock
from workflow.commands.users import password_problem
from workflow.engine.definition import definition_from_source, read_source
from workflow.engine.runtime import ProcessEngine
from workflow.errors import ValidationError
from workflow.services import Services
from workflow.store.models import Agency, Membership, ProcessSpec, QrTeam, User, WorkItem
from workflow.store.reference import References
from workflow.store.specs import RELEASE_NOTE, store_version
from workflow.vocabulary import AttachmentKind, Channel, Role

PLAN = Path(__file__).resolve().parent / "demo_cases.yaml"

DESCRIPTIONS = {
    "sampah": "Sampah menumpuk di pinggir jalan sudah tiga hari tidak diangkut, bau sekali.",
    "lampu-rambu": "Lampu jalan mati sepanjang lima tiang, jalan gelap dan rawan di malam hari.",
    "kemacetan": "Macet parah setiap sore di persimpangan, perlu petugas pengatur lalu lintas.",
    "pelanggaran-lalin": "Banyak motor melawan arus di depan sekolah pada jam pulang.",
    "parkir-liar": "Mobil parkir di trotoar dan badan jalan, pejalan kaki terpaksa turun ke jalan.",
    "gepeng": "Ada anak-anak mengemis di lampu merah sampai larut malam.",
    "fasilitas-anak": "Ayunan di taman bermain patah dan besinya tajam, berbahaya untuk anak.",
    "orang-hilang": "Seorang lansia terlihat bingung dan tidak tahu alamat rumahnya.",
    "pkl-liar": "Pedagang kaki lima menutup seluruh trotoar di depan pasar.",
    "pelanggaran-bangunan": "Bangunan baru menutup saluran air dan melewati garis sempadan jalan.",
    "reklame-liar": "Baliho besar dipasang di pohon dan tiang listrik tanpa izin.",
    "fogging-dbd": "Tiga warga di RT kami dirawat karena demam berdarah, mohon fogging.",
    "kesehatan": "Puskesmas tutup lebih awal dari jadwal, warga tidak bisa berobat.",
}
GENERIC_DESCRIPTION = "Mohon ditindaklanjuti, masalah ini sudah berlangsung beberapa hari."
_PLACEHOLDER = re.compile(r"^\{([a-z_]+)(?::([a-z_]+))?\}$")


@dataclass(frozen=True)
class DemoSummary:
    cases: int
    by_stop: dict[str, int]


def demo_users(services: Services, password: str) -> int:
    """One user per role and agency or team; all share ``password``, which must pass the same
    policy as every other password. Returns how many were added."""
    problem = password_problem(password)
    if problem:
        raise ValidationError({"password": problem})
    with services.uow() as uow:
        session = uow.session
        if session.scalar(select(User.id).where(User.username == "admin")):
            return 0
        hashed = services.passwords.hash(password)  # one hash for all demo users: seeding stays fast
        now = uow.clock.now()
        users: list[User] = []

        def add(username, full_name, role, agency_id=None, team_id=None):
            users.append(User(username=username, full_name=full_name, password_hash=hashed,
                              created_at=now, memberships=[Membership(
                                  role=role, agency_id=agency_id, team_id=team_id)]))

        add("admin", "Administrator Kota", Role.ADMIN)
        add("auditor", "Inspektorat Kota", Role.AUDITOR)
        add("supervisor.kota", "Supervisor Kota", Role.SUPERVISOR)
        for agency in session.scalars(select(Agency).order_by(Agency.id)):
            code = agency.code.lower()
            if agency.is_command_center:
                add(f"triase.{code}", f"Petugas Triase {agency.short_name}", Role.TRIAGE, agency.id)
            else:
                add(f"koordinator.{code}", f"Koordinator {agency.short_name}", Role.COORDINATOR, agency.id)
                add(f"supervisor.{code}", f"Supervisor {agency.short_name}", Role.SUPERVISOR, agency.id)
        for team in session.scalars(select(QrTeam).order_by(QrTeam.id)):
            add(team.code.replace("qr-", "qr."), f"Petugas {team.name}", Role.QR_OFFICER, team_id=team.id)
        session.add_all(users)
        uow.commit()
        return len(users)


def _photo(seed: int) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", (64, 48), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    img.save(out, "JPEG")
    return out.getvalue()


def load_plan(path: Path = PLAN) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def placeholder(value) -> tuple[str, str | None] | None:
    """A plan value in braces as (name, argument): "{photo:after}" is ("photo", "after"),
    "{team}" ("team", None); None for a value to send as it is."""
    match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
    return match.groups() if match else None


def plan(count: int, rng: random.Random, stops: dict) -> list[str]:
    """Where each of ``count`` cases stops: every stop at least once (when count allows), the
    rest by weight, in random order."""
    names = list(stops)[:count]
    names += rng.choices(list(stops), [s["weight"] for s in stops.values()], k=max(0, count - len(names)))
    rng.shuffle(names)
    return names


class _Driver(Scenario):
    """Drives one case at a time along the steps of its stop, each step some hours after the
    last, as whoever may work the open task."""

    def __init__(self, services: Services, clock: ManualClock, rng: random.Random, end: datetime,
                 steps: dict):
        super().__init__(services)
        self.clock, self.rng, self.end, self.steps = clock, rng, end, steps
        with services.reading() as session:
            self.actors = {}
            for user in session.scalars(select(User)):
                for m in user.memberships:
                    self.actors.setdefault((m.role, m.agency_id, m.team_id), actor_for_user(session, user.id))
            refs = References(session)
            self.agencies = {a.code: a.id for a in refs.agencies.values() if a.handles_reports}
            self.teams: dict[int, list[str]] = {}
            for t in refs.teams.values():
                self.teams.setdefault(t.area_id, []).append(t.code)

    def later(self, by: timedelta | None = None) -> None:
        pass  # the driver moves its clock before each step (see ``run``)

    def actor_for(self, item: WorkItem) -> Actor:
        return self.actors[(item.role, None if item.role == Role.QR_OFFICER else item.agency_id,
                            item.team_id)]

    def run(self, sub, area_id: int, stop_steps: list[str], open_cases: list[str]) -> None:
        for name in stop_steps:
            self.clock.advance(timedelta(minutes=self.rng.randint(20, 8 * 60)))
            if self.clock.now() >= self.end:
                return
            step = self.steps[name]
            if "ask" in step:
                self.do(commands.request_information, self._actor_of(sub.case_id), sub.case_id,
                        question=step["ask"])
                continue
            item = self.item(sub.case_id)
            if item.task_name != step["task"]:
                raise LookupError(f"demo step {name}: case {sub.case_number} is at {item.task_name}")
            values = {k: self._fill(v, sub, item, area_id, open_cases) for k, v in step["values"].items()}
            if item.role == Role.CITIZEN:
                self.citizen(commands.citizen_feedback, sub.tracking_code, **values)
            else:
                self.do(commands.complete_work_item, self.actor_for(item), sub.case_id, values=values)

    def _actor_of(self, case_id: int) -> Actor:
        return self.actor_for(self.item(case_id))

    def _fill(self, value, sub, item: WorkItem, area_id: int, open_cases: list[str]):
        found = placeholder(value)
        if found is None:
            return value
        name, arg = found
        if name == "other_agency":
            return self.rng.choice([code for code, aid in self.agencies.items() if aid != item.agency_id])
        if name == "team":
            return self.rng.choice(self.teams[area_id])
        if name == "open_case":
            return self.rng.choice(open_cases)
        if name == "photo":
            return self.photo(self.actor_for(item), sub.case_id, _photo(self.rng.randrange(10**6)),
                              AttachmentKind(arg))
        if name == "arrived":
            arrived = self.clock.now() - timedelta(minutes=self.rng.randint(10, 90))
            return max(arrived, item.created_at)
        raise ValueError(f"unknown placeholder {value!r} in {PLAN.name}")


EARLIER_PROCESS = Path(__file__).with_name("demo_process")  # an earlier version of the city's process
EARLIER_SHARE = 0.4  # the oldest cases of the demo start on it


def demo_cases(services: Services, count: int, *, seed: int = 7, days: int = 28,
               progress: Callable[[int], None] | None = None) -> DemoSummary:
    """``count`` cases over the last ``days``. On a database without process versions, the
    oldest of them start on an earlier version of the process (``demo_process/``), deployed
    as version 1; the release's files are deployed as version 2 when the rest begin."""
    rng = random.Random(seed)
    real_now = services.clock.now()
    clock = ManualClock(real_now - timedelta(days=days))
    demo = dataclasses.replace(services, clock=clock,
                               versions=services.versions.with_engines(lambda d: ProcessEngine(d, clock)))
    data = load_plan()
    driver = _Driver(demo, clock, rng, real_now, data["steps"])
    open_stops = set(data["open_stops"])
    with demo.reading() as session:
        refs = References(session)
        categories = [c.code for c in refs.categories.values()]
        asked = {c.code: c.attributes or [] for c in refs.categories.values()}
        kecamatan = [a for a in refs.areas.values() if a.is_kecamatan]
        shapes = area_map(session)
    queue = plan(count, rng, data["stops"])
    by_stop: dict[str, int] = {}
    open_cases: list[str] = []
    start = real_now - timedelta(days=days)
    switch_at = _deploy_earlier(demo, start, count)
    n = 0
    while queue:
        if n == switch_at:
            with demo.uow() as uow:
                store_version(uow.session, demo.versions.files, clock.now(), note=RELEASE_NOTE)
                uow.commit()
        stop = queue.pop(0)
        needs_open = any("{open_case}" in str(data["steps"][s].get("values", {})) for s in data["stops"][stop]["steps"])
        if needs_open and not open_cases and queue:
            queue.append(stop)  # a duplicate needs an earlier open case
            continue
        clock.set(start + timedelta(seconds=n * (days - 1) * 86400 / max(count, 1)))
        n += 1
        category = rng.choice(categories)
        area = rng.choice(kecamatan)
        lat, lon = shapes.point_within(area.id, rng)  # its kelurahan is the one the point is in
        with demo.uow() as uow:
            submitted = commands.submit_report(uow, commands.ReportInput(
                category=category, description=DESCRIPTIONS.get(category, GENERIC_DESCRIPTION),
                lat=lat, lon=lon, area=area.code,
                address=f"Jl. Contoh No. {rng.randint(1, 200)}",
                reporter_name=None if rng.random() < 0.3 else f"Warga {n + 1}",
                contact_email=f"warga{n + 1}@contoh.id" if rng.random() < 0.6 else None,
                anonymous=rng.random() < 0.2, channel=Channel.DEMO,
                attributes=_answers(asked[category], rng)))
            uow.commit()
        if not (needs_open and not open_cases):
            driver.run(submitted, area.id, data["stops"][stop]["steps"], open_cases)
        if stop in open_stops:
            open_cases.append(submitted.case_number)
        by_stop[stop] = by_stop.get(stop, 0) + 1
        if progress:
            progress(1)
    return DemoSummary(cases=count, by_stop=by_stop)


def _deploy_earlier(demo: Services, start: datetime, count: int) -> int | None:
    """Version 1 is the earlier process, if the database has none yet: the number of cases after
    which the release's files take over (None: nothing to switch)."""
    with demo.uow() as uow:
        if uow.session.scalar(select(ProcessSpec.id).limit(1)) is not None:
            return None
        earlier = {**demo.versions.files.source, **read_source(EARLIER_PROCESS)}  # its own files, ours for the rest
        store_version(uow.session, definition_from_source(earlier), start,
                      note="demo: an earlier version of the process, for trying a migration")
        uow.commit()
    return max(1, int(count * EARLIER_SHARE))


def _answers(attributes: list[dict], rng: random.Random) -> dict:
    """Plausible answers to a category's extra fields (every required one, some others)."""
    answers = {}
    for a in attributes:
        if not a["required"] and rng.random() < 0.5:
            continue
        if a["values"]:
            answers[a["code"]] = rng.choice(a["values"])["key"]
        elif a["datatype"] == "number":
            answers[a["code"]] = rng.randint(1, 12)
        elif a["datatype"] != "datetime":
            answers[a["code"]] = "Keterangan dari pelapor"
    return answers
