"""The web app under load, as production serves it: requests per second and latency of a realistic
mix (``bench/locustfile.py``, driven by Locust headless on loopback) against the health check
under the same server, runs of the two interleaved in the same bench run.

Configurations: gunicorn with 2 and 4 workers on PostgreSQL (a scratch database on the server of
``database_url``), and the embedded server (``tanggap serve``: SQLite, the timer, notice, log and
migration workers in the same process) when ``database_url`` is None. Each starts from a fresh
database set up as an operator would: ``tanggap db upgrade`` and ``tanggap seed``, then staff
accounts and an Open311 key through the app's own commands, and open cases filed days ago and
swept, so that inboxes hold work and supervisors see escalations. The report and API write
limits are raised for the load generator's loopback address through the app's settings
(``TANGGAP_REPORT_LIMIT``, ``TANGGAP_API_WRITE_LIMIT``); nothing of its security is switched off.

After each configuration the database is checked: every submission Locust saw accepted (a 302
from the web form, a 200 from Open311) is a case exactly once, and ``tanggap audit verify``
passes. Either failing is a failed figure.

    .venv/bin/python -m bench --only http_load [--smoke | --quick | --full] [--database-url URL]
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.report import Figure, percentile

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PASSWORD = "beban-uji-Tanggap-2026"  # the staff accounts' password (passes the password rule)
MARKER = re.compile(r"\(uji beban ([0-9a-f]{16})\)")
UNLIMITED = "1000000 per minute"  # the load generator is one loopback address filing every report
MIX_USERS = ("Citizen", "Triage", "Coordinator", "FieldOfficer", "Supervisor")
WORKER_COUNTS = (2, 4)  # gunicorn configurations on PostgreSQL


@dataclass(frozen=True)
class Size:
    users: int  # concurrent Locust users (no think time)
    seconds: int  # one run of the mix or of the baseline
    rounds: int  # pairs of (baseline, mix) runs, interleaved
    open_cases: int  # filed before the runs, days ago


SIZES = {"smoke": Size(users=6, seconds=4, rounds=1, open_cases=6),
         "quick": Size(users=12, seconds=20, rounds=2, open_cases=60),
         "full": Size(users=12, seconds=60, rounds=3, open_cases=300)}


@dataclass
class Deployment:
    """A fresh installation: its environment (database, instance folder, limits) and the plan the
    locustfile reads (users, password, Open311 key, categories, areas)."""

    env: dict[str, str]
    workdir: Path
    plan_file: Path
    database_url: str
    accepted: list[dict] = field(default_factory=list)  # every submission accepted, over all runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """A ``tanggap`` command (or any) to its end, bounded in time; its output kept."""
    return subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          check=False)


def prepare(database_url: str | None, open_cases: int, extra_env: dict[str, str] | None = None) -> Deployment:
    """Migrate and seed a new database (a scratch one on the PostgreSQL server of
    ``database_url``, else a new SQLite file), add staff and an Open311 key, file
    ``open_cases`` reports three days ago (half of them past triage) and sweep their timers."""
    from bench.setup import scratch_database

    workdir = Path(tempfile.mkdtemp(prefix="tanggap-http-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # with the servers' and Locust's logs
    instance = workdir / "instance"
    url = scratch_database(database_url) if database_url else f"sqlite:///{instance / 'tanggap.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANGGAP_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": url, "TANGGAP_INSTANCE": str(instance),
                "TANGGAP_BPMN_DIR": str(REPO / "bpmn"),
                "TANGGAP_REPORT_LIMIT": UNLIMITED, "TANGGAP_API_WRITE_LIMIT": UNLIMITED,
                "TANGGAP_MAP_LIMIT": UNLIMITED, "PYTHONPATH": str(REPO), **(extra_env or {})})
    for command in (["db", "upgrade"], ["seed"]):
        done = run([str(BIN / "tanggap"), *command], env, timeout=300)
        if done.returncode:
            raise RuntimeError(f"tanggap {' '.join(command)} failed: {done.stdout}{done.stderr}")
    plan = _staff_and_work(env, open_cases)
    plan_file = workdir / "plan.json"
    plan_file.write_text(json.dumps(plan))
    return Deployment(env=env, workdir=workdir, plan_file=plan_file, database_url=url)


def _staff_and_work(env: dict[str, str], open_cases: int) -> dict:
    from sqlalchemy import select

    from escalation.sweeper import Sweeper
    from escalation.wiring import build
    from tanggap.demo import DESCRIPTIONS
    from tanggap.scenario import Scenario
    from tests import actions
    from workflow import commands
    from workflow.access import Actor, actor_for_user
    from workflow.areas import area_map
    from workflow.clock import ManualClock
    from workflow.commands import accounts, credentials
    from workflow.config import Settings
    from workflow.store.models import Agency, Category, QrTeam

    now = datetime.now(timezone.utc)
    clock = ManualClock(now - timedelta(days=3))
    services = build(Settings.from_env(env), clock=clock)
    try:
        with services.reading() as session:
            agencies = list(session.scalars(select(Agency).order_by(Agency.code)))
            teams = list(session.scalars(select(QrTeam.code).order_by(QrTeam.code)))
            categories = [c.code for c in session.scalars(select(Category).where(Category.active.is_(True)))
                          if not any(a.get("required") for a in c.attributes or [])]
            shapes = area_map(session)
            areas = []
            for s in shapes.kecamatan:
                lat, lon = shapes.label_point(s.area_id)
                areas.append({"code": s.code, "lat": lat, "lon": lon})
        center = next(a.code for a in agencies if a.is_command_center)
        opds = [a.code for a in agencies if not a.is_command_center]
        staff = {  # each coordinator and officer of every OPD and team: any of them may race any other
            "triage": [("triage", center)],
            "coordinator": [("coordinator", code) for code in opds],
            "qr_officer": [("qr_officer", code) for code in teams],
            "supervisor": [("supervisor", None)],
        }
        users: dict[str, list[str]] = {}
        actors: dict[str, Actor] = {}
        for role, roles in staff.items():
            for i in range(1, 4):
                username = f"beban.{role.replace('_', '')}.{i}"
                with services.uow() as uow:
                    user = accounts.create_account(uow, Actor.command_line(), username=username,
                                                   full_name=f"Uji Beban {role} {i}", email=None, roles=roles,
                                                   password=PASSWORD).user
                    uow.commit()
                    actors.setdefault(role, actor_for_user(uow.session, user.id))
                users.setdefault(role, []).append(username)
        with services.uow() as uow:
            _row, api_key = credentials.issue(uow, "open311", "Uji beban")
            uow.commit()

        scenario = Scenario(services, step=timedelta(minutes=1))
        descriptions = list(DESCRIPTIONS.values())
        for i in range(open_cases):  # filed days ago: by now past their SLA targets
            area = areas[i % len(areas)]
            with services.uow() as uow:
                submitted = commands.submit_report(uow, commands.ReportInput(
                    category=categories[i % len(categories)], description=descriptions[i % len(descriptions)],
                    lat=area["lat"], lon=area["lon"], area=area["code"]))
                uow.commit()
            if i % 2:
                scenario.do(actions.triage, actors["triage"], submitted.case_id, decision="valid")
        clock.set(datetime.now(timezone.utc))
        sweeper = Sweeper(services, worker="bench")
        while sweeper.run_once().claimed:
            pass
        return {"users": users, "password": PASSWORD, "api_key": api_key, "categories": categories,
                "areas": areas, "descriptions": descriptions}
    finally:
        services.dispose()


@contextlib.contextmanager
def serving(deployment: Deployment, command: list[str], port: int, timeout: float = 60):
    """The server of ``command`` (gunicorn or ``tanggap serve``) until the block ends; it must
    answer ``/healthz`` within ``timeout`` seconds. Stopped (TERM, then KILL) in any case."""
    log = open(deployment.workdir / f"server-{port}.log", "w")
    server = subprocess.Popen(command, env=deployment.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                said = (deployment.workdir / log.name).read_text()[-2000:]
                raise RuntimeError(f"{command[0]} exited: {said}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not answer /healthz within {timeout:g} s")
            time.sleep(0.2)
        yield server
    finally:
        stop(server)
        log.close()


def stop(process: subprocess.Popen, grace: float = 15) -> None:
    """TERM the process's group, KILL it after ``grace`` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def gunicorn(workers: int, port: int) -> list[str]:
    """gunicorn as README's production section starts it (``tanggap.gunicorn``'s settings), with
    that many workers."""
    return [str(BIN / "gunicorn"), "-c", "python:tanggap.gunicorn", "-w", str(workers),
            "-b", f"127.0.0.1:{port}", "web:create_app()"]


def embedded(port: int) -> list[str]:
    return [str(BIN / "tanggap"), "serve", "--port", str(port)]


def locust(deployment: Deployment, port: int, classes: tuple[str, ...], users: int, seconds: float,
           extra_env: dict[str, str] | None = None, stop_after: int = 0) -> dict:
    """One headless Locust run against the server on ``port``: what the locustfile measured."""
    out = deployment.workdir / f"locust-{time.monotonic_ns()}.json"
    env = {**deployment.env, "TANGGAP_BENCH_PLAN": str(deployment.plan_file), "TANGGAP_BENCH_OUT": str(out),
           "TANGGAP_BENCH_STOP_AFTER": str(stop_after), **(extra_env or {})}
    command = [str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "--host", f"http://127.0.0.1:{port}",
               "-u", str(users), "-r", str(users), "-t", f"{seconds:g}s", "--stop-timeout", "10",
               "--only-summary", "--loglevel", "WARNING", *classes]
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=seconds + 90)
    finally:
        stop(process, grace=5)
    if not out.exists():
        raise RuntimeError(f"locust wrote no results (exit {process.returncode}): {output[-2000:]}")
    result = json.loads(out.read_text())
    deployment.accepted += result["accepted"]
    return result


@dataclass
class Runs:
    """The runs of one kind (the mix, or the baseline), pooled."""

    seconds: float = 0.0
    count: int = 0
    times: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)
    conflicts: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    by_name: dict[str, list[float]] = field(default_factory=dict)

    def add(self, result: dict) -> None:
        self.seconds += result["seconds"]
        for name, samples in result["times"].items():
            if "/login" in name:  # once per user, at its start: not the steady load
                continue
            self.count += len(samples)
            self.times += samples
            self.by_name.setdefault(name, []).extend(samples)
            if " POST " in f" {name} ":
                self.writes += samples
        for name, statuses in result["statuses"].items():
            for status, n in statuses.items():
                self.statuses[f"{name} {status}"] += n
        self.conflicts += result["conflicts"]
        self.errors += result["error_count"]
        self.error_samples += result["errors"][:5]

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def heaviest(self, n: int = 6) -> str:
        """The requests the server spent most time on (count × latency), with mean and p95."""
        ranked = sorted(self.by_name.items(), key=lambda kv: -sum(kv[1]))[:n]
        total = sum(self.times) or 1
        return "; ".join(f"{name} {sum(t) / total:.0%} (n={len(t)}, mean {sum(t) / len(t):.0f} ms, "
                         f"p95 {percentile(t, 95):.0f} ms)" for name, t in ranked)


def measure(deployment: Deployment, port: int, size: Size) -> tuple[Runs, Runs]:
    """(mix, baseline): ``size.rounds`` pairs, in the order ABBA… so that drift hits both alike."""
    mix, trivial = Runs(), Runs()
    for i in range(size.rounds):
        order = ((trivial, ("Trivial",)), (mix, MIX_USERS))
        for runs, classes in (order if i % 2 == 0 else order[::-1]):
            runs.add(locust(deployment, port, classes, size.users, size.seconds))
    return mix, trivial


def check_database(deployment: Deployment) -> tuple[int, list[str], int]:
    """(submissions accepted but not a case exactly once, what is wrong, cases checked)."""
    from sqlalchemy import create_engine, select

    from workflow.store.models import Case, Report

    engine = create_engine(deployment.database_url)
    try:
        with engine.connect() as conn:
            descriptions = conn.execute(select(Report.description)
                                        .join(Case, Case.report_id == Report.id)).scalars()
            found = Counter(m.group(1) for d in descriptions if (m := MARKER.search(d or "")))
    finally:
        engine.dispose()
    accepted = Counter(a["marker"] for a in deployment.accepted)
    wrong = []
    for marker, n in accepted.items():
        if n > 1:
            wrong.append(f"submission {marker} accepted {n} times")
        if found.get(marker, 0) != 1:
            wrong.append(f"submission {marker} accepted, {found.get(marker, 0)} cases")
    unseen = [m for m in found if m not in accepted]
    if unseen:  # kept by the server, but the client never saw it accepted (a timeout): said, not failed
        wrong.append(f"{len(unseen)} cases of submissions Locust did not see accepted")
    failures = sum(1 for w in wrong if not w.endswith("did not see accepted"))
    return failures, wrong, sum(accepted.values())


def audit_verify(deployment: Deployment) -> tuple[int, str]:
    """``tanggap audit verify`` on the deployment's database: (exit code, its last line)."""
    done = run([str(BIN / "tanggap"), "audit", "verify"], deployment.env, timeout=600)
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, lines[-1] if lines else ""


def configuration_figures(group: str, label: str, deployment: Deployment, command: list[str], port: int,
                          size: Size, notes: list[str], *, p99_target: float | None = None) -> list[Figure]:
    with serving(deployment, command, port):
        mix, trivial = measure(deployment, port, size)
    failures, wrong, accepted = check_database(deployment)
    verify_rc, verify_line = audit_verify(deployment)
    figures = [
        Figure(group, f"{label}: mix, req/s", mix.rate, "req/s", baseline="/healthz",
               baseline_value=trivial.rate, target=200, ratio_target=0.3, at_most=False,
               note=f"{size.users} users, {size.rounds}×{size.seconds} s"),
        Figure(group, f"{label}: mix, p95", percentile(mix.times, 95), "ms", baseline="/healthz p95",
               baseline_value=percentile(trivial.times, 95), target=100),
    ]
    if p99_target is not None:
        figures.append(Figure(group, f"{label}: mix, p99", percentile(mix.times, 99), "ms",
                              baseline="/healthz p99", baseline_value=percentile(trivial.times, 99),
                              target=p99_target))
    if mix.writes:
        figures.append(Figure(group, f"{label}: writes, p95", percentile(mix.writes, 95), "ms",
                              note=f"{len(mix.writes)} POSTs"))
    figures += [
        Figure(group, f"{label}: unexpected errors", mix.errors + trivial.errors, "requests", target=0,
               note=f"{mix.conflicts} expected 409s, of {mix.count} requests"),
        Figure(group, f"{label}: accepted submissions not a case exactly once", failures, "submissions",
               target=0, note=f"{accepted} accepted"),
        Figure(group, f"{label}: tanggap audit verify", verify_rc, "exit code", target=0),
    ]
    notes.append(f"{group}, {label}: where the mix's time went: {mix.heaviest()}")
    if mix.error_samples or trivial.error_samples:
        notes.append(f"{group}, {label}: unexpected answers, e.g. " + " | ".join(
            (mix.error_samples + trivial.error_samples)[:5]))
    if failures:
        notes.append(f"FAILED: {group}, {label}: accepted submissions not a case exactly once: "
                     + "; ".join(wrong[:10]))
    elif wrong:
        notes.append(f"{group}, {label}: " + "; ".join(wrong))
    if verify_rc:
        notes.append(f"FAILED: {group}, {label}: tanggap audit verify exited {verify_rc}: {verify_line}")
    return figures


def figures(profile: str, database_url: str | None, notes: list[str]) -> list[Figure]:
    size = SIZES[profile]
    out: list[Figure] = []
    if database_url is None:
        deployment = prepare(None, size.open_cases)
        port = free_port()
        out += configuration_figures("HTTP load (embedded, SQLite)", "tanggap serve", deployment,
                                     embedded(port), port, size, notes, p99_target=500)
        return out
    for workers in WORKER_COUNTS:
        deployment = prepare(database_url, size.open_cases)
        port = free_port()
        out += configuration_figures("HTTP load (gunicorn, PostgreSQL)", f"{workers} workers", deployment,
                                     gunicorn(workers, port), port, size, notes)
    return out


if __name__ == "__main__":
    from bench.__main__ import main

    main(["--only", "http_load", *sys.argv[1:]])
