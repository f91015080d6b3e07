"""Secret key, cookie flags, security headers and the content security policy."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask

from workflow.config import instance_secret


def secret_key(instance: Path) -> str:
    """``TANGGAP_SECRET_KEY``, or a random key kept in the instance folder (never in the repo)."""
    return instance_secret(instance, "secret_key", os.environ.get("TANGGAP_SECRET_KEY"))


def content_security_policy(htmx_url: str) -> str:
    """Scripts from this site and the one pinned htmx file (its exact URL, not its CDN's whole
    origin, which serves every version of every package)."""
    parts = urlsplit(htmx_url)
    script_src = "'self'" + (f" {parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else "")
    return "; ".join([
        "default-src 'self'", f"script-src {script_src}", "style-src 'self'",
        "img-src 'self' data:", "connect-src 'self'", "form-action 'self'",
        "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'",
    ])


def install_headers(app: Flask) -> None:
    csp = content_security_policy(app.config["HTMX_URL"])

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(), microphone=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
