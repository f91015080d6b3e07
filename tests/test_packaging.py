"""The built wheel carries every file the app reads at run time (a production install is not
editable: a template left out is a 500 on every page). `.ci/wheel-smoke` goes further and
serves pages from an installed wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from workflow.config import REPO_ROOT

PACKAGES = ("tanggap", "workflow", "escalation", "web", "bpmn")


def _tracked_files(*paths: str) -> set[str]:
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *paths],
                             cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the list of shipped files cannot be known")
    return {line for line in out.splitlines() if line and "__pycache__" not in line
            and (REPO_ROOT / line).is_file()}


@pytest.mark.slow
def test_the_wheel_ships_every_file_of_the_packages(tmp_path):
    tracked = _tracked_files(*PACKAGES)
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    for name in _tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(tmp_path), str(source)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("tanggap-*.whl"))
    shipped = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(tracked - shipped)
    assert missing == [], f"files left out of the wheel: {missing}"
    # the run-time data the issue was about, by name
    for path in ("web/templates/base.html", "web/static/tanggap.css", "bpmn/case.bpmn",
                 "web/translations/id/LC_MESSAGES/messages.po", "workflow/store/seeds/makassar.yaml",
                 "workflow/store/migrations/script.py.mako"):
        assert path in shipped
