"""Time of the two place queries of workflow.read.nearby with 10k, 100k and 1M reports:
``open_nearby`` (open, not confidential reports of a category near a point, for a citizen about
to report) and ``duplicate_candidates`` (recent reports of the case's category group near a case
in triage).

One database grows through the sizes. Reports and their cases are inserted in bulk as a city's
history: a fixed intake of 350 reports a day ending at NOW, so a larger size is more years of
history, not a denser present (each step adds older reports). Reports of the last 21 days are
open (triage, in progress, resolved), and 0.3% of older ones; the rest are closed, rejected or
merged. The points lie in the kecamatan polygons, 70% around 200 hotspots (a 300 m Gaussian
spread), the rest uniform within a kecamatan; categories are skewed (garbage most common); 3% of
reports are confidential.

The same 300 query points (hotspots and random points, seed fixed) and the same 300 recent cases
(reported in the last 3 days) are timed at every size, each call on its own in one read session
after 30 warm-up calls: p50 and p95 in ms per call, the rows returned on average, and the growth
of p95 against the smallest size (targets: p95 <= 20 ms at 1M, growth <= 2). The plans of the
statements the two functions run are printed once at the largest size.

    .venv/bin/python -m bench.nearby [--sizes 10000,100000,1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import math
import random
import secrets
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import shapely
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from bench.dashboard import _bulk, db_moment
from bench.setup import fresh_services
from workflow.areas import AreaMap, area_map
from workflow.read.nearby import duplicate_candidates, open_nearby
from workflow.store.models import OPEN_CASE, Agency, Case, Category, Report

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
PER_DAY = 350  # reports a day, every day
OPEN_DAYS = 21  # reports this recent are still open
OLD_OPEN = 0.003  # older reports still open
CONFIDENTIAL = 0.03
HOTSPOTS, HOTSPOT_SHARE, SPREAD_M = 200, 0.7, 300.0
QUERIES, WARMUP, RECENT_DAYS, DUPLICATE_DAYS = 300, 30, 3, 30
TARGET_P95_MS, TARGET_GROWTH = 20.0, 2.0
BATCH = 20000
# how often each category is reported (by code; the seed's categories, garbage first)
WEIGHTS = {"sampah": 30, "lampu-rambu": 12, "kemacetan": 9, "parkir-liar": 8, "pkl-liar": 8,
           "pelanggaran-lalin": 6, "pelanggaran-bangunan": 5, "fogging-dbd": 5, "kesehatan": 4,
           "gepeng": 4, "reklame-liar": 4, "fasilitas-anak": 3, "orang-hilang": 1}
PLACES = ["depan pasar", "dekat masjid", "samping sekolah", "ujung lorong", "dekat kantor lurah",
          "depan toko", "pinggir kanal", "dekat pertigaan", "belakang puskesmas", "depan rumah warga"]
DETAILS = ["sudah tiga hari", "sejak minggu lalu", "mengganggu warga", "mohon segera ditangani",
           "setiap malam", "makin parah", "sudah dilaporkan ke RT", "membahayakan pengendara"]


class City:
    """Where reports come from: hotspots and kecamatan, fixed by the seed."""

    def __init__(self, shapes: AreaMap, rng: random.Random):
        self.shapes = shapes
        self.kecamatan = [s.area_id for s in shapes.kecamatan]
        self.hotspots = []
        for _ in range(HOTSPOTS):
            area = rng.choice(self.kecamatan)
            self.hotspots.append((*shapes.point_within(area, rng), area))
        self.hotspot_weights = [rng.uniform(0.5, 2.0) for _ in self.hotspots]

    def hotspot(self, rng: random.Random) -> tuple[float, float, int]:
        return rng.choices(self.hotspots, self.hotspot_weights)[0]

    def around(self, rng: random.Random, lat: float, lon: float, area: int,
               spread_m: float) -> tuple[float, float, int]:
        """A point of a Gaussian around (lat, lon) that lies in the city, and its kecamatan."""
        for _ in range(100):
            y = lat + rng.gauss(0, spread_m) / 110_574.0
            x = lon + rng.gauss(0, spread_m) / (111_320.0 * math.cos(math.radians(lat)))
            if shapely.contains_xy(self.shapes.by_id[area].geometry, x, y):
                return round(y, 6), round(x, 6), area
            if shapely.contains_xy(self.shapes.city, x, y):
                return round(y, 6), round(x, 6), self.shapes.locate(y, x).kecamatan_id
        return lat, lon, area

    def point(self, rng: random.Random) -> tuple[float, float, int]:
        """(lat, lon, kecamatan id) of a report."""
        if rng.random() < HOTSPOT_SHARE:
            return self.around(rng, *self.hotspot(rng), SPREAD_M)
        area = rng.choice(self.kecamatan)
        return (*self.shapes.point_within(area, rng), area)


def add_reports(services, city: City, categories: list[Category], count: int, start: int,
                rng: random.Random) -> None:
    """Reports ``start`` .. ``start + count`` (by age: report k was sent k / PER_DAY days before
    NOW) and their cases, written through the driver in batches."""
    dialect = services.engine.dialect.name
    with services.uow() as uow:
        spec_id = services.versions.ensure_current(uow.session, NOW).id
        uow.commit()
    with Session(services.engine) as s:
        agencies = [a.id for a in s.scalars(select(Agency).where(Agency.handles_reports.is_(True)))]
        next_report = (s.scalar(select(func.max(Report.id))) or 0) + 1
        next_case = (s.scalar(select(func.max(Case.id))) or 0) + 1
    weights = [WEIGHTS.get(c.code, 2) for c in categories]

    def when(moment: datetime | None):
        return db_moment(moment, dialect)

    true, false = (True, False) if dialect == "postgresql" else (1, 0)
    for first in range(start, start + count, BATCH):
        n = min(BATCH, start + count - first)
        reports, cases, batch_first = [], [], next_case
        for k in range(first, first + n):
            report_id, case_id = next_report, next_case
            next_report += 1
            next_case += 1
            created = NOW - timedelta(days=(k + rng.random()) / PER_DAY)
            category = rng.choices(categories, weights)[0]
            lat, lon, area = city.point(rng)
            agency, merged_into, closed, close_seconds = rng.choice(agencies), None, None, None
            if NOW - created < timedelta(days=OPEN_DAYS) or rng.random() < OLD_OPEN:
                status = rng.choices(["triage", "in_progress", "resolved"], [2, 5, 2])[0]
                stage = {"triage": "triage", "in_progress": "dispatch", "resolved": "confirm"}[status]
                due = when(created + timedelta(hours=8))
            else:
                status = rng.choices(["closed", "rejected", "merged"], [94, 4, 2])[0]
                stage, due = None, None
                closed = created + timedelta(hours=rng.uniform(2, 240) if status == "closed" else rng.uniform(1, 8))
                close_seconds = (closed - created).total_seconds() if status == "closed" else None
                if status == "merged" and case_id > batch_first:  # into an earlier case of the batch
                    merged_into = case_id - 1
            description = f"{category.name_id} {rng.choice(PLACES)}, {rng.choice(DETAILS)}."
            reports.append((report_id, secrets.token_hex(32), "web", category.id, description, lat, lon, "",
                            area, false, true if rng.random() < CONFIDENTIAL else false, when(created)))
            cases.append((case_id, f"N{k:09d}", report_id, spec_id, status, stage, category.id, area, lat, lon,
                           None if status == "triage" else agency, "normal", 0, 0, 0, due, merged_into,
                           when(created), when(closed or created), when(closed), close_seconds, 1, 0))
        raw = services.engine.raw_connection()
        if dialect == "sqlite":  # a throwaway database: no need to wait for the disk
            raw.cursor().execute("PRAGMA synchronous=OFF")
        try:
            _bulk(raw, dialect, "reports", ["id", "tracking_hash", "channel", "category_id", "description", "lat",
                                            "lon", "address", "area_id", "anonymous", "confidential",
                                            "submitted_at"], reports)
            _bulk(raw, dialect, "cases", ["id", "number", "report_id", "spec_id", "status", "stage", "category_id",
                                          "area_id", "lat", "lon", "agency_id", "priority", "transfer_count",
                                          "reopen_count", "rework_count", "due_at", "merged_into_id", "created_at",
                                          "updated_at", "closed_at", "close_seconds", "version", "event_count"],
                  cases)
            raw.commit()
        finally:
            raw.close()
    with services.engine.connect() as conn:
        if dialect == "postgresql":  # ids were given explicitly: move the sequences past them
            for table in ("reports", "cases"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
            conn.exec_driver_sql("ANALYZE cases")
            conn.exec_driver_sql("ANALYZE reports")
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()


@dataclass
class Timing:
    p50: float
    p95: float
    rows: float


def timed(calls: list, warmup: int) -> Timing:
    """Each call on its own (perf_counter), after ``warmup`` calls; a call returns a list."""
    for fn in calls[:warmup]:
        fn()
    samples, rows = [], 0
    for fn in calls:
        began = time.perf_counter()
        found = fn()
        samples.append((time.perf_counter() - began) * 1000)
        rows += len(found)
    return Timing(statistics.median(samples), statistics.quantiles(samples, n=100)[94], rows / len(calls))


def query_points(city: City, categories: list[Category]) -> list[tuple[int, float, float]]:
    """(category id, lat, lon) of a citizen about to report: 2/3 near a hotspot, 1/3 anywhere."""
    rng = random.Random(11)
    weights = [WEIGHTS.get(c.code, 2) for c in categories]
    out = []
    for i in range(QUERIES):
        category = rng.choices(categories, weights)[0]
        lat, lon, _area = city.around(rng, *city.hotspot(rng), 150.0) if i % 3 else city.point(rng)
        out.append((category.id, lat, lon))
    return out


def statements(engine, fn) -> list[tuple[str, object]]:
    """The statements ``fn`` runs, with their parameters."""
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return seen


def explain(services, session: Session, label: str, fn) -> None:
    dialect = services.engine.dialect.name
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    print(f"\n-- plans of {label} ({dialect})")
    for statement, parameters in statements(services.engine, fn):
        print("\n" + " ".join(statement.split()))
        for row in session.connection().exec_driver_sql(prefix + statement, parameters):
            print("   ", " | ".join(str(v) for v in row) if dialect == "sqlite" else row[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]

    services = fresh_services(args.database_url, NOW)
    with services.reading() as s:
        city = City(area_map(s), random.Random(3))
        categories = list(s.scalars(select(Category).order_by(Category.id)))
    points = query_points(city, categories)
    data_rng = random.Random(7)
    print(f"database: {services.engine.dialect.name}; {PER_DAY} reports a day ending {NOW:%Y-%m-%d}", flush=True)
    print(f"{'reports':>9}{'days':>7}{'open':>7}  {'open_nearby p50':>15}{'p95':>8}{'rows':>6}"
          f"  {'duplicates p50':>14}{'p95':>8}{'rows':>6}{'load s':>8}", flush=True)
    results: list[tuple[int, Timing, Timing]] = []
    have = 0
    for size in sizes:
        began = time.perf_counter()
        add_reports(services, city, categories, size - have, have, data_rng)
        have, load_s = size, time.perf_counter() - began
        with services.reading() as session:
            by_id = {c.id: c for c in session.scalars(select(Category))}
            open_count = session.scalar(select(func.count()).select_from(Case).where(OPEN_CASE))
            near = timed([lambda p=p: open_nearby(session, by_id[p[0]], p[1], p[2]) for p in points], WARMUP)
            recent = list(session.scalars(select(Case.id).where(
                Case.created_at >= NOW - timedelta(days=RECENT_DAYS)).order_by(Case.id)))
            picked = random.Random(13).sample(recent, min(QUERIES, len(recent)))
            loaded = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(picked)))}
            cases = [loaded[i] for i in picked]
            dup = timed([lambda c=c: duplicate_candidates(session, c, days=DUPLICATE_DAYS,
                                                          now=NOW) for c in cases], WARMUP)
            results.append((size, near, dup))
            print(f"{size:>9}{size / PER_DAY:>7.0f}{open_count:>7}  {near.p50:>15.2f}{near.p95:>8.2f}"
                  f"{near.rows:>6.1f}  {dup.p50:>14.2f}{dup.p95:>8.2f}{dup.rows:>6.1f}{load_s:>8.0f}", flush=True)
            if size == sizes[-1]:
                p = next((p for p in points if open_nearby(session, by_id[p[0]], p[1], p[2])), points[0])
                explain(services, session, f"open_nearby({by_id[p[0]].code}, {p[1]}, {p[2]})",
                        lambda: open_nearby(session, by_id[p[0]], p[1], p[2]))
                c = next((c for c in cases if duplicate_candidates(
                    session, c, days=DUPLICATE_DAYS, now=NOW)), cases[0])
                explain(services, session, f"duplicate_candidates({c.number})",
                        lambda: duplicate_candidates(session, c, days=DUPLICATE_DAYS,
                                                     now=NOW))
    services.dispose()

    first, last = results[0], results[-1]
    print(f"\nresults ({services.engine.dialect.name}), ms per call; growth = p95 at {last[0]} / p95 at {first[0]}")
    print(f"{'query':<22}" + "".join(f"{f'{size} p50/p95 (rows)':>28}" for size, _n, _d in results) + f"{'growth':>9}")
    for label, k in (("open_nearby", 1), ("duplicate_candidates", 2)):
        cells = "".join(f"{f'{r[k].p50:.2f} / {r[k].p95:.2f} ({r[k].rows:.1f})':>28}" for r in results)
        print(f"{label:<22}{cells}{last[k].p95 / first[k].p95:>9.2f}")
    print()
    for label, k in (("open_nearby", 1), ("duplicate_candidates", 2)):
        p95, growth = last[k].p95, last[k].p95 / first[k].p95
        verdict = "met" if p95 <= TARGET_P95_MS and growth <= TARGET_GROWTH else "NOT met"
        print(f"{label}: p95 {p95:.2f} ms at {last[0]} (target <= {TARGET_P95_MS:.0f}), growth {growth:.2f} "
              f"(target <= {TARGET_GROWTH:.0f}): {verdict}")


if __name__ == "__main__":
    main()
