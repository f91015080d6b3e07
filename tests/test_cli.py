"""The ``tanggap`` command on a fresh SQLite file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from tanggap.cli import main


@pytest.fixture
def env(tmp_path):
    return {"TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": ""}


def run(env, *args):
    result = CliRunner().invoke(main, list(args), env=env)
    return result


def test_fresh_database_seed_demo_then_audit_verify(env, tmp_path):
    assert run(env, "db", "upgrade").exit_code == 0
    result = run(env, "seed", "--demo", "--cases", "40")
    assert result.exit_code == 0, result.output
    assert "7 agencies, 15 kecamatan, 153 kelurahan, 19 QR teams, 13 categories" in result.output
    assert "demo cases: 40" in result.output

    engine = create_engine(f"sqlite:///{tmp_path / 'instance' / 'tanggap.sqlite3'}")
    with engine.connect() as conn:
        statuses = {r[0] for r in conn.execute(text("SELECT DISTINCT status FROM cases"))}
        stages = {r[0] for r in conn.execute(text("SELECT DISTINCT stage FROM cases"))}
        users = conn.execute(text("SELECT count(*) FROM users")).scalar()
        # the oldest 40% start on the earlier process (version 1), the rest on the release's
        per_version = dict(conn.execute(text(
            "SELECT p.version, count(*) FROM cases c JOIN process_specs p ON p.id = c.spec_id GROUP BY p.version")).all())
        open_on_first = conn.execute(text(
            "SELECT count(*) FROM cases c JOIN process_specs p ON p.id = c.spec_id "
            "WHERE p.version = 1 AND c.status IN ('triage', 'in_progress', 'resolved')")).scalar()
    engine.dispose()
    assert per_version == {1: 16, 2: 24}
    assert open_on_first > 0  # something for an administrator to migrate
    assert statuses == {"triage", "in_progress", "resolved", "closed", "rejected", "merged"}
    assert stages >= {"triage", "disposition", "dispatch", "field_work", "verification",
                      "closure", "citizen_feedback"}
    assert users == 35

    verify = run(env, "audit", "verify")
    assert verify.exit_code == 0, verify.output
    assert "audit chains intact (40 case(s) checked)" in verify.output

    again = run(env, "seed", "--demo")
    assert again.exit_code == 0
    assert "already present" in again.output and "skipped" in again.output

    listed = run(env, "process", "list")
    assert listed.exit_code == 0 and listed.output.splitlines()[1].startswith("*   2"), listed.output
    dry = run(env, "process", "migrate", "--from", "1", "--to", "2", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"version 1 -> 2: {open_on_first} open cases chosen" in dry.output
    assert f"dry run: {open_on_first} would move, 0 refused; nothing was changed" in dry.output
    moved = run(env, "process", "migrate", "--from", "1", "--to", "2")
    assert moved.exit_code == 0, moved.output
    assert f"{open_on_first} moved, 0 refused of {open_on_first}" in moved.output.splitlines()[-1]
    assert run(env, "audit", "verify").exit_code == 0


def test_users_create(env):
    run(env, "db", "upgrade")
    run(env, "seed")
    ok = run(env, "users", "create", "budi.dlh", "--name", "Budi Santoso",
             "--role", "coordinator:DLH", "--role", "supervisor:DLH", "--password", "rahasia-sekali")
    assert ok.exit_code == 0, ok.output
    assert "user budi.dlh created" in ok.output
    bad = run(env, "users", "create", "sari", "--name", "Sari", "--role", "coordinator:XYZ",
              "--password", "rahasia-sekali")
    assert bad.exit_code == 1
    assert "unknown agency 'XYZ'" in bad.output
    dup = run(env, "users", "create", "budi.dlh", "--name", "Budi", "--role", "auditor",
              "--password", "rahasia-sekali")
    assert dup.exit_code == 1 and "already taken" in dup.output


def test_api_keys_and_tokens_are_shown_once_listed_without_secrets_and_revocable(env):
    assert run(env, "db", "upgrade").exit_code == 0
    assert run(env, "seed").exit_code == 0
    created = run(env, "apikeys", "create", "Aplikasi Qlue")
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    prefix = secret.split("_")[1]
    assert secret.startswith("tgk_") and len(secret) > 40
    listed = run(env, "apikeys", "list").output
    assert prefix in listed and "Aplikasi Qlue" in listed and "active" in listed
    assert secret.split("_", 2)[2] not in listed  # never the secret again
    assert run(env, "users", "create", "sistem.dlh", "--name", "Sistem DLH", "--role",
               "coordinator:DLH", "--password", "panjang-sekali-123").exit_code == 0
    token = run(env, "tokens", "create", "--user", "sistem.dlh", "Integrasi DLH")
    assert token.exit_code == 0 and token.output.strip().splitlines()[-1].startswith("tgt_")
    unknown = run(env, "tokens", "create", "--user", "nobody", "x")
    assert unknown.exit_code != 0 and "nobody" in unknown.output
    assert run(env, "apikeys", "revoke", prefix).exit_code == 0
    assert "revoked" in run(env, "apikeys", "list").output
    again = run(env, "apikeys", "revoke", prefix)
    assert again.exit_code != 0 and "already revoked" in again.output


def test_the_engine_logs_only_warnings_unless_asked(monkeypatch):
    import logging

    from tanggap.cli import configure_logging

    engine = logging.getLogger("spiff.task")
    try:
        monkeypatch.delenv("TANGGAP_ENGINE_LOG_LEVEL", raising=False)
        configure_logging()
        assert not engine.isEnabledFor(logging.INFO) and engine.isEnabledFor(logging.WARNING)
        assert logging.getLogger("tanggap.sweeper").isEnabledFor(logging.INFO)
        monkeypatch.setenv("TANGGAP_ENGINE_LOG_LEVEL", "info")
        configure_logging()
        assert engine.isEnabledFor(logging.INFO)
    finally:
        logging.getLogger("spiff").setLevel(logging.NOTSET)
        logging.getLogger("tanggap").setLevel(logging.NOTSET)
