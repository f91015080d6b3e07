"""Demo users and demo cases. Every demo case is driven through the real commands, so each has
a real workflow state, projections and an intact audit chain."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import select

from workflow import commands
from workflow.actors import Actor, actor_for_user
from workflow.clock import ManualClock
from workflow.commands.users import hash_password, password_problem
from workflow.engine.definition import side_tasks
from workflow.errors import ValidationError
from workflow.services import Services
from workflow.store.models import Agency, Membership, QrTeam, User, WorkItem
from workflow.store.reference import References
from workflow.vocabulary import Channel, Role

# Where each demo case stops: the last step it takes. Weights give a realistic spread.
STOPS = [("triage", 10), ("rejected", 4), ("merged", 3), ("disposition", 10),
         ("transferred", 6), ("dispatch", 9), ("field_work", 14), ("reworked", 4),
         ("verification", 8), ("closure", 5), ("resolved", 9), ("reopened", 3), ("closed", 15),
         ("pingpong", 2), ("asked", 3)]

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
        hashed = hash_password(password)  # one hash for all demo users: seeding stays fast
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


class _Driver:
    """Drives one case through the process, each step some hours after the last."""

    def __init__(self, services: Services, clock: ManualClock, rng: random.Random, end: datetime):
        self.services, self.clock, self.rng, self.end = services, clock, rng, end
        self.side_tasks = side_tasks(services.definition)  # run beside the case's task
        with services.reading() as session:
            self.actors = {}
            for user in session.scalars(select(User)):
                for m in user.memberships:
                    key = (m.role, m.agency_id, m.team_id)
                    self.actors.setdefault(key, actor_for_user(session, user.id))
            refs = References(session)
            self.agencies = {a.code: a.id for a in refs.agencies.values() if a.handles_reports}
            self.teams = {}
            for t in refs.teams.values():
                self.teams.setdefault(t.area_id, []).append(t.code)

    def later(self) -> bool:
        self.clock.advance(timedelta(minutes=self.rng.randint(20, 8 * 60)))
        return self.clock.now() < self.end

    def item(self, case_id: int) -> WorkItem:
        with self.services.reading() as session:
            return session.scalar(select(WorkItem).where(WorkItem.case_id == case_id,
                                                         WorkItem.completed_at.is_(None),
                                                         WorkItem.task_name.not_in(self.side_tasks)))

    def actor_for(self, item: WorkItem) -> Actor:
        return self.actors[(item.role, None if item.role == Role.QR_OFFICER else item.agency_id,
                            item.team_id)]

    def act(self, case_id: int, fn: Callable, **kwargs) -> bool:
        if not self.later():
            return False
        item = self.item(case_id)
        with self.services.uow() as uow:
            fn(uow, self.actor_for(item), item.id, **kwargs)
            uow.commit()
        return True


def plan(count: int, rng: random.Random) -> list[str]:
    """Where each of ``count`` cases stops: every stop at least once (when count allows), the
    rest by weight, in random order."""
    stops = [s for s, _ in STOPS][:count]
    weights = dict(STOPS)
    stops += rng.choices(list(weights), list(weights.values()), k=max(0, count - len(stops)))
    rng.shuffle(stops)
    return stops


def demo_cases(services: Services, count: int, *, seed: int = 7, days: int = 28,
               progress: Callable[[int], None] | None = None) -> DemoSummary:
    rng = random.Random(seed)
    real_now = services.clock.now()
    clock = ManualClock(real_now - timedelta(days=days))
    demo = Services(**{**services.__dict__, "clock": clock,
                       "process": type(services.process)(services.definition, clock),
                       "spec_cache": services.spec_cache})
    driver = _Driver(demo, clock, rng, real_now)
    with demo.reading() as session:
        refs = References(session)
        categories = [c.code for c in refs.categories.values()]
        asked = {c.code: c.attributes or [] for c in refs.categories.values()}
        kecamatan = [a for a in refs.areas.values() if a.is_kecamatan]
        kelurahan = {k.id: [a.code for a in refs.areas.values() if a.parent_id == k.id] for k in kecamatan}
    queue = plan(count, rng)
    by_stop: dict[str, int] = {}
    open_numbers: list[str] = []
    start = real_now - timedelta(days=days)
    n = 0
    while queue:
        stop = queue.pop(0)
        if stop == "merged" and not open_numbers and queue:
            queue.append(stop)  # a duplicate needs an earlier open case
            continue
        clock.set(start + timedelta(seconds=n * (days - 1) * 86400 / max(count, 1)))
        n += 1
        category = rng.choice(categories)
        area = rng.choice(kecamatan)
        with demo.uow() as uow:
            submitted = commands.submit_report(uow, commands.ReportInput(
                category=category, description=DESCRIPTIONS[category],
                lat=area.lat + rng.uniform(-0.004, 0.004), lon=area.lon + rng.uniform(-0.004, 0.004),
                area=area.code, kelurahan=rng.choice(kelurahan[area.id]),
                address=f"Jl. Contoh No. {rng.randint(1, 200)}",
                reporter_name=None if rng.random() < 0.3 else f"Warga {n + 1}",
                contact_email=f"warga{n + 1}@contoh.id" if rng.random() < 0.6 else None,
                anonymous=rng.random() < 0.2, channel=Channel.DEMO,
                attributes=_answers(asked[category], rng)))
            uow.commit()
        _drive(driver, demo, submitted, stop, rng, area, open_numbers)
        if stop in ("triage", "disposition", "dispatch", "field_work"):
            open_numbers.append(submitted.case_number)
        by_stop[stop] = by_stop.get(stop, 0) + 1
        if progress:
            progress(1)
    return DemoSummary(cases=count, by_stop=by_stop)


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


def _drive(d: _Driver, demo: Services, sub, stop: str, rng, area, open_numbers) -> None:
    cid = sub.case_id
    if stop == "triage":
        return
    if stop == "rejected":
        d.act(cid, commands.triage, decision="reject", reason="Laporan tidak jelas dan tanpa lokasi pasti.")
        return
    if stop == "merged":
        if open_numbers:
            d.act(cid, commands.merge_duplicate, into_case_number=rng.choice(open_numbers),
                  reason="Laporan yang sama sudah masuk sebelumnya.")
        return
    if not d.act(cid, commands.triage, decision="valid") or stop == "disposition":
        return
    if stop == "asked":
        d.act(cid, commands.request_information,
              question="Mohon kirim patokan lokasi yang lebih jelas (nama toko atau masjid terdekat).")
        return
    if stop in ("transferred", "pingpong"):
        for _ in range(1 if stop == "transferred" else 3):
            current = d.item(cid)
            others = [code for code, aid in d.agencies.items() if aid != current.agency_id]
            if not d.act(cid, commands.transfer, to_agency=rng.choice(others),
                         reason="Bukan kewenangan kami, mohon ditangani OPD terkait."):
                return
        return
    if not d.act(cid, commands.accept) or stop == "dispatch":
        return
    if not d.act(cid, commands.dispatch, team=rng.choice(d.teams[area.id]),
                 instructions="Mohon segera ditangani.") or stop == "field_work":
        return
    rounds = 2 if stop == "reworked" else 1
    for r in range(rounds):
        if not _field_work(d, demo, cid, rng):
            return
        if stop == "verification":
            return
        approve = not (stop == "reworked" and r == 0)
        if not d.act(cid, commands.verify, approve=approve,
                     reason=None if approve else "Foto belum menunjukkan hasil yang tuntas."):
            return
        if stop == "reworked" and r == 1:
            return
    if stop == "reworked" or stop == "closure":
        return
    if not d.act(cid, commands.close, closure_note="Sudah ditangani oleh tim di lapangan. Terima kasih atas laporannya."):
        return
    if stop == "resolved" or not d.later():
        return
    with demo.uow() as uow:
        if stop == "reopened":
            commands.dispute(uow, sub.tracking_code, reason="Masalahnya muncul lagi keesokan harinya.")
        else:
            commands.confirm(uow, sub.tracking_code)
        uow.commit()


def _field_work(d: _Driver, demo: Services, cid: int, rng) -> bool:
    if not d.later():
        return False
    item = d.item(cid)
    actor = d.actor_for(item)
    with demo.uow() as uow:
        photo = demo.storage.prepare(_photo(rng.randrange(10**6)))
        attachment = commands.add_attachment(uow, actor, cid, photo, kind="after")
        arrived = d.clock.now() - timedelta(minutes=rng.randint(10, 90))
        commands.record_field_work(uow, actor, item.id, arrived_at=max(arrived, item.created_at),
                                   action_taken="Lokasi sudah dibersihkan dan dirapikan.",
                                   after_photo=attachment.id)
        uow.commit()
    return True
