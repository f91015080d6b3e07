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


def _exact(url: str) -> str:
    """A source naming one file (its exact URL, not its CDN's whole origin, which serves every
    version of every package); nothing for a URL of this site."""
    parts = urlsplit(url)
    return f" {parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else ""


def _tile_origin(template: str) -> str:
    """The origin map tiles come from; ``{s}`` subdomains become a wildcard."""
    parts = urlsplit(template.replace("{s}.", "x."))
    if not parts.netloc:
        return ""
    host = parts.netloc.replace("x.", "*.", 1) if "{s}." in template else parts.netloc
    return f" {parts.scheme}://{host}"


def content_security_policy(htmx_url: str, leaflet: dict[str, tuple[str, str]] | None = None,
                            tile_url: str = "", *, more: tuple[dict[str, tuple[str, str]], ...] = (),
                            fonts: tuple[str, ...] = (), inline_styles: bool = False) -> str:
    """Scripts and styles from this site and the pinned files of htmx and Leaflet (and of
    ``more``: a page's own libraries); images also from the tile server, and blob: URLs (photos
    kept in the phone, shown before they are sent); fonts also from ``fonts`` (``data:``, a
    stylesheet's own, covered by its SRI hash; or files, by their URL); ``inline_styles``: the
    styles a library writes into the page (style elements and attributes), never scripts."""
    files = [leaflet or {}, *more]
    scripts = "".join(_exact(url) for f in files for name, (url, _sri) in f.items() if name.endswith(".js"))
    styles = "".join(_exact(url) for f in files for name, (url, _sri) in f.items() if name.endswith(".css"))
    if inline_styles:
        styles = " 'unsafe-inline'" + styles
    return "; ".join([
        "default-src 'self'", f"script-src 'self'{_exact(htmx_url)}{scripts}", f"style-src 'self'{styles}",
        f"img-src 'self' data: blob:{_tile_origin(tile_url)}",
        *([f"font-src 'self'{_sources(fonts)}"] if fonts else []), "connect-src 'self'", "form-action 'self'",
        "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'",
    ])


def _sources(values: tuple[str, ...]) -> str:
    """Scheme sources (``data:``) as they are, files by their exact URL."""
    return "".join(f" {v}" if v.endswith(":") else _exact(v) for v in values)


def policy_for(app: Flask, *more: dict[str, tuple[str, str]], fonts: tuple[str, ...] = (),
               inline_styles: bool = False) -> str:
    """The site's policy, with the pinned files of ``more`` allowed too (for the one page that loads them)."""
    return content_security_policy(app.config["HTMX_URL"], app.config.get("LEAFLET"), app.config.get("TILE_URL", ""),
                                   more=more, fonts=fonts, inline_styles=inline_styles)


def install_headers(app: Flask) -> None:
    csp = policy_for(app)

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
