"""Notices delivered per second by the delivery worker, against smtplib sending the same
rendered messages in a loop, in the same run, to the same SMTP server on loopback (aiosmtpd),
slice by slice (each slice sent by smtplib, then delivered by the worker).

The worker's extra work per notice is what a reliable queue costs: a leased claim, rendering,
marking it sent and appending ``notification_sent`` to the case's audit chain. The ratio
worker / smtplib is the figure (target >= 0.5); absolute rates depend on the machine.

    .venv/bin/python -m bench.outbox [--notices 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import smtplib
import time
from datetime import datetime, timezone

from sqlalchemy import select, update

from bench.setup import fresh_services
from tests.bulk import copy_notices
from tests.mailserver import SmtpServer
from workflow import commands
from workflow.notify.delivery import Deliverer, configured_channels
from workflow.store.models import OutboxMessage

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
REPORTS = 50


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=2000)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)

    smtp = SmtpServer()
    smtp.start()
    services = None
    try:
        services = fresh_services(args.database_url, NOW, {"TANGGAP_SMTP_HOST": "127.0.0.1",
                                                           "TANGGAP_SMTP_PORT": str(smtp.port),
                                                           "TANGGAP_SMTP_SECURITY": "none"})
        count, baseline, rate = measure(services, smtp, args.notices)
    finally:  # a failed run leaves no server thread or open connection behind (its test runs in process)
        if services is not None:
            services.dispose()
        smtp.stop()
    print(f"{services.engine.dialect.name}, {count} notices: smtplib loop {baseline:.0f}/s, "
          f"delivery worker {rate:.0f}/s, ratio {rate / baseline:.2f}")


def measure(services, smtp: SmtpServer, notices: int) -> tuple[int, float, float]:
    """Queue about ``notices`` notices, send them by both sides; how many, and each side's rate
    (notices a second). Raises if the worker did not send every notice or the server did not
    receive each twice."""
    for i in range(REPORTS):
        with services.uow() as uow:
            commands.submit_report(uow, commands.ReportInput(
                category="sampah", description=f"Sampah menumpuk di depan pasar, laporan {i}.",
                lat=-5.156, lon=119.405, area="mariso", contact_email=f"warga{i}@example.id"))
            uow.commit()
    copy_notices(services, max(1, notices // REPORTS))
    with services.reading() as session:
        ids = list(session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))

    batch = 100
    worker = Deliverer(services, configured_channels(services), worker="bench", batch=batch)
    try:
        channel = worker.channels[next(iter(worker.channels))]
        rendered = [worker.prepare([i])[1] for i in ids]  # from the templates, not timed
        # Paired in slices, so that a noisy neighbour slows both sides alike: smtplib sends a slice,
        # then the worker delivers the same slice (one round: claim, prepare, send, mark).
        baseline_time = worker_time = 0.0
        sent = 0
        with smtplib.SMTP("127.0.0.1", smtp.port) as client:
            for start in range(0, len(rendered), batch):
                began = time.perf_counter()
                for outgoing in rendered[start:start + batch]:  # the same MIME message the worker builds
                    client.send_message(channel.message(outgoing))
                baseline_time += time.perf_counter() - began
                began = time.perf_counter()
                sent += worker.run_once().sent
                worker_time += time.perf_counter() - began
    finally:
        worker.close()
    if not ids or sent != len(ids) or len(smtp.box.messages) != 2 * len(ids):
        raise SystemExit(f"{len(ids)} notices queued, the worker sent {sent}, the server received "
                         f"{len(smtp.box.messages)} messages (expected {2 * len(ids)})")
    with services.uow() as uow:  # leave nothing leased behind for a rerun on the same database
        uow.session.execute(update(OutboxMessage).values(lease_owner=None))
        uow.commit()
    return len(ids), len(rendered) / baseline_time, sent / worker_time

if __name__ == "__main__":
    main()
