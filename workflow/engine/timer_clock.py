"""Make SpiffWorkflow's timer checks read Tanggap's injected clock.

SpiffWorkflow 3.2.0 has no clock hook: ``SpiffWorkflow.bpmn.specs.event_definitions.timer``
calls ``datetime.now(timezone.utc)`` to decide whether a timer has fired. :func:`install`
replaces that module's ``datetime`` name (and nothing else) with a subclass whose ``now()``
returns the clock set by :func:`using_clock` for the current context, or the real time when none
is set. It is called by ``ProcessEngine``, never at import time, and is idempotent.

SpiffWorkflow fires a timer when ``deadline < now``; Tanggap's rule is "due at the deadline"
(``deadline <= now``, the same comparison the sweeper claims rows with). The time it sees is
therefore one microsecond ahead, which turns one comparison into the other.
"""

from __future__ import annotations

import contextlib
import contextvars
from datetime import datetime as _datetime
from datetime import timedelta

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module

from workflow.clock import Clock

_active: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("tanggap_clock", default=None)


_TICK = timedelta(microseconds=1)


class _ClockedDatetime(_datetime):
    @classmethod
    def now(cls, tz=None):
        clock = _active.get()
        if clock is None:
            return _datetime.now(tz) + _TICK
        now = clock.now() + _TICK
        return now.astimezone(tz) if tz is not None else now.astimezone().replace(tzinfo=None)


def install() -> None:
    if _timer_module.datetime is not _ClockedDatetime:
        _timer_module.datetime = _ClockedDatetime


@contextlib.contextmanager
def using_clock(clock: Clock):
    token = _active.set(clock)
    try:
        yield
    finally:
        _active.reset(token)
