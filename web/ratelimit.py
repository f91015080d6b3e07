"""Rate limits (Flask-Limiter) and where their counts live.

The default store is the app's own database (``TANGGAP_RATELIMIT_STORAGE=database``): every
gunicorn worker on every host counts in the same ``rate_counters`` rows, so a limit of 60 a
minute means 60 for the whole deployment, and a deployment needs nothing but PostgreSQL. Any
store Flask-Limiter knows (``redis://host:6379``) can be named instead; ``memory://`` counts per
process, which only suits a single process.

Which requests are limited, and by what:

* credential guessing, per client IP and per IP range (/24, /64): failed logins, API token and
  Open311 key checks (``TANGGAP_LOGIN_LIMIT``, ``TANGGAP_LOGIN_RANGE_LIMIT``);
* tracking-code guessing on the status page and Open311 tokens: unknown codes per IP and per
  IP range (``TANGGAP_LOOKUP_LIMIT``, ``TANGGAP_LOOKUP_RANGE_LIMIT``);
* anonymous reports per IP (``TANGGAP_REPORT_LIMIT``);
* writes per Open311 key or API token (``TANGGAP_API_WRITE_LIMIT``).

Behind a reverse proxy, set ``TANGGAP_PROXY_COUNT`` so the client's address (not the proxy's)
is what is counted.
"""

from __future__ import annotations

import ipaddress
import time
from datetime import timedelta

from flask import current_app, request
from limits import parse_many
from limits.storage import Storage
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import TooManyRequests

from workflow.store import throttle
from workflow.store.db import WRITE_OPTION

DATABASE = "tanggap+db://"


class DatabaseStorage(Storage):
    """Flask-Limiter's counters in ``rate_counters``, through :mod:`workflow.throttle`."""

    STORAGE_SCHEME = ["tanggap+db"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *, engine=None,
                 clock=None, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        if engine is None or clock is None:
            raise ValueError("the database rate-limit store needs the app's engine and clock")
        self.engine, self.clock = engine, clock

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            count, _until = throttle.hit(conn, key, timedelta(seconds=expiry), self.clock.now(), amount)
        return count

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            return throttle.current(conn, key, self.clock.now())[0]

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            _count, until = throttle.current(conn, key, self.clock.now())
        return (until or self.clock.now()).timestamp()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                throttle.current(conn, "check", self.clock.now())
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return throttle.purge(conn, self.clock.now() + timedelta(days=3650))

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            throttle.clear(conn, key)


def client_ip() -> str:
    return request.remote_addr or "unknown"


def client_range() -> str:
    """The client's /24 (IPv4) or /64 (IPv6) network: one attacker rarely owns just one address."""
    try:
        address = ipaddress.ip_address(client_ip())
    except ValueError:
        return client_ip()
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def setting(name: str):
    """A limit read from the app's config when the request is checked (tests may change it)."""
    return lambda: current_app.config[name]


def failed(*statuses: int):
    """Count a request against the limit only when its answer is one of ``statuses``."""
    return lambda response: response.status_code in statuses


class CredentialGuesses:
    """Failed credential checks (a wrong password, an unknown API token or Open311 key) per
    client IP and per IP range, shared by the login page, the JSON API and Open311.

    Counted explicitly where the check fails, not by a route decorator: a route's own limits
    (the API's write limits) would otherwise replace it, and a check that fails before the
    view runs would never be counted."""

    SCOPES = (("credentials-ip", client_ip, "TANGGAP_LOGIN_LIMIT"),
              ("credentials-range", client_range, "TANGGAP_LOGIN_RANGE_LIMIT"))

    @classmethod
    def _limits(cls):
        from .extensions import limiter

        for scope, key, setting_name in cls.SCOPES:
            for item in parse_many(current_app.config[setting_name]):
                yield limiter.limiter, item, (scope, key())

    @classmethod
    def refuse_if_exhausted(cls) -> None:
        """A 429 (with Retry-After) when this client has used up its failures."""
        for strategy, item, identifiers in cls._limits():
            if not strategy.test(item, *identifiers):
                reset = strategy.get_window_stats(item, *identifiers).reset_time
                raise TooManyRequests(retry_after=max(1, int(reset - time.time())))

    @classmethod
    def failed(cls) -> None:
        for strategy, item, identifiers in cls._limits():
            strategy.hit(item, *identifiers)


def lookup_limit():
    """Unknown tracking codes (a 404) asked for: guessing a citizen's code. Per IP and per IP
    range (an IPv6 client owns a whole /64). Once a network has used its budget, every lookup
    from it waits, the right codes too: answering those would tell a guesser which guess was
    right. (There is no city-wide cap: anyone could then take every citizen's page down.)"""
    from .extensions import limiter

    per_ip = limiter.shared_limit(setting("TANGGAP_LOOKUP_LIMIT"), scope="tracking-codes",
                                  key_func=client_ip, deduct_when=failed(404))
    per_range = limiter.shared_limit(setting("TANGGAP_LOOKUP_RANGE_LIMIT"), scope="tracking-codes-range",
                                     key_func=client_range, deduct_when=failed(404))
    return lambda view: per_range(per_ip(view))


def with_retry_after(response, exc):
    """Keep a 429's Retry-After (werkzeug's ``TooManyRequests(retry_after=...)``) on the
    response an error handler built for it."""
    retry = getattr(exc, "retry_after", None)
    if retry is not None and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(retry if isinstance(retry, int) else int(retry.timestamp() - time.time()))
    return response
