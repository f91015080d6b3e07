"""What every ``tanggap`` command shares: the services of the command's run, logging, and a
worker's loop in the foreground."""

from __future__ import annotations

import ctypes
import logging
import os

import click

from escalation.wiring import build as build_services
from workflow.config import Settings
from workflow.services import Services


def services(ctx: click.Context) -> Services:
    """The services of this run of the command, built once and disposed of at its end."""
    obj = ctx.ensure_object(dict)
    if "services" not in obj:
        obj["services"] = build_services(Settings.from_env())
        ctx.call_on_close(obj["services"].dispose)
    return obj["services"]


def configure_logging() -> None:
    """Tanggap's own messages at INFO. The BPMN engine logs every task state change at INFO
    (thousands of lines an hour): its loggers stay at WARNING unless
    ``TANGGAP_ENGINE_LOG_LEVEL`` asks for more."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("tanggap").setLevel(logging.INFO)
    logging.getLogger("spiff").setLevel(os.environ.get("TANGGAP_ENGINE_LOG_LEVEL", "WARNING").upper())


def until_stopped(run_forever, interval: float, banner: str) -> None:
    """A worker's loop in the foreground until SIGTERM or Ctrl-C."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"{banner} (Ctrl-C to stop)")
    try:
        run_forever(interval, stop)
    except KeyboardInterrupt:
        stop.set()


M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """At most ``arenas`` malloc arenas in this process (glibc; elsewhere nothing happens). glibc
    gives each thread that allocates its own arena, up to eight per core, and each keeps the
    memory it once held: the embedded server, a thread per request, grew by some MiB a minute
    under load without any Python object kept (``bench.memory``; tracemalloc flat). Called before
    any thread starts; an operator's own ``MALLOC_ARENA_MAX`` is left as it is. True when set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
