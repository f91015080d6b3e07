"""Signed events, the log's worker, its proofs, key rotation, events from before the log, and
anchoring of tree heads with a real RFC 3161 authority (OpenSSL's ``openssl ts`` on loopback)."""

from __future__ import annotations

import copy
import dataclasses
import json
import threading

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from tanggap.cli import main
from tests import actions
from tests.helpers import World
from tests.tsa import LocalTSA
from workflow import signing
from workflow import tanggap_verify as tv
from workflow.config import Settings, TsaSettings
from workflow.services import build_services
from workflow.store import audit, merkle_log, schema, security_log
from workflow.store.models import CaseEvent, LogEntry, LogNode, LogPending, LogState, SecurityEvent, TreeHead
from workflow.vocabulary import SecurityAction


def cli(settings, *args: str, env: dict | None = None):
    base = {"DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path)}
    return CliRunner().invoke(main, list(args), env={**base, **(env or {})})


def some_cases(world: World, n: int = 3) -> list[int]:
    ids = []
    for i in range(n):
        sub = world.report(description=f"Sampah menumpuk di gang {i + 1} sejak Senin.")
        world.do(actions.triage, world.triage, sub.case_id, decision="valid")
        ids.append(sub.case_id)
    return ids


def leaves(session) -> list[bytes]:
    return list(session.scalars(select(LogEntry.leaf_hash).order_by(LogEntry.idx)))


def test_every_event_is_signed_in_its_own_transaction(world):
    case_id = some_cases(world, 1)[0]
    with world.services.uow() as uow:
        security_log.record(uow.session, action=SecurityAction.LOGIN_SUCCEEDED,
                            who=security_log.Who(None, "budi"), occurred_at=world.services.clock.now())
        uow.commit()
    keys = world.services.audit_keys
    with world.services.reading() as session:
        pending = session.scalars(select(LogPending).order_by(LogPending.id)).all()
        events = world.events(case_id)
        assert {p.case_event_id for p in pending if p.case_event_id} == {e.id for e in events}
        for p in pending:
            if p.case_event_id:
                e = p.case_event
                leaf = audit.case_leaf(audit.row_payload(e), e.prev_hash, e.hash)
            else:
                e = p.security_event
                leaf = security_log.security_leaf(security_log.payload(e), e.prev_hash, e.hash)
            assert p.key_id == keys.key_id
            Ed25519PublicKey.from_public_bytes(keys.public_key).verify(p.signature, tv.event_message(leaf))
        assert any(p.security_event_id for p in pending)


def test_a_session_without_the_key_cannot_append(world):
    case_id = some_cases(world, 1)[0]
    bare = sessionmaker(world.services.engine)()
    try:
        case = bare.get(audit.Case, case_id)
        case.version += 1
        with pytest.raises(RuntimeError, match="no audit key"):
            audit.append(bare, case_id=case_id, actor=audit.ActorRef(None, "system", "system"), action="case_noted",
                         occurred_at=world.services.clock.now())
    finally:
        bare.rollback()
        bare.close()


def test_the_worker_logs_events_in_order_and_signs_heads(world):
    some_cases(world, 2)
    keeper = merkle_log.LogKeeper(world.services)
    taken = keeper.run_once()
    with world.services.reading() as session:
        events = session.scalar(select(func.count()).select_from(CaseEvent))
        events += session.scalar(select(func.count()).select_from(SecurityEvent))
        assert taken.logged == events == session.scalar(select(func.count()).select_from(LogEntry))
        assert session.scalar(select(func.count()).select_from(LogPending)) == 0
        head = merkle_log.latest_head(session)
        assert head.size == events and head.root == tv.merkle_root(leaves(session))
        keys = world.services.audit_keys
        assert keys.verify(head.key_id, head.signature, tv.head_message(head.size, head.root, head.time)) is True
        assert head.tsa_token is None and head.tsa_error is None  # anchoring is off
        # log order is the order of the queue: pending ids ascending
        ids = session.scalars(select(LogEntry.case_event_id).where(LogEntry.case_event_id.is_not(None))
                              .order_by(LogEntry.idx)).all()
        assert ids == sorted(ids)
    assert keeper.run_once().logged == 0
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(TreeHead)) == 1  # nothing new: no new head
    keeper.run_once(publish=True)
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(TreeHead)) == 2


def test_small_batches_give_the_same_log_and_keep_subtrees(world):
    some_cases(world, 5)  # more than 16 events: a kept subtree of level 4
    merkle_log.LogKeeper(world.services, batch=3).run_once()
    with world.services.reading() as session:
        hashes = leaves(session)
        assert len(hashes) >= 16
        nodes = {(n.level, n.idx): n.hash for n in session.scalars(select(LogNode))}
        assert set(nodes) == {(4, i) for i in range(len(hashes) // 16)}
        for (level, idx), h in nodes.items():
            assert h == tv.merkle_root(hashes[idx << level:(idx + 1) << level])
        state = session.get(LogState, 1)
        assert tv.Frontier(state.size, [bytes.fromhex(state.frontier[i:i + 64])
                                        for i in range(0, len(state.frontier), 64)]).root() == tv.merkle_root(hashes)
        report = merkle_log.verify(session, world.services.audit_keys)
        assert report.problems == [] and report.size == len(hashes)


def test_two_workers_at_once_write_one_log(world):
    some_cases(world, 4)
    errors = []

    def work():
        try:
            merkle_log.LogKeeper(world.services, batch=2).run_once()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(LogPending)) == 0
        report = merkle_log.verify(session, world.services.audit_keys, each_signature=True, processes=1)
        assert report.problems == []
        assert report.size == session.scalar(select(func.count()).select_from(LogEntry))


def test_proofs_from_the_kept_tree(world):
    keeper = merkle_log.LogKeeper(world.services)
    sizes = []
    for n in (1, 2, 3):
        some_cases(world, n)
        keeper.run_once()
        sizes.append(keeper.last_head.size)
    with world.services.reading() as session:
        heads = session.scalars(select(TreeHead).order_by(TreeHead.size)).all()
        hashes = leaves(session)
        latest = heads[-1]
        for idx, leaf_hash in enumerate(hashes):
            proof = merkle_log.inclusion(session, idx, latest.size)
            assert tv.verify_inclusion(idx, latest.size, leaf_hash, proof, latest.root)
        for old in heads[:-1]:
            proof = merkle_log.consistency(session, old.size, latest.size)
            assert tv.verify_consistency(old.size, latest.size, old.root, latest.root, proof)
            assert not tv.verify_consistency(old.size, latest.size, old.root, tv.leaf_hash(b"x"), proof)


def test_a_rotated_key_keeps_old_signatures_valid(world, settings, tmp_path):
    some_cases(world, 1)
    merkle_log.LogKeeper(world.services).run_once()
    old = world.services.audit_keys
    new_pem = signing.generate_pem()
    rotated = dataclasses.replace(settings, audit_key=new_pem, audit_public_keys=signing.public_pem(old.public_key))
    services = build_services(rotated, clock=world.services.clock, definition=world.services.definition)
    try:
        new = copy.copy(world)  # the same cast of users, acting through the rotated key
        new.services = services
        some_cases(new, 1)
        merkle_log.LogKeeper(services).run_once()
        with services.reading() as session:
            key_ids = set(session.scalars(select(LogEntry.key_id)))
            assert key_ids == {old.key_id, services.audit_keys.key_id}
            assert merkle_log.verify(session, services.audit_keys, each_signature=True, processes=1).problems == []
        forgetful = build_services(dataclasses.replace(rotated, audit_public_keys=""), clock=world.services.clock,
                                   definition=world.services.definition)
        try:
            with forgetful.reading() as session:
                problems = [str(p) for p in merkle_log.verify(session, forgetful.audit_keys, each_signature=True,
                                                              processes=1).problems]
            assert problems and all("not trusted" in p for p in problems)
            assert any(old.key_id in p for p in problems)
        finally:
            forgetful.dispose()
    finally:
        services.dispose()


def test_events_from_before_the_log_are_signed_when_first_logged(world):
    """Migration 0023 queues the events written before it, unsigned; the worker signs them."""
    some_cases(world, 2)
    engine = world.services.engine
    from alembic import command

    cfg = schema.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0022")
    schema.upgrade(engine)
    with world.services.reading() as session:
        events = session.scalar(select(func.count()).select_from(CaseEvent))
        events += session.scalar(select(func.count()).select_from(SecurityEvent))
        queued = session.scalars(select(LogPending)).all()
        assert len(queued) == events and all(p.signature is None for p in queued)
        assert session.get(LogState, 1).legacy_pending_max == max(p.id for p in queued)
        report = merkle_log.verify(session, world.services.audit_keys)
        assert report.problems == [] and any("from before the log" in n for n in report.notes)
    some_cases(world, 1)  # written after the upgrade: signed
    taken = merkle_log.LogKeeper(world.services).run_once()
    assert taken.backfilled == events and taken.rejected == []
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).where(LogEntry.backfilled)) == events
        assert session.scalar(select(func.count()).where(~LogEntry.backfilled)) == taken.logged - events
        assert merkle_log.verify(session, world.services.audit_keys, each_signature=True, processes=1).problems == []


def anchored(world, settings, tsa: TsaSettings):
    services = build_services(dataclasses.replace(settings, tsa=tsa), clock=world.services.clock,
                              definition=world.services.definition)
    return services


def test_tree_heads_are_timestamped_and_the_anchors_verify(world, settings, openssl):
    some_cases(world, 1)
    with LocalTSA() as tsa:
        services = anchored(world, settings, TsaSettings(url=tsa.url, ca_file=tsa.ca_pem_path, timeout=5))
        try:
            keeper = merkle_log.LogKeeper(services)
            keeper.run_once()
            head = keeper.last_head
            assert head.tsa_token and head.tsa_error is None and head.tsa_time is not None
            env = {"TANGGAP_TSA_URL": tsa.url, "TANGGAP_TSA_CA_FILE": str(tsa.ca_pem_path)}
            result = cli(settings, "audit", "verify", "--anchors", env=env)
            assert result.exit_code == 0, result.output
            assert "1 tree heads timestamped and verified" in result.output
            with LocalTSA() as stranger:  # a CA the tokens do not chain to
                result = cli(settings, "audit", "verify", "--anchors",
                             env={**env, "TANGGAP_TSA_CA_FILE": str(stranger.ca_pem_path)})
            assert result.exit_code == 1
            assert f"tree head {head.id}" in result.output and "timestamp does not verify" in result.output
        finally:
            services.dispose()


def test_an_unreachable_authority_leaves_the_head_signed_with_the_reason(world, settings):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    services = anchored(world, settings, TsaSettings(url=f"http://127.0.0.1:{port}/tsa", timeout=1))
    try:
        other = copy.copy(world)
        other.services = services
        some_cases(other, 1)
        keeper = merkle_log.LogKeeper(services)
        keeper.run_once()
        head = keeper.last_head
        assert head.tsa_token is None and head.tsa_error and str(port) in head.tsa_error
        with services.reading() as session:
            assert merkle_log.verify(session, services.audit_keys).problems == []
    finally:
        services.dispose()


def test_the_audit_key_settings(tmp_path):
    instance = tmp_path / "instance"
    first = Settings.from_env({"TANGGAP_INSTANCE": str(instance)})
    assert (instance / signing.KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({"TANGGAP_INSTANCE": str(instance)}).audit_key == first.audit_key
    with pytest.raises(ValueError, match="TANGGAP_AUDIT_KEY_FILE: cannot read"):
        Settings.from_env({"TANGGAP_INSTANCE": str(instance), "TANGGAP_AUDIT_KEY_FILE": str(tmp_path / "none.pem")})
    with pytest.raises(ValueError, match="TANGGAP_AUDIT_PUBLIC_KEYS: cannot read"):
        Settings.from_env({"TANGGAP_INSTANCE": str(instance), "TANGGAP_AUDIT_PUBLIC_KEYS": str(tmp_path / "x")})
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        signing.AuditKeys.from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="must be an Ed25519 key"):
        signing.AuditKeys.from_pem(other)
    keys = signing.AuditKeys.from_pem(first.audit_key)
    with pytest.raises(ValueError, match="not a PEM public key"):
        signing.load_public_keys("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    assert signing.load_public_keys(keys.public_pems()) == [keys.public_key]


def test_the_commands(world, settings, tmp_path):
    some_cases(world, 1)
    result = cli(settings, "log", "run", "--once")
    assert result.exit_code == 0 and "events logged" in result.output, result.output
    result = cli(settings, "audit", "publish")
    assert result.exit_code == 0 and "not timestamped (no TSA set)" in result.output, result.output
    result = cli(settings, "audit", "tree-head")
    head = json.loads(result.output)
    assert head["format"] == "tanggap-tree-head/1" and head["key_id"] == world.services.audit_keys.key_id
    result = cli(settings, "audit", "public-key")
    assert signing.load_public_keys(result.output) == [world.services.audit_keys.public_key]
    key_file = tmp_path / "new.pem"
    result = cli(settings, "audit", "keygen", "--output", str(key_file))
    assert result.exit_code == 0 and key_file.stat().st_mode & 0o777 == 0o600
    assert signing.AuditKeys.from_pem(key_file.read_text()).key_id in result.output
    assert cli(settings, "audit", "keygen", "--output", str(key_file)).exit_code != 0  # never overwritten
    result = cli(settings, "audit", "verify", "--heads", "/dev/null")
    assert result.exit_code != 0 and "not a JSON file" in result.output


def test_an_append_rolled_back_leaves_no_queued_row(world):
    case_id = some_cases(world, 1)[0]
    merkle_log.LogKeeper(world.services).run_once()
    actor = audit.ActorRef(None, "system", "system")
    with world.services.sessions() as session:
        session.get(audit.Case, case_id).version += 1
        audit.append(session, case_id=case_id, actor=actor, action="case_noted", occurred_at=world.services.clock.now())
        session.rollback()  # nothing flushed: the event and its queued row both gone
        session.get(audit.Case, case_id).version += 1
        audit.append(session, case_id=case_id, actor=actor, action="case_noted", occurred_at=world.services.clock.now(),
                     data={"again": True})
        session.commit()
    with world.services.reading() as session:
        pending = session.scalars(select(LogPending)).all()
        assert [p.case_event.data for p in pending] == ['{"again":true}']
        assert merkle_log.verify(session, world.services.audit_keys).problems == []
