"""The SQLite writers of one process queue on the engine's lock, in turn, instead of polling
SQLite's busy handler (which sleeps up to 100 ms between tries: under load, writes took
seconds); readers never wait for a writer."""

from __future__ import annotations

import threading

from sqlalchemy import event, text

from workflow.store.db import WRITE_OPTION, WRITERS, make_engine


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.sqlite3'}")

    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_connection, _record):  # after the app's pragmas: SQLite itself never waits
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


def _write(engine, n: int) -> None:
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})


def test_a_second_writer_waits_for_the_first_instead_of_failing(tmp_path):
    engine = _engine(tmp_path)
    writers = WRITERS[engine]
    failures: list[BaseException] = []

    def second():
        try:
            _write(engine, 2)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        conn.execute(text("INSERT INTO t VALUES (1)"))
        thread = threading.Thread(target=second)
        thread.start()
        while writers.queued == 0 and thread.is_alive():  # until it waits on the lock
            threading.Event().wait(0.001)
        assert writers.queued == 1, failures  # it waited in the queue, it did not try SQLite and fail
    thread.join(30)
    assert not failures
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY rowid")).scalars().all() == [1, 2]
    engine.dispose()


def test_a_rollback_and_a_returned_connection_hand_the_lock_on(tmp_path):
    engine = _engine(tmp_path)
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.rollback()
    conn = engine.connect().execution_options(**{WRITE_OPTION: True})
    conn.begin()
    conn.execute(text("INSERT INTO t VALUES (2)"))
    conn.close()  # neither committed nor rolled back: the pool's reset rolls it back
    _write(engine, 3)  # the lock is free again: no wait, no failure
    assert WRITERS[engine].queued == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalars().all() == [3]
    engine.dispose()


def test_readers_do_not_wait_for_a_writer(tmp_path):
    engine = _engine(tmp_path)
    _write(engine, 1)
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as writer, writer.begin():
        writer.execute(text("INSERT INTO t VALUES (2)"))
        with engine.connect() as reader:  # busy_timeout 0: a reader that had to wait would fail
            assert reader.execute(text("SELECT n FROM t")).scalars().all() == [1]
    engine.dispose()
