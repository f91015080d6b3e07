"""The load ``bench.http_load`` and ``bench.memory`` drive with Locust (headless, loopback): citizens
filing reports (the web form with its CSRF token, and Open311), triage and OPD coordinators
working their inbox (open, claim, complete: a 409 when two of them race for one task is expected
and counted apart), QR officers' field view, supervisors' escalation views; or, for the baseline,
``/healthz`` alone under the same server.

Locust loads this file in its own process (gevent): it imports nothing of the app. What it needs
comes from the JSON file named by ``TANGGAP_BENCH_PLAN`` (written by ``bench.http_load.prepare``):
the users and their password, the Open311 key, the categories and kecamatan with a point inside
each. What it measured goes to the JSON file ``TANGGAP_BENCH_OUT`` when the run stops: per request
name the response times and statuses, the unexpected answers, and every submission the server
accepted (its marker, the case's tracking code or number). Which users run is Locust's command
line: ``Trivial`` alone, or the others (the mix). ``TANGGAP_BENCH_STOP_AFTER`` ends the run after that
many requests (the memory benchmark), sampling the RSS of the process ``TANGGAP_BENCH_RSS_PID`` every
``TANGGAP_BENCH_RSS_EVERY`` requests.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import secrets
import time
from collections import defaultdict

import gevent
from locust import FastHttpUser, between, events, task

PLAN = json.loads(open(os.environ["TANGGAP_BENCH_PLAN"], encoding="utf-8").read())
OUT = os.environ["TANGGAP_BENCH_OUT"]
STOP_AFTER = int(os.environ.get("TANGGAP_BENCH_STOP_AFTER", "0") or 0)
RSS_PID = int(os.environ.get("TANGGAP_BENCH_RSS_PID", "0") or 0)
RSS_EVERY = int(os.environ.get("TANGGAP_BENCH_RSS_EVERY", "1000") or 1000)

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
                   r'|"X-CSRFToken": "([^"]+)"')
TASK_LINK = re.compile(r'href="/tasks/(\d+)"')
CASE_LINK = re.compile(r'href="/cases/(\d+)"')
VERSION = re.compile(r'name="version" type="hidden" value="(\d+)"|name="version" value="(\d+)"')
ARRIVED = re.compile(r'name="arrived_at"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="arrived_at"')
ALERT = re.compile(r'role="alert"[^>]*>([^<]+)<')
TEAM = re.compile(r'<option value="(qr-[^"]+)"')
NUMBER = re.compile(r"<service_request_id>([^<]+)</service_request_id>|\"service_request_id\": ?\"([^\"]+)\"")


def _jpeg() -> bytes:
    """A small photo for the field officers' "after" field (made once, not timed)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(out, "JPEG")
    return out.getvalue()


PHOTO = _jpeg()


def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    """A multipart/form-data body of ``fields`` and ``files`` (name -> (filename, bytes, type))."""
    boundary = secrets.token_hex(16)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, (filename, content, mime) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\n'
                     f"Content-Type: {mime}\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def said(response) -> str:
    """What an unexpected answer says: its error messages, else the start of its body."""
    text = response.text or str(response.error or "")
    alerts = ALERT.findall(text)
    return "; ".join(a.strip() for a in alerts) if alerts else text[:300]


class Tally:
    """What the run measured, kept in this process and written once at the end."""

    def __init__(self):
        self.times: dict[str, list[float]] = defaultdict(list)  # request name -> ms
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.conflicts = 0  # expected 409s: someone else acted first
        self.errors: list[str] = []  # unexpected answers, the first few in full
        self.error_count = 0
        self.accepted: list[dict] = []  # submissions the server took
        self.count = 0
        self.started = self.stopped = None
        self.rss: list[tuple[int, int]] = []  # (requests so far, RSS kB)

    def record(self, name: str, status: int, ms: float, outcome: str, detail: str = "") -> None:
        if self.started is None:
            self.started = time.monotonic()
        self.times[name].append(ms)
        self.statuses[name][status] += 1
        self.count += 1
        if outcome == "conflict":
            self.conflicts += 1
        elif outcome == "error":
            self.error_count += 1
            if len(self.errors) < 20:
                self.errors.append(f"{name}: {status} {detail[:300]}")
        if RSS_PID and self.count % RSS_EVERY == 0:
            self.rss.append((self.count, rss_kb(RSS_PID)))
        if STOP_AFTER and self.count == STOP_AFTER and RUNNER is not None:
            gevent.spawn(RUNNER.quit)  # not from this user's greenlet, which quitting kills

    def dump(self) -> None:
        self.stopped = time.monotonic()
        with open(OUT, "w", encoding="utf-8") as f:
            json.dump({"times": self.times, "statuses": self.statuses, "conflicts": self.conflicts,
                       "errors": self.errors, "error_count": self.error_count, "accepted": self.accepted,
                       "seconds": (self.stopped - self.started) if self.started else 0.0,
                       "count": self.count, "rss": self.rss}, f)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


TALLY = Tally()
RUNNER = None


@events.init.add_listener
def _keep_runner(environment, **_kw):
    global RUNNER
    RUNNER = environment.runner


@events.quitting.add_listener
def _write(environment, **_kw):
    TALLY.dump()


class Client(FastHttpUser):
    """One person in a browser without JavaScript (or an app): each request timed and classed
    as expected, conflict (409 where a race is possible) or unexpected."""

    abstract = True
    wait_time = between(0, 0)

    def call(self, method: str, url: str, name: str, expect=(200,), conflict_ok: bool = False, **kwargs):
        started = time.perf_counter()
        with self.client.request(method, url, name=name, catch_response=True, allow_redirects=False,
                                 **kwargs) as response:
            ms = (time.perf_counter() - started) * 1000
            status = response.status_code or 0
            if status in expect:
                outcome = "ok"
            elif status == 409 and conflict_ok:
                outcome = "conflict"
            else:
                outcome = "error"
            TALLY.record(name, status, ms, outcome, f"{url} {said(response)}" if outcome == "error" else "")
            if outcome == "error":
                response.failure(f"unexpected {status}")
            else:
                response.success()
            return response if outcome != "error" else None

    def token(self, html: str) -> str | None:
        found = TOKEN.search(html or "")
        return next(g for g in found.groups() if g) if found else None


class Trivial(Client):
    """The baseline: the health check, under the same server and the same number of users."""

    @task
    def health(self):
        self.call("GET", "/healthz", "trivial /healthz")


def _report_fields() -> dict:
    category = random.choice(PLAN["categories"])
    area = random.choice(PLAN["areas"])
    marker = secrets.token_hex(8)
    return {"category": category, "area": area["code"], "lat": f"{area['lat']:.6f}",
            "lon": f"{area['lon']:.6f}",
            "description": f"{random.choice(PLAN['descriptions'])} (uji beban {marker})", "marker": marker}


class Citizen(Client):
    weight = 4

    @task(3)
    def web_report(self):
        page = self.call("GET", "/lapor", "citizen GET /lapor")
        token = page is not None and self.token(page.text)
        if not token:
            return
        r = _report_fields()
        sent = self.call("POST", "/lapor", "citizen POST /lapor", expect=(302,), data={
            "csrf_token": token, "category": r["category"], "description": r["description"],
            "area": r["area"],
            "lat": r["lat"], "lon": r["lon"], "notify_by": "none"})
        if sent is None:
            return
        location = sent.headers.get("Location", "")
        code = location.split("/lacak/", 1)[-1].split("?", 1)[0]
        TALLY.accepted.append({"marker": r["marker"], "code": code, "channel": "web"})
        self.call("GET", f"/lacak/{code}", "citizen GET /lacak/<code>")

    @task(1)
    def open311_report(self):
        r = _report_fields()
        sent = self.call("POST", "/open311/v2/requests.json", "open311 POST requests", data={
            "api_key": PLAN["api_key"], "service_code": r["category"], "description": r["description"],
            "lat": r["lat"], "long": r["lon"]})
        if sent is None:
            return
        found = NUMBER.search(sent.text or "")
        number = next(g for g in found.groups() if g) if found else None
        TALLY.accepted.append({"marker": r["marker"], "number": number, "channel": "open311"})


class Staff(Client):
    abstract = True
    role = ""

    def on_start(self):
        self.username = random.choice(PLAN["users"][self.role])
        page = self.call("GET", "/login", f"{self.role} GET /login")
        token = page is not None and self.token(page.text)
        if token:
            self.call("POST", "/login", f"{self.role} POST /login", expect=(302,), data={
                "csrf_token": token, "username": self.username, "password": PLAN["password"]})

    def work_one(self, list_url: str, values, claim: bool = True) -> None:
        """Claim one task of the list in place (one of the first few: staff race for the top
        ones), open it and complete it with ``values(page_html)``, as a person does. Without
        ``claim``, completing it claims it (a field officer's card opens the form)."""
        listing = self.call("GET", list_url, f"{self.role} GET {list_url.split('?')[0]}")
        ids = TASK_LINK.findall(listing.text) if listing is not None else []
        token = listing is not None and self.token(listing.text)
        if not ids or not token:
            return
        item = random.choice(ids[:5])
        claimed = claim and self.call("POST", f"/inbox/items/{item}/claim", f"{self.role} POST claim",
                                      expect=(302,), conflict_ok=True,
                                      data={"csrf_token": token, "next": list_url})
        if claim and (claimed is None or claimed.status_code != 302):
            return
        self.complete(item, values)

    def complete(self, item: str, values) -> None:
        """Open the task and send its form."""
        page = self.call("GET", f"/tasks/{item}", f"{self.role} GET /tasks/<id>", expect=(200,),
                         conflict_ok=True)
        if page is None or page.status_code != 200:
            return
        token, version = self.token(page.text), VERSION.search(page.text)
        if not token or not version:
            return
        form = values(page.text)
        files = form.pop("__files__", None)
        data = {"csrf_token": token, "version": next(g for g in version.groups() if g), **form}
        if not files:
            self.call("POST", f"/tasks/{item}", f"{self.role} POST /tasks/<id>", expect=(302,),
                      conflict_ok=True, data=data)
            return
        body, content_type = multipart(data, files)  # Locust's fast client posts bodies, not files
        self.call("POST", f"/tasks/{item}", f"{self.role} POST /tasks/<id> (photo)", expect=(302,),
                  conflict_ok=True, data=body, headers={"Content-Type": content_type})


class Triage(Staff):
    weight = 2
    role = "triage"

    @task(2)
    def inbox(self):
        self.call("GET", "/inbox", "triage GET /inbox")

    @task(3)
    def triage_one(self):
        self.work_one("/inbox?tab=unassigned", lambda _html: {"decision": "valid"})


class Coordinator(Staff):
    weight = 3
    role = "coordinator"

    @task(3)
    def inbox(self):
        listing = self.call("GET", "/inbox", "coordinator GET /inbox")
        cases = CASE_LINK.findall(listing.text) if listing is not None else []
        if cases:
            self.call("GET", f"/cases/{random.choice(cases)}", "coordinator GET /cases/<id>")

    @task(2)
    def work_a_case(self):
        def values(html: str) -> dict:
            """The OPD's forms, told apart by their fields: dispatch, verification, closure,
            disposition."""
            teams = TEAM.findall(html)
            if teams:
                return {"team": random.choice(teams), "instructions": "Mohon segera ditangani."}
            if 'value="approve"' in html:
                return {"decision": "approve"}
            if 'name="closure_note"' in html:
                return {"closure_note": "Sudah ditangani oleh tim lapangan."}
            return {"decision": "accept"}

        self.work_one("/inbox?tab=unassigned", values)


class FieldOfficer(Staff):
    weight = 1
    role = "qr_officer"

    @task(2)
    def field_view(self):
        self.call("GET", "/lapangan", "qr_officer GET /lapangan")

    @task(1)
    def field_work(self):
        def values(html: str) -> dict:
            arrived = ARRIVED.search(html)  # the form's own "now", as the phone fills it
            return {"arrived_at": arrived.group(1) if arrived else "", "action_taken": "Sudah dibersihkan.",
                    "__files__": {"after_photo": ("sesudah.jpg", PHOTO, "image/jpeg")}}

        self.work_one("/lapangan", values, claim=False)


class Supervisor(Staff):
    weight = 1
    role = "supervisor"

    @task(3)
    def escalations(self):
        self.call("GET", "/escalations", "supervisor GET /escalations")

    @task(1)
    def workload(self):
        self.call("GET", "/escalations/workload", "supervisor GET /escalations/workload")

