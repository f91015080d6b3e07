"""Flask application factory. Blueprints are registered inside :func:`create_app`; nothing
happens at import time."""

from __future__ import annotations

from flask import Flask

from workflow.config import Settings
from workflow.services import Services, build_services


def create_app(test_config: dict | None = None, *, services: Services | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    if services is None:
        services = build_services(Settings.from_env())
    app.config.from_mapping(SECRET_KEY=None, MAX_CONTENT_LENGTH=services.settings.max_upload_bytes + 1024 * 1024)
    if test_config:
        app.config.update(test_config)
    app.extensions["tanggap"] = services

    from . import home

    app.register_blueprint(home.bp)
    return app
