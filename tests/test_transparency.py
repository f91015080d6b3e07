"""/transparansi and a reporter's "Bukti riwayat": what is published of the audit log, checked the
way an outsider would, with ``tanggap_verify`` and ``cryptography`` only (never the app's own
verification), and that the proof of a report's history discloses nothing personal."""

from __future__ import annotations

import base64
import hashlib
import html as markup
import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text

from tests import actions, test_browser
from tests.helpers import insider
from workflow import commands, signing
from workflow import tanggap_verify as tv
from workflow.config import TsaSettings
from workflow.read import transparency
from workflow.store import merkle_log
from workflow.store.models import CaseEvent, LogEntry, LogPending, TreeHead

ANCHORING_OFF = "Penandaan waktu eksternal (RFC 3161) belum diaktifkan: tree head hanya ditandatangani oleh kota."


def _publish(world) -> TreeHead:
    keeper = merkle_log.LogKeeper(world.services)
    keeper.run_once(publish=True)
    return keeper.last_head


def _page(web, url: str = "/transparansi") -> str:
    response = web.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[-500:]
    return markup.unescape(response.get_data(as_text=True))


def _ed25519_valid(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _head_signed(head: dict, public: bytes) -> bool:
    message = tv.head_message(head["size"], bytes.fromhex(head["root"]), head["time"])
    return _ed25519_valid(public, base64.b64decode(head["signature"]), message)


def _json_error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    return response.get_json()["error"]


# -- the page ------------------------------------------------------------------------------------

def test_before_the_first_tree_head_the_page_says_there_is_none(world, web):
    assert world.services.settings.tsa is None
    page = _page(web)
    assert 'id="no-head"' in page and "Belum ada tree head yang ditandatangani." in page
    assert "Belum ada tree head." in page  # the history's empty state
    assert ANCHORING_OFF in page
    assert 'id="heads"' not in page
    heads = web.get("/transparansi/tree-heads.json").get_json()
    assert heads == {"format": "tanggap-tree-heads/1", "page": 1, "pages": 1, "total": 0, "heads": []}


def test_the_page_shows_the_latest_tree_head_signed_and_in_the_city_s_time(world, web):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    _publish(world)
    world.later()
    world.do(actions.accept, world.dlh, sub.case_id)
    head = _publish(world)
    page = _page(web)
    document = merkle_log.head_document(head)
    assert re.search(rf'id="head-size">{head.size}<', page)
    assert f'id="head-root">{head.root.hex()}<' in page
    assert f'id="head-signature">{document["signature"]}<' in page
    assert f'id="head-key">{world.services.audit_keys.key_id}<' in page
    local = head.issued_at.astimezone(world.services.zone).strftime("%-d %b %Y %H:%M WITA")
    assert f'<time datetime="{head.time}" id="head-time">{local}</time>' in page and "UTC: <span translate=\"no\">" + head.time.replace("T", "T<wbr>") + "<" in page
    assert ANCHORING_OFF in page
    assert f'href="/transparansi/tree-head/{head.id}.json"' in page
    assert "/transparansi/tree-head/" in page and ".tst" not in page  # no token to offer
    # the history, newest first
    assert [int(i) for i in re.findall(r'<tr data-head="(\d+)">', page)] == [head.id, head.id - 1]


def test_the_page_has_no_inline_script_and_keeps_the_site_s_headers(world, web):
    _publish(world)
    response = web.get("/transparansi")
    page = response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", page))
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers either
    assert all(re.search(r'<th scope="(col|row)">', th) for th in re.findall(r"<th\b[^>]*>", page))


def test_the_history_is_paged_fifty_heads_a_page_newest_first(world, web):
    world.report()
    keeper = merkle_log.LogKeeper(world.services)
    for _ in range(55):
        keeper.run_once(publish=True)
    with world.services.reading() as session:
        ids = list(session.scalars(select(TreeHead.id).order_by(TreeHead.id.desc())))
    assert len(ids) == 55
    first, second = _page(web), _page(web, "/transparansi?page=2")
    assert [int(i) for i in re.findall(r'<tr data-head="(\d+)">', first)] == ids[:50]
    assert [int(i) for i in re.findall(r'<tr data-head="(\d+)">', second)] == ids[50:]
    assert "55 tree head · halaman 1 dari 2" in first
    assert 'href="/transparansi?page=2"' in first and 'href="/transparansi?page=1"' in second
    past = _page(web, "/transparansi?page=3")
    assert "Halaman ini melewati halaman terakhir." in past and f'id="head-size">{keeper.last_head.size}<' in past
    assert web.get("/transparansi?page=0").status_code == 400
    assert web.get(f"/transparansi?page={10**30}").status_code == 400


def test_every_tree_head_downloads_oldest_first_in_stable_pages(world, web, monkeypatch):
    world.report()
    keeper = merkle_log.LogKeeper(world.services)
    for _ in range(5):
        keeper.run_once(publish=True)
    with world.services.reading() as session:
        heads = [merkle_log.head_document(h) for h in session.scalars(select(TreeHead).order_by(TreeHead.id))]
    monkeypatch.setattr(transparency, "HEADS_PAGE", 2)
    pages = [web.get(f"/transparansi/tree-heads.json?page={n}") for n in (1, 2, 3, 4)]
    assert [p.status_code for p in pages] == [200] * 4
    documents = [p.get_json() for p in pages]
    assert [d["heads"] for d in documents] == [heads[0:2], heads[2:4], heads[4:5], []]
    assert {(d["format"], d["pages"], d["total"]) for d in documents} == {("tanggap-tree-heads/1", 3, 5)}
    assert pages[0].headers["Access-Control-Allow-Origin"] == "*"
    assert pages[0].headers["Content-Disposition"] == 'attachment; filename="tree-heads-1.json"'
    error = _json_error(web.get("/transparansi/tree-heads.json?page=0"))
    assert error["code"] == "validation_failed" and error["field"] == "page"


# -- the files -----------------------------------------------------------------------------------

def test_the_public_keys_download_as_pem_with_their_key_ids_signing_key_first(world, web):
    retired = signing.AuditKeys.from_pem(signing.generate_pem())
    own = world.services.audit_keys
    world.services.audit_keys = signing.AuditKeys(own.private, {**own.trusted, retired.key_id: retired.public_key})
    response = web.get("/transparansi/kunci-publik.pem")
    assert response.status_code == 200 and response.mimetype == "application/x-pem-file"
    assert response.headers["Content-Disposition"] == 'attachment; filename="kunci-publik.pem"'
    blocks = re.findall(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----\n", response.data, re.S)
    keys = [serialization.load_pem_public_key(b) for b in blocks]
    ids = [tv.key_id(k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)) for k in keys]
    assert ids == [own.key_id, retired.key_id]
    page = _page(web)
    listed = re.search(r'<ul id="key-ids">(.*?)</ul>', page, re.S).group(1)
    assert re.findall(r'<code translate="no">(\w+)</code>', listed) == ids
    assert "kunci yang menandatangani saat ini" in listed and "kunci sebelumnya" in listed


def test_the_verifier_downloads_as_the_module_the_app_runs(web):
    response = web.get("/transparansi/tanggap_verify.py")
    assert response.status_code == 200
    assert response.data == Path(tv.__file__).read_bytes()
    assert response.headers["Content-Disposition"] == 'attachment; filename="tanggap_verify.py"'


def test_a_tree_head_s_json_is_signed_by_the_published_key(world, web):
    world.report()
    head = _publish(world)
    response = web.get(f"/transparansi/tree-head/{head.id}.json")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    document = response.get_json()
    assert document == {"format": "tanggap-tree-head/1", **merkle_log.head_document(head)}
    pem = web.get("/transparansi/kunci-publik.pem").data
    public = serialization.load_pem_public_key(pem).public_bytes(serialization.Encoding.Raw,
                                                                 serialization.PublicFormat.Raw)
    assert document["key_id"] == tv.key_id(public)
    assert _head_signed(document, public)
    assert not _head_signed({**document, "size": document["size"] + 1}, public)  # the check can fail
    error = _json_error(web.get(f"/transparansi/tree-head/{head.id + 1}.json"), 404)
    assert error["code"] == "not_found"
    assert web.get(f"/transparansi/tree-head/{head.id}.tst").status_code == 404  # not timestamped


def _heads_of_sizes(world) -> list[TreeHead]:
    """Three tree heads, each over more events than the one before."""
    heads = []
    for n in range(3):
        sub = world.report(description=f"Sampah menumpuk di depan pasar, laporan {n + 1}.")
        world.do(actions.triage, world.triage, sub.case_id, decision="valid")
        heads.append(_publish(world))
    assert heads[0].size < heads[1].size < heads[2].size
    return heads


def test_the_consistency_proof_between_two_tree_heads_verifies(world, web):
    old, middle, new = _heads_of_sizes(world)
    response = web.get(f"/transparansi/konsistensi.json?dari={old.size}&ke={new.size}")
    assert response.status_code == 200
    document = response.get_json()
    assert document["format"] == "tanggap-konsistensi/1"
    assert document["from"] == merkle_log.head_document(old) and document["to"] == merkle_log.head_document(new)
    proof = [bytes.fromhex(h) for h in document["proof"]]
    assert proof and tv.verify_consistency(old.size, new.size, old.root, new.root, proof)
    assert not tv.verify_consistency(old.size, new.size, middle.root, new.root, proof)
    same = web.get(f"/transparansi/konsistensi.json?dari={middle.size}&ke={middle.size}").get_json()
    assert same["proof"] == [] and same["from"] == same["to"] == merkle_log.head_document(middle)


BAD_QUERIES = [  # (query, the field named)
    ("ke={new}", "dari"), ("dari={old}", "ke"), ("dari=abc&ke={new}", "dari"), ("dari={old}&ke=-1", "ke"),
    ("dari={old}&ke=" + str(10**30), "ke"), ("dari={new}&ke={old}", "dari"), ("dari={not_a_head}&ke={new}", "dari"),
    ("dari={old}&ke=1.5", "ke"), ("dari=&ke=", "dari"),
]


def test_a_consistency_query_without_two_tree_heads_names_its_field(world, web):
    old, _middle, new = _heads_of_sizes(world)
    for query, field in BAD_QUERIES:
        url = "/transparansi/konsistensi.json?" + query.format(old=old.size, new=new.size, not_a_head=old.size + 1)
        error = _json_error(web.get(url))
        assert (error["code"], error["field"]) == ("validation_failed", field), query
        assert error["fields"][field], query
    error = _json_error(web.get(f"/transparansi/konsistensi.json?dari={old.size + 1}&ke={new.size}"))
    assert error["fields"]["dari"] == f"tidak ada tree head yang mencakup tepat {old.size + 1} peristiwa"


def test_the_transparency_files_share_a_limit_per_address(world, app):
    app.config["TANGGAP_MAP_LIMIT"] = "3 per minute"
    client = app.test_client()
    assert [client.get(u).status_code for u in ("/transparansi", "/transparansi/kunci-publik.pem",
                                                "/transparansi/tree-heads.json")] == [200] * 3
    refused = client.get("/transparansi/tree-heads.json")
    assert _json_error(refused, 429)["code"] == "rate_limited" and refused.headers["Retry-After"]
    assert client.get("/transparansi").status_code == 429
    assert client.get("/transparansi", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


# -- time-stamps ---------------------------------------------------------------------------------

def test_a_time_stamped_head_shows_its_certified_time_and_offers_its_token(world, web, local_tsa):
    from workflow import timestamp

    services = world.services
    services.settings = replace(services.settings, tsa=TsaSettings(url=local_tsa.url, ca_file=local_tsa.ca_pem_path))
    world.report()
    head = _publish(world)
    assert head.tsa_token and head.tsa_error is None
    token = timestamp.token_info(head.tsa_token)
    page = _page(web)
    assert ANCHORING_OFF not in page
    local = token.time.astimezone(services.zone)  # the authority's own clock: any month's name
    assert re.search(rf'<time datetime="{re.escape(token.time.isoformat())}" id="anchor-time">{local.day} \w+ '
                     rf'{local.year} {local:%H:%M} WITA<', page)
    assert re.search(r'id="anchor-tsa">[^<]*Tanggap Test TSA', page)
    assert f'id="anchor-serial">{token.serial}<' in page
    digest = hashlib.sha256(tv.head_message(head.size, head.root, head.time)).hexdigest()
    assert f"-digest {digest} " in page
    response = web.get(f"/transparansi/tree-head/{head.id}.tst")
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"] == f'attachment; filename="tree-head-{head.id}.tst"'
    assert f'href="/transparansi/tree-head/{head.id}.tst"' in page
    verified = timestamp.verify(response.data, bytes.fromhex(digest), timestamp.load_trusted(local_tsa.ca_pem_path))
    assert verified.serial == token.serial
    assert web.get(f"/transparansi/tree-head/{head.id}.json").get_json()["timestamp_token"] == \
        base64.b64encode(response.data).decode()


def test_a_head_the_authority_did_not_stamp_says_why_in_short(world, web):
    world.services.settings = replace(world.services.settings,
                                      tsa=TsaSettings(url="http://127.0.0.1:9/tsa", timeout=2))
    world.report()
    head = _publish(world)
    assert head.tsa_token is None and head.tsa_error
    page = _page(web)
    assert 'id="anchor-failed"' in page and ANCHORING_OFF not in page
    shown = re.search(r'id="anchor-error">([^<]*)<', page).group(1)
    assert shown == transparency.short_error(head.tsa_error) and 0 < len(shown) <= 200
    assert transparency.short_error("x" * 300 + "\nsecond line") == "x" * 199 + "…"


# -- a reporter's proof of history ---------------------------------------------------------------

def _bundle(web, code: str) -> dict:
    response = web.get(f"/lacak/{code}/bukti-riwayat.json")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    return response.get_json()


def _keys(bundle: dict) -> dict[str, bytes]:
    return {k["key_id"]: base64.b64decode(k["public_key"]) for k in bundle["public_keys"]}


def _leaf(bundle: dict, event: dict) -> bytes:
    return tv.leaf("case", case_id=bundle["case_id"], seq=event["seq"], prev_hash=event["prev_hash"],
                   hash=event["hash"], action=event["action"], occurred_at=event["occurred_at"])


def _take_without_a_head(world) -> None:
    """The log's worker moves the queue into the log; no tree head is signed yet."""
    with world.services.sessions() as session:
        merkle_log.take(session, world.services.audit_keys, world.services.clock.now())
        session.commit()


def test_the_proof_of_history_verifies_event_by_event_under_the_latest_head(world, web):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    head = _publish(world)
    under = len(world.events(sub.case_id))
    world.do(actions.accept, world.dlh, sub.case_id)
    _take_without_a_head(world)  # logged after the head
    logged_later = len(world.events(sub.case_id))
    world.do(actions.dispatch, world.dlh, sub.case_id, team="qr-mariso-1")  # queued
    bundle = _bundle(web, sub.tracking_code)
    assert bundle["format"] == "tanggap-bukti-riwayat/1"
    assert (bundle["case_id"], bundle["case_number"]) == (sub.case_id, sub.case_number)
    assert bundle["tree_head"] == merkle_log.head_document(head)
    assert bundle["source"] == "http://127.0.0.1:5000/transparansi"
    keys = _keys(bundle)
    assert list(keys) == [world.services.audit_keys.key_id]
    assert _head_signed(bundle["tree_head"], keys[bundle["tree_head"]["key_id"]])
    root, size = bytes.fromhex(bundle["tree_head"]["root"]), bundle["tree_head"]["size"]
    events = bundle["events"]
    trail = world.events(sub.case_id)
    assert [(e["seq"], e["action"], e["hash"]) for e in events] == [(e.seq, e.action, e.hash) for e in trail]
    assert [e["prev_hash"] for e in events] == [tv.GENESIS] + [e["hash"] for e in events[:-1]]
    with world.services.reading() as session:
        logged = dict(session.execute(select(LogEntry.seq, LogEntry.idx).where(LogEntry.case_id == sub.case_id)).all())
    assert under < logged_later < len(events)
    assert all(e["log_index"] is not None for e in events[:under])
    assert all(e["log_index"] is None and e["inclusion_proof"] is None for e in events[under:])
    assert all(logged[e["seq"]] >= size for e in events[under:logged_later])  # in the log, after the head
    assert all(e["seq"] not in logged for e in events[logged_later:])  # still queued
    for event in events:
        leaf = _leaf(bundle, event)
        assert event["key_id"] in keys
        assert _ed25519_valid(keys[event["key_id"]], base64.b64decode(event["signature"]), tv.event_message(leaf))
        if event["log_index"] is None:
            assert event["inclusion_proof"] is None
            continue
        assert event["log_index"] == logged[event["seq"]]
        proof = [bytes.fromhex(h) for h in event["inclusion_proof"]]
        assert tv.verify_inclusion(event["log_index"], size, tv.leaf_hash(leaf), proof, root)
        changed = _leaf(bundle, {**event, "action": "case_closed"})  # the proof holds for this leaf only
        assert not tv.verify_inclusion(event["log_index"], size, tv.leaf_hash(changed), proof, root)
    assert trail[0].occurred_at.isoformat(timespec="microseconds") == events[0]["occurred_at"]


def test_before_any_tree_head_the_proof_holds_signatures_only(world, web):
    sub = world.report()
    bundle = _bundle(web, sub.tracking_code)
    assert bundle["tree_head"] is None and bundle["events"]
    keys = _keys(bundle)
    for event in bundle["events"]:
        assert event["log_index"] is None and event["inclusion_proof"] is None
        assert _ed25519_valid(keys[event["key_id"]], base64.b64decode(event["signature"]),
                              tv.event_message(_leaf(bundle, event)))


def test_an_event_queued_from_before_the_log_has_no_signature_yet(world, web):
    sub = world.report()
    with world.services.reading() as session:
        event_id = session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == sub.case_id, CaseEvent.seq == 1))
    with insider(world.services.engine) as conn:  # as migration 0023 queued the events written before it
        conn.execute(text("UPDATE log_pending SET key_id = NULL, signature = NULL WHERE case_event_id = :id"),
                     {"id": event_id})
    with world.services.reading() as session:
        assert session.scalar(select(LogPending.key_id).where(LogPending.case_event_id == event_id)) is None
    first = _bundle(web, sub.tracking_code)["events"][0]
    assert (first["seq"], first["key_id"], first["signature"], first["log_index"]) == (1, None, None, None)


def test_the_proof_of_history_names_no_one_and_holds_no_tracking_code(world, web):
    sub = world.report(confidential=True)
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.do(actions.transfer, world.dlh, sub.case_id, to_agency="DPU", reason="Saluran tersumbat: rahasia dapur")
    _publish(world)
    response = web.get(f"/lacak/{sub.tracking_code}/bukti-riwayat.json")
    text_ = response.get_data(as_text=True)
    assert response.headers["Content-Disposition"] == f'attachment; filename="bukti-riwayat-{sub.case_number}.json"'
    assert response.headers["Cache-Control"] == "no-store"
    code = sub.tracking_code
    for secret in ("Daeng", "daeng@example.id", "811 4000 123", "4000123", "Rajawali", "Sampah menumpuk",
                   "rahasia dapur", "triase", "koor.dlh", "Koor.Dlh", code, code.replace("-", ""), code.lower()):
        assert secret not in text_, secret
    bundle = json.loads(text_)
    assert set(bundle) == {"format", "case_id", "case_number", "tree_head", "public_keys", "events",
                           "generated_at", "source"}
    assert all(set(e) == {"seq", "action", "occurred_at", "prev_hash", "hash", "key_id", "signature",
                          "log_index", "inclusion_proof"} for e in bundle["events"])


def test_an_unknown_code_answers_as_the_status_page_and_counts_as_a_guess(world, app):
    app.config["TANGGAP_LOOKUP_LIMIT"] = "3 per minute"
    sub = world.report()
    client = app.test_client()

    def body(response) -> str:
        return re.sub(r'"X-CSRFToken": "[^"]+"', "", response.get_data(as_text=True))

    status, proof = client.get("/lacak/ZZZZ-ZZ01"), client.get("/lacak/ZZZZ-ZZ01/bukti-riwayat.json")
    assert (status.status_code, proof.status_code) == (404, 404)
    assert proof.mimetype == status.mimetype == "text/html" and body(proof) == body(status)
    assert client.get("/lacak/ZZZZ-ZZ02/bukti-riwayat.json").status_code == 404
    # three unknown codes (two of them proofs) used the budget: the status page and proofs wait
    assert client.get("/lacak/ZZZZ-ZZ03").status_code == 429
    assert client.get(f"/lacak/{sub.tracking_code}/bukti-riwayat.json").status_code == 429
    other = {"REMOTE_ADDR": "198.51.100.9"}
    assert client.get(f"/lacak/{sub.tracking_code}/bukti-riwayat.json", environ_base=other).status_code == 200


def test_the_status_page_offers_the_proof_and_explains_it(world, web):
    sub = world.report()
    page = markup.unescape(web.get(f"/lacak/{sub.tracking_code}").get_data(as_text=True))
    section = re.search(r'<section class="card" id="proof".*?</section>', page, re.S).group(0)
    assert "<h2" in section and "Bukti riwayat" in section
    assert f'href="/lacak/{sub.tracking_code}/bukti-riwayat.json"' in section
    assert 'href="/transparansi"' in section
    assert f"bukti-riwayat-{sub.case_number}.json --key kunci-publik.pem" in section


def test_the_english_page_reads_in_english(world, web):
    _publish(world)
    page = _page(web, "/transparansi?lang=en")
    assert "Transparency of the audit trail" in page and "External time-stamping (RFC 3161) is not enabled" in page


def test_a_head_taken_as_the_latest_is_the_largest(world, web):
    """Two workers may insert heads out of order: the page, as the proofs, takes the largest."""
    world.report()
    big = _publish(world)
    world.services.clock.advance(timedelta(minutes=5))
    with world.services.sessions() as session:
        session.add(TreeHead(**merkle_log.sign_head(world.services.audit_keys, 0, tv.EMPTY_ROOT,
                                                    world.services.clock.now())))
        session.commit()
    assert re.search(rf'id="head-size">{big.size}<', _page(web))


# -- in a browser, on a phone ----------------------------------------------------------------------

browser, server = test_browser.browser, test_browser.server  # the fixtures of tests/test_browser.py, shared


def test_on_a_narrow_phone_the_page_fits_and_the_status_page_hands_over_the_proof(browser, server):
    from playwright.sync_api import expect

    base, services = server
    with services.uow() as uow:
        sub = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di depan Pasar Lette.", lat=-5.1560, lon=119.4050,
            area="mariso"))
        uow.commit()
    keeper = merkle_log.LogKeeper(services)
    for _ in range(3):
        keeper.run_once(publish=True)
    context, errors = test_browser._context(browser, base, accept_downloads=True, **test_browser.NARROW_PHONE)
    page = context.new_page()
    page.goto("/transparansi")
    expect(page.get_by_role("heading", level=1)).to_have_text("Transparansi jejak audit")
    expect(page.locator("#heads tbody tr")).to_have_count(3)
    expect(page.locator("#head-root")).to_have_text(keeper.last_head.root.hex())
    test_browser._no_wider_than_the_screen(page)
    test_browser._shot(page, "transparency-phone")
    page.goto(f"/lacak/{sub.tracking_code}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Unduh bukti riwayat (JSON)").tap()
    assert download.value.suggested_filename == f"bukti-riwayat-{sub.case_number}.json"
    bundle = json.loads(Path(download.value.path()).read_text())
    assert bundle["format"] == "tanggap-bukti-riwayat/1" and bundle["tree_head"]["size"] == keeper.last_head.size
    assert errors == []
    context.close()


def test_downloads_of_a_known_code_s_proof_are_limited_too(world, app):
    """Each download reads its inclusion proofs: a valid code is no licence to ask without end."""
    sub = world.report()
    _publish(world)
    app.config["TANGGAP_MAP_LIMIT"] = "2 per minute"
    client = app.test_client()
    url = f"/lacak/{sub.tracking_code}/bukti-riwayat.json"
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    assert client.get(url).status_code == 429
    assert client.get(url, environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 200


def test_a_failed_time_stamp_shows_no_credential_of_the_authority_s_address(world, web):
    world.services.settings = replace(world.services.settings,
                                      tsa=TsaSettings(url="http://user:s3cret@127.0.0.1:9/tsa?key=abc", timeout=2))
    world.report()
    head = _publish(world)
    assert head.tsa_error and "127.0.0.1:9/tsa" in head.tsa_error
    page = _page(web)
    assert "s3cret" not in head.tsa_error and "key=abc" not in head.tsa_error
    assert "s3cret" not in page and "key=abc" not in page
