"""Memory over time: the resident set (RSS) of one web worker under the HTTP mix of
``bench/locustfile.py``, and of the escalation worker (``escalation.sweeper``) and the notice
worker (``workflow.notify.delivery``) over many firings and deliveries, sampled every slice.

The figure is the growth from the first slice to the last (after a warm-up slice): it must stay
flat, at most 10% of the first slice's RSS; the series is in the note. The web worker is the
embedded server (``tanggap serve``: SQLite, its background workers in the same process) when
``database_url`` is None, else one gunicorn worker on a scratch PostgreSQL database. The two
workers run in this process, on the same kind of database, against a loopback SMTP server.

    .venv/bin/python -m bench --only memory [--smoke | --quick | --full] [--database-url URL]
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench import http_load
from bench.report import Figure


@dataclass(frozen=True)
class Size:
    requests: int  # of the mix, through one web worker
    request_slice: int
    firings: int  # timers fired by the escalation worker; notices sent by the notice worker
    firing_slice: int
    users: int = 8


SIZES = {"smoke": Size(requests=300, request_slice=100, firings=300, firing_slice=100),
         "quick": Size(requests=5000, request_slice=500, firings=5000, firing_slice=500),
         "full": Size(requests=10000, request_slice=1000, firings=20000, firing_slice=1000)}


def rss_kib(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def growth_figure(group: str, name: str, series_kib: list[int], per: str) -> Figure:
    """Growth of RSS from the first sample to the last, against 10% of the first."""
    mib = [kib / 1024 for kib in series_kib]
    first, last = mib[0], mib[-1]
    return Figure(group, name, last - first, "MiB", baseline="first slice", baseline_value=first,
                  target=round(first * 0.10, 1),
                  note=f"RSS per {per}: " + ", ".join(f"{m:.0f}" for m in mib)
                  + f" MiB; peak {max(mib):.0f} MiB")


def web_worker(profile: str, database_url: str | None, notes: list[str]) -> list[Figure]:
    size = SIZES[profile]
    deployment = http_load.prepare(database_url, 20)
    port = http_load.free_port()
    command = http_load.embedded(port) if database_url is None else http_load.gunicorn(1, port)
    label = "tanggap serve (SQLite)" if database_url is None else "one gunicorn worker (PostgreSQL)"
    with http_load.serving(deployment, command, port) as server:
        pid = server.pid if database_url is None else _only_child(server.pid)
        result = http_load.locust(deployment, port, http_load.MIX_USERS, size.users,
                                  seconds=max(60, size.requests / 5), stop_after=size.requests,
                                  extra_env={"TANGGAP_BENCH_RSS_PID": str(pid),
                                             "TANGGAP_BENCH_RSS_EVERY": str(size.request_slice)})
    series = [kib for _count, kib in result["rss"]]
    if len(series) < 2:
        notes.append(f"FAILED: memory, {label}: {result['count']} requests, fewer than two RSS samples")
        return [Figure("memory", f"{label}: RSS growth over the mix", float("nan"), "MiB", target=0)]
    if result["error_count"]:
        notes.append(f"memory, {label}: {result['error_count']} unexpected answers, e.g. "
                     + " | ".join(result["errors"][:3]))
    return [growth_figure("memory", f"{label}: RSS growth, {result['count']} requests of the mix", series,
                          f"{size.request_slice} requests")]


def _only_child(pid: int, timeout: float = 30) -> int:
    """The one worker of a gunicorn master."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if len(children) == 1:
            return int(children[0])
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn {pid} has no single worker")


NOW = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)  # Monday 08:00 WITA


def sweeper(profile: str, database_url: str | None, notes: list[str]) -> list[Figure]:
    """Cases in triage (copies of one real case, two SLA timers each), their timers fired slice by
    slice: the clock moves past both targets, the sweeper fires a slice's worth at a time."""
    from bench.setup import fresh_services
    from escalation.sweeper import Sweeper
    from tests.bulk import clone_case
    from workflow import commands

    size = SIZES[profile]
    services = fresh_services(database_url, NOW)
    try:
        with services.uow() as uow:
            first = commands.submit_report(uow, commands.ReportInput(
                category="sampah", description="Sampah menumpuk di depan pasar sejak Senin.",
                lat=-5.156, lon=119.405, area="mariso"))
            uow.commit()
        clone_case(services, first.case_id, size.firings // 2 - 1)  # two timers each
        services.clock.advance(timedelta(days=30))  # past the target and twice the target
        worker = Sweeper(services, worker="bench-memory", batch=100)
        series, fired = [], 0
        gc.collect()
        while fired < size.firings:
            done = worker.run_once()
            if not done.claimed:
                break
            fired += done.fired
            if fired // size.firing_slice > len(series):
                series.append(rss_kib())
    finally:
        services.dispose()
    if fired < size.firings:
        notes.append(f"FAILED: memory, escalation worker: {fired} of {size.firings} timers fired")
    name = f"escalation worker ({_database(database_url)}): RSS growth, {fired} timers fired"
    return [growth_figure("memory", name, series,
                          f"{size.firing_slice} firings")]


def outbox(profile: str, database_url: str | None, notes: list[str]) -> list[Figure]:
    """Notices (copies of real ones) delivered to a loopback SMTP server, batch by batch."""
    from bench.setup import fresh_services
    from tests.bulk import copy_notices
    from tests.mailserver import SmtpServer
    from workflow import commands
    from workflow.notify.delivery import Deliverer, configured_channels

    size = SIZES[profile]
    smtp = SmtpServer()
    smtp.start()
    services = fresh_services(database_url, NOW, {
        "TANGGAP_SMTP_HOST": "127.0.0.1", "TANGGAP_SMTP_PORT": str(smtp.port),
        "TANGGAP_SMTP_SECURITY": "none"})
    reports = 50
    try:
        for i in range(reports):
            with services.uow() as uow:
                commands.submit_report(uow, commands.ReportInput(
                    category="sampah", description=f"Sampah menumpuk di depan pasar, laporan {i}.",
                    lat=-5.156, lon=119.405, area="mariso", contact_email=f"warga{i}@example.id"))
                uow.commit()
        copy_notices(services, max(1, size.firings // reports))
        worker = Deliverer(services, configured_channels(services), worker="bench-memory", batch=100)
        series, sent = [], 0
        gc.collect()
        while sent < size.firings:
            done = worker.run_once()
            if not done.claimed:
                break
            sent += done.sent
            smtp.box.messages.clear()  # the test server keeps what it received: not the worker's memory
            if sent // size.firing_slice > len(series):
                series.append(rss_kib())
        worker.close()
    finally:
        services.dispose()
        smtp.stop()
    if sent < size.firings:
        notes.append(f"FAILED: memory, notice worker: {sent} of {size.firings} notices sent")
    name = f"notice worker ({_database(database_url)}): RSS growth, {sent} notices sent"
    return [growth_figure("memory", name, series,
                          f"{size.firing_slice} notices")]


def _database(database_url: str | None) -> str:
    return "PostgreSQL" if database_url else "SQLite"


def figures(profile: str, database_url: str | None, notes: list[str]) -> list[Figure]:
    return [*web_worker(profile, database_url, notes), *sweeper(profile, database_url, notes),
            *outbox(profile, database_url, notes)]


if __name__ == "__main__":
    from bench.__main__ import main

    main(["--only", "memory", *sys.argv[1:]])
