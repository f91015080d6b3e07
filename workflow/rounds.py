"""The loop every background worker runs (timer sweeper, notice delivery)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def run_rounds(one_round: Callable[[], R], *, claimed: Callable[[R], int], batch: int, interval: float,
               stop: threading.Event, log: logging.Logger, describe: Callable[[R], str], empty: R) -> None:
    """``one_round()`` until ``stop`` is set; after a round that claimed a full batch the next one
    starts at once, otherwise after ``interval`` seconds. A failing round (a database hiccup) is
    logged and does not end the worker."""
    while not stop.is_set():
        try:
            result = one_round()
        except Exception:  # noqa: BLE001 - a database hiccup must not end the worker
            log.exception("round failed")
            result = empty
        if claimed(result):
            log.info("%s", describe(result))
        if claimed(result) < batch:
            stop.wait(interval)
