"""Fixed-window counters in the database (``rate_counters``), shared by every worker and host.

:func:`hit` is one atomic statement (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``): two
concurrent hits on a key never read the same count, on SQLite or PostgreSQL, so a limit of N
lets exactly N through. Login attempts count here (``commands.users.authenticate``), and so do
the web app's rate limits (``web.ratelimit``), so a deployment needs no store besides its
database.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.store.models import RateCounter

PURGE_CHANCE = 1 / 256  # now and then a hit also deletes windows that ended a day ago
KEY_LENGTH = 200  # rate_counters.key


def hit(conn, key: str, window: timedelta, now: datetime, amount: int = 1) -> tuple[int, datetime]:
    """Count ``amount`` against ``key`` in its current window (a new one if the last ended);
    returns (count so far in the window, when the window ends). ``conn``: a Session or a
    Connection, inside the caller's transaction."""
    key = _fit(key)
    dialect = conn.get_bind().dialect.name if hasattr(conn, "get_bind") else conn.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    until = literal(now + window, RateCounter.expires_at.type)
    ended = RateCounter.expires_at <= now
    statement = insert(RateCounter).values(key=key, count=amount, expires_at=now + window)
    statement = statement.on_conflict_do_update(index_elements=["key"], set_={
        "count": case((ended, amount), else_=RateCounter.count + amount),
        "expires_at": case((ended, until), else_=RateCounter.expires_at),
    }).returning(RateCounter.count, RateCounter.expires_at)
    count, expires_at = conn.execute(statement).one()
    if random.random() < PURGE_CHANCE:
        purge(conn, now)
    return count, expires_at


def _fit(key: str) -> str:
    """Keys longer than the column are counted under their hash (same key, same counter)."""
    return key if len(key) <= KEY_LENGTH else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def current(conn, key: str, now: datetime) -> tuple[int, datetime | None]:
    """(count, window end) of the key's live window; (0, None) when there is none."""
    key = _fit(key)
    row = conn.execute(select(RateCounter.count, RateCounter.expires_at)
                       .where(RateCounter.key == key, RateCounter.expires_at > now)).first()
    return (row.count, row.expires_at) if row else (0, None)


def refund(conn, key: str, now: datetime) -> None:
    """Take one count back from the key's live window (an attempt that turned out legitimate)."""
    key = _fit(key)
    conn.execute(update(RateCounter).where(RateCounter.key == key, RateCounter.expires_at > now,
                                           RateCounter.count > 0)
                 .values(count=RateCounter.count - 1))


def clear(conn, key: str) -> None:
    key = _fit(key)
    conn.execute(delete(RateCounter).where(RateCounter.key == key))


def purge(conn, now: datetime) -> int:
    return conn.execute(delete(RateCounter).where(RateCounter.expires_at < now - timedelta(days=1))).rowcount
