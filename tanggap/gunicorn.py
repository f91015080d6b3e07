"""gunicorn's settings for Tanggap: ``gunicorn -c python:tanggap.gunicorn -w 4 'web:create_app()'``.

Threaded workers (``gthread``): a request spends much of its time waiting for PostgreSQL, and a
sync worker would sit idle meanwhile; with threads the same process serves another request in
that time. Measured with ``bench.http_load``'s Locust runs (2 workers, 12 users, 20 s each, on the
shared 2-core test machine): the mix went from 20 to 37 requests a second, the health check from
225 to 487. Four
threads a worker by default (``TANGGAP_WEB_THREADS``); each request holds one pooled database
connection at a time, so SQLAlchemy's default pool (5, and 10 more when busy) covers them. The
app is thread-safe: the embedded server (``tanggap serve``) runs it threaded too. ``-w`` on the
command line (or ``WEB_CONCURRENCY``) sets the number of worker processes.
"""

from __future__ import annotations

import os

worker_class = "gthread"
threads = int(os.environ.get("TANGGAP_WEB_THREADS", "4"))
