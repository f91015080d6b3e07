"""Memory of parallel photo uploads: the worst pictures the public form accepts against ordinary
phone photos, in the same run.

Each scenario runs in a fresh process (so its peak RSS is its own): the web app on a new SQLite
database, eight threads posting the public report form with a photo at the same moment, as
eight citizens would. Printed: the process's RSS before the uploads, its peak during them, and
the peak of each scenario against the ordinary one (target: near 1).

* ``phone``: 12-megapixel JPEGs of about 3 MB, what a phone sends;
* ``largest``: the largest pictures accepted, 11.6-megapixel PNGs with transparency (PNG,
  unlike JPEG, cannot be decoded at a reduced scale);
* ``bombs``: 6300 x 6300 PNGs of a few hundred kilobytes (119 MB each once decoded), refused.

    .venv/bin/python -m bench.uploads [--parallel 8]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SCENARIOS = ("phone", "largest", "bombs")
ROOT = Path(__file__).resolve().parent.parent  # where ``python -m bench.uploads`` finds the packages
CHILD_TIMEOUT = 600  # seconds a scenario's process may take before the run fails


def _phone_photo() -> bytes:
    """A 4000 x 3000 JPEG of about 3 MB: a smooth scene with sensor noise."""
    from PIL import Image, ImageFilter

    size = (4000, 3000)
    noise = Image.effect_noise(size, 50).filter(ImageFilter.GaussianBlur(0.7))
    gradient = Image.linear_gradient("L").resize(size)
    picture = Image.merge("RGB", (noise, gradient, Image.blend(noise, gradient, 0.5)))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=88)
    return out.getvalue()


def _largest() -> bytes:
    from PIL import Image

    side = 3400  # 11.6 megapixels of RGBA: about 127 MB of work, just inside the limit
    picture = Image.linear_gradient("L").resize((side, side)).convert("RGBA")
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def _bomb() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (6300, 6300), (10, 120, 30)).save(out, "PNG", optimize=True)
    return out.getvalue()


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def _reset_peak() -> None:
    """Start the process's peak RSS (VmHWM) afresh from now: the uploads' peak, not start-up's."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


MAKERS = {"phone": _phone_photo, "largest": _largest, "bombs": _bomb}


def run_scenario(name: str, path: str, parallel: int) -> dict:
    """In this process: the app, then ``parallel`` uploads at once of the picture at ``path``
    (made by the parent, so making it does not count here)."""
    from datetime import datetime, timezone

    from bench.setup import fresh_services
    from web import create_app

    with open(path, "rb") as f:
        photo = f.read()
    services = fresh_services(None, datetime(2026, 11, 23, tzinfo=timezone.utc))
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "TANGGAP_REPORT_LIMIT": "1000 per minute"}, services=services)
    client = app.test_client()
    client.get("/lapor")  # warm: templates compiled, catalogs loaded
    baseline = _status_mib("VmRSS")
    _reset_peak()
    barrier = threading.Barrier(parallel)
    statuses: list[int] = []

    def upload(n: int) -> None:
        form = {"category": "sampah", "description": f"Sampah menumpuk di pasar, laporan {n}.",
                "area": "mariso", "lat": "-5.1560", "lon": "119.4050",
                "photo": (io.BytesIO(photo), "foto.png" if name != "phone" else "foto.jpg")}
        c = app.test_client()
        barrier.wait(timeout=60)
        statuses.append(c.post("/lapor", data=form, content_type="multipart/form-data").status_code)

    start = time.perf_counter()
    threads = [threading.Thread(target=upload, args=(n,), daemon=True) for n in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    seconds = time.perf_counter() - start
    peak = _status_mib("VmHWM")
    services.dispose()
    return {"scenario": name, "file_mib": len(photo) / 2**20, "baseline_mib": baseline,
            "peak_mib": peak, "seconds": seconds, "statuses": sorted(set(statuses)),
            "answered": len(statuses)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)  # the child's part
    parser.add_argument("--photo", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario, args.photo, args.parallel)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in SCENARIOS:
            path = f"{folder}/{name}"
            with open(path, "wb") as f:
                f.write(MAKERS[name]())
            out = subprocess.run([sys.executable, "-m", "bench.uploads", "--scenario", name, "--photo", path,
                                  "--parallel", str(args.parallel)], cwd=ROOT, capture_output=True, text=True,
                                 timeout=CHILD_TIMEOUT)
            if out.returncode != 0:
                raise SystemExit(f"scenario {name} failed (exit {out.returncode}):\n{out.stderr}")
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            answered = results[name]["answered"]
            if answered != args.parallel:  # an upload's thread failed, or still ran after the wait
                raise SystemExit(f"scenario {name}: {answered} of {args.parallel} uploads answered")
    phone = results["phone"]["peak_mib"]
    print(f"{args.parallel} uploads at once through the public report form (one process each):")
    print(f"{'scenario':10} {'file MiB':>9} {'RSS before':>11} {'peak RSS':>9} {'vs phone':>9} {'seconds':>8}  answers")
    for name, r in results.items():
        print(f"{name:10} {r['file_mib']:9.2f} {r['baseline_mib']:11.0f} {r['peak_mib']:9.0f} "
              f"{r['peak_mib'] / phone:9.2f} {r['seconds']:8.1f}  {r['statuses']}")


if __name__ == "__main__":
    main()
