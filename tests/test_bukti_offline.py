"""End to end, as a citizen would: the proof of history downloaded from the status page, the
public key and the verifier downloaded from /transparansi, checked by that file alone (an
isolated Python without site-packages: the pure-Python Ed25519, no app, no database), with the
tree head's RFC 3161 time-stamp checked against the authority's certificate by OpenSSL."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from tests import actions
from workflow.config import TsaSettings
from workflow.store import merkle_log


def downloads(web, code: str, folder: Path) -> tuple[Path, Path, Path]:
    files = {"tanggap_verify.py": "/transparansi/tanggap_verify.py", "kunci-publik.pem": "/transparansi/kunci-publik.pem",
             "bukti.json": f"/lacak/{code}/bukti-riwayat.json"}
    for name, url in files.items():
        response = web.get(url)
        assert response.status_code == 200, url
        (folder / name).write_bytes(response.data)
    return folder / "tanggap_verify.py", folder / "kunci-publik.pem", folder / "bukti.json"


def run(verifier: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", "-S", str(verifier), *args], capture_output=True, text=True,
                          timeout=60, cwd=verifier.parent, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def test_a_citizen_checks_the_history_offline_with_the_time_stamp(world, web, local_tsa, tmp_path):
    world.services.settings = replace(world.services.settings,
                                      tsa=TsaSettings(url=local_tsa.url, ca_file=local_tsa.ca_pem_path, timeout=5))
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    keeper = merkle_log.LogKeeper(world.services)
    keeper.run_once(publish=True)
    assert keeper.last_head.tsa_token
    verifier, key, bundle = downloads(web, sub.tracking_code, tmp_path)

    checked = run(verifier, str(bundle), "--key", str(key), "--tsa-ca", str(local_tsa.ca_pem_path), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = json.loads(checked.stdout)
    assert result["ok"] is True and result["ed25519"] == "python"
    assert not result["pending_seqs"] and result["problems"] == []
    human = run(verifier, str(bundle), "--key", str(key), "--tsa-ca", str(local_tsa.ca_pem_path))
    assert human.returncode == 0 and "BUKTI SAH" in human.stdout

    original = bundle.read_text()
    # one event's action changed in the file: refused, naming it
    document = json.loads(original)
    document["events"][1]["action"] = "case_closed"
    bundle.write_text(json.dumps(document))
    refused = run(verifier, str(bundle), "--key", str(key))
    assert refused.returncode == 1 and "BUKTI TIDAK SAH" in refused.stdout
    assert "case_closed" in refused.stdout

    # the time-stamp of a later head put on this one: OpenSSL refuses it
    world.do(actions.accept, world.dlh, sub.case_id)
    keeper.run_once(publish=True)
    document = json.loads(original)
    document["tree_head"]["timestamp_token"] = base64.b64encode(keeper.last_head.tsa_token).decode()
    bundle.write_text(json.dumps(document))
    swapped = run(verifier, str(bundle), "--key", str(key), "--tsa-ca", str(local_tsa.ca_pem_path), "--json")
    assert swapped.returncode == 1, swapped.stdout
    assert any("stempel waktu" in p.lower() for p in json.loads(swapped.stdout)["problems"]), swapped.stdout


def test_a_key_that_is_not_the_city_s_is_refused(world, web, tmp_path):
    from workflow import signing

    sub = world.report()
    merkle_log.LogKeeper(world.services).run_once(publish=True)
    verifier, _, bundle = downloads(web, sub.tracking_code, tmp_path)
    stranger = tmp_path / "lain.pem"
    stranger.write_text(signing.public_pem(signing.AuditKeys.from_pem(signing.generate_pem()).public_key))
    refused = run(verifier, str(bundle), "--key", str(stranger))
    assert refused.returncode == 1 and "BUKTI TIDAK SAH" in refused.stdout
