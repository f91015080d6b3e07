"""/transparansi, no login: the audit log's signed tree heads, their time-stamps, the public keys,
the offline verifier, and proofs between heads (``workflow.read.transparency``).

Two blueprints: ``bp`` the page and its files, ``data`` the JSON documents, whose errors (a bad
query, an unknown head, too many requests) answer in the JSON API's error format. Both count
against one limit per client address (``TANGGAP_MAP_LIMIT``, as the public map)."""

from __future__ import annotations

import json
from importlib import resources

from flask import Blueprint, Response, abort, render_template, request
from werkzeug.exceptions import HTTPException

from workflow.errors import DomainError, NotFound
from workflow.read import transparency
from workflow.store import merkle_log

from . import api
from .extensions import limiter
from .helpers import services, whole_number
from .ratelimit import client_ip, setting

bp = Blueprint("transparency", __name__, url_prefix="/transparansi")
data = Blueprint("transparency_data", __name__, url_prefix="/transparansi")

VERIFIER = "tanggap_verify.py"
limited = limiter.shared_limit(setting("TANGGAP_MAP_LIMIT"), scope="transparency", key_func=client_ip)


def _open_data(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"  # anyone's monitor may read it
    return response


def _json(document: dict, *, download: str | None = None) -> Response:
    response = Response(json.dumps(document, ensure_ascii=False, indent=1), mimetype="application/json")
    if download:
        response.headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return _open_data(response)


@bp.get("")
@limited
def index():
    page = whole_number(request.args.get("page"), 1)
    svc = services()
    with svc.reading() as session:
        history = transparency.head_page(session, page=page)
        latest = merkle_log.latest_head(session)
    keys = svc.audit_keys
    return render_template("transparency/index.html", head=latest, history=history,
                           doc=merkle_log.head_document(latest) if latest else None,
                           anchor=transparency.anchor_of(latest) if latest else None,
                           digest=transparency.head_digest(latest) if latest else None,
                           tsa_error=transparency.short_error(latest.tsa_error) if latest else "",
                           anchoring=svc.settings.tsa is not None, key_ids=transparency.key_order(keys),
                           signing_key=keys.key_id, pems=keys.public_pems())


@bp.get("/kunci-publik.pem")
@limited
def public_keys():
    """Every trusted public key, the signing key's first (PEM)."""
    response = Response(services().audit_keys.public_pems(), mimetype="application/x-pem-file",
                        headers={"Content-Disposition": 'attachment; filename="kunci-publik.pem"'})
    return _open_data(response)


@bp.get(f"/{VERIFIER}")
@limited
def verifier():
    """The offline verifier: the module the app itself hashes with, as installed."""
    source = resources.files("workflow").joinpath(VERIFIER).read_bytes()
    return Response(source, mimetype="text/x-python",
                    headers={"Content-Disposition": f'attachment; filename="{VERIFIER}"'})


@bp.get("/tree-head/<int:head_id>.tst")
@limited
def timestamp_token(head_id: int):
    """The head's RFC 3161 TimeStampToken (DER), for ``openssl ts -verify``."""
    with services().reading() as session:
        try:
            head = transparency.tree_head(session, head_id)
        except NotFound:
            abort(404)
        token = head.tsa_token
    if not token:
        abort(404)
    return Response(token, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="tree-head-{head_id}.tst"'})


@data.get("/tree-head/<int:head_id>.json")
@limited
def head_json(head_id: int):
    with services().reading() as session:
        document = transparency.head_file(transparency.tree_head(session, head_id))
    return _json(document, download=f"tree-head-{head_id}.json")


@data.get("/tree-heads.json")
@limited
def heads_json():
    """Every tree head, the oldest first, a page at a time (``?page=``)."""
    page = whole_number(request.args.get("page"), 1)
    with services().reading() as session:
        document = transparency.heads_file(session, page=page)
    return _json(document, download=f"tree-heads-{document['page']}.json")


@data.get("/konsistensi.json")
@limited
def consistency():
    """The proof that the tree head of ``ke`` events extends the one of ``dari`` events."""
    old, new = (whole_number(request.args.get(name)) for name in ("dari", "ke"))
    with services().reading() as session:
        document = transparency.consistency_file(session, old, new)
    return _json(document)


@data.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    return _open_data(api._domain_error(exc))


@data.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _open_data(api._http_error(exc))
