"""Flask application factory. Blueprints are registered inside :func:`create_app`; nothing
happens at import time."""

from __future__ import annotations

import os

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from werkzeug.middleware.proxy_fix import ProxyFix

from escalation.wiring import build as build_services
from workflow.config import Settings
from workflow.services import Services

from . import boundary, errors, forms, i18n, ratelimit, security, vendor
from .extensions import babel, csrf, limiter, login_manager


def create_app(test_config: dict | None = None, *, services: Services | None = None) -> Flask:
    app = Flask(__name__)
    if services is None:
        services = build_services(Settings.from_env())
    instance = services.settings.instance_path
    app.config.from_mapping(
        SECRET_KEY=None,
        # the most photos one form takes, each up to the upload limit, and room for its other fields
        MAX_CONTENT_LENGTH=services.settings.max_upload_bytes * max(
            (sum(f.max_files for f in form.fields if f.type == "attachment")
             for form in services.definition.forms.values()), default=1) + 16 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("TANGGAP_SECURE_COOKIES", "") == "1",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead of a clock
        HTMX_URL=vendor.htmx_url(os.environ.get("TANGGAP_HTMX_URL")),
        HTMX_SRI=vendor.HTMX_SRI,
        LEAFLET=vendor.leaflet_files(os.environ.get("TANGGAP_LEAFLET_BASE")),
        BPMN_JS=vendor.bpmn_js_files(os.environ.get("TANGGAP_BPMN_JS_BASE")),
        DMN_JS=vendor.dmn_js_files(os.environ.get("TANGGAP_DMN_JS_BASE")),
        TILE_URL=os.environ.get("TANGGAP_TILE_URL", vendor.TILE_URL),
        TILE_ATTRIBUTION=os.environ.get("TANGGAP_TILE_ATTRIBUTION", vendor.TILE_ATTRIBUTION),
        TANGGAP_API_WRITE_LIMIT=os.environ.get("TANGGAP_API_WRITE_LIMIT", "60 per minute"),
        TANGGAP_LOGIN_LIMIT=os.environ.get("TANGGAP_LOGIN_LIMIT", "10 per minute"),
        TANGGAP_LOGIN_RANGE_LIMIT=os.environ.get("TANGGAP_LOGIN_RANGE_LIMIT", "50 per minute"),
        TANGGAP_LOOKUP_LIMIT=os.environ.get("TANGGAP_LOOKUP_LIMIT", "20 per minute"),
        TANGGAP_LOOKUP_RANGE_LIMIT=os.environ.get("TANGGAP_LOOKUP_RANGE_LIMIT", "60 per minute"),
        TANGGAP_REPORT_LIMIT=os.environ.get("TANGGAP_REPORT_LIMIT", "5 per minute; 30 per hour"),
        TANGGAP_MAP_LIMIT=os.environ.get("TANGGAP_MAP_LIMIT", "120 per minute"),
        RATELIMIT_STORAGE_URI=os.environ.get("TANGGAP_RATELIMIT_STORAGE", "database"),
        BABEL_DEFAULT_LOCALE="id",
        BABEL_TRANSLATION_DIRECTORIES=str(i18n.compile_catalogs(instance / "translations")),
    )
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = security.secret_key(instance)
    if app.config["RATELIMIT_STORAGE_URI"] == "database":  # web.ratelimit: shared by all workers
        app.config["RATELIMIT_STORAGE_URI"] = ratelimit.DATABASE
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {"engine": services.engine, "clock": services.clock}
    proxies = int(os.environ.get("TANGGAP_PROXY_COUNT", "0") or 0)
    if proxies:  # the client's address from X-Forwarded-For, as set by that many proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.extensions["tanggap"] = services
    _check_keys(app, services)

    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=lambda: services.zone)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    security.install_headers(app)
    errors.install(app)
    i18n.install(app)
    app.jinja_env.globals.update(control_attrs=forms.control_attrs, error_id=forms.error_id,
                                 focus_here=forms.focus_here)

    from . import (
        admin,
        admin_catalogue,
        admin_keys,
        admin_people,
        admin_process,
        admin_routing,
        admin_settings,
        api,
        audit,
        auth,
        cases,
        dashboard,
        escalations,
        field,
        home,
        inbox,
        open311,
        public,
        publicmap,
        security_log,
        tasks,
        transparency,
    )

    for blueprint in (auth.bp, home.bp, public.bp, publicmap.bp, field.bp, field.worker, inbox.bp, tasks.bp, cases.bp,
                      escalations.bp, admin.bp, admin_people.bp, admin_catalogue.bp, admin_process.bp,
                      admin_routing.bp, open311.bp, api.bp, audit.bp, dashboard.bp, security_log.bp, admin_keys.bp,
                      transparency.bp, transparency.data):
        app.register_blueprint(blueprint)
    app.register_blueprint(admin_settings.bp)
    boundary.install(app)

    @app.before_request
    def _current_process_version():
        """Labels, forms and new cases follow the version deployed last, by any worker; the
        signed-in user is read in the same session."""
        if request.endpoint != "static":
            with services.reading() as session:
                services.versions.refresh(session)
                auth.load_user_in(session)

    # API keys and bearer tokens, not cookies: nothing for a forged cross-site request to ride on
    csrf.exempt(open311.bp)
    csrf.exempt(api.bp)
    return app


def _check_keys(app: Flask, services: Services) -> None:
    """Refuse to serve with another tracking key than the database's (every citizen's code
    would be unknown), or with an audit key the deployment's does not trust (its events would
    wait for ever). Skipped, with a warning, when the database cannot be reached yet."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import OperationalError

    from workflow.store.merkle_log import check_audit_key
    from workflow.store.tracking import check_key

    try:
        with services.sessions() as session:
            if inspect(session.get_bind()).has_table("key_checks"):
                check_key(session, services.tracking)
                check_audit_key(session, services.audit_keys)
    except OperationalError as exc:
        app.logger.warning("tracking and audit keys not checked, the database is unreachable: %s", exc)
