"""``bangban serve``: the production HTTP server.

gunicorn with threaded workers (``gthread``): several processes, so a
county server uses every core (one Python process uses one, whatever its
thread count), each with a few threads and a poller that keeps idle
keep-alive connections without holding a thread, so a hundred signed-in
users and more are connected at once. Measured against waitress (one
process) on the same app: see the README's "Serving".

Every worker builds its own app after the fork (no ``preload``): no
database connection, pool, timer thread or lock is shared between
processes. The processes share only what is made for it: the database
(SQLite in WAL mode with a busy timeout and ``BEGIN IMMEDIATE`` writes;
PostgreSQL with one pool per worker), the audit chain (its head is read
inside the writing transaction under the chain's lock, never cached), the
data directory and the rate-limit counters (:mod:`core.ratelimit`).
Periodic jobs do not run in the web processes at all: ``bangban jobs run``
from cron or a timer, each job under a lock of its own.

waitress stays available (``--server waitress``) for a machine without
``fork`` or for a deployer who wants one process.
"""
from __future__ import annotations

import os

#: threads per gunicorn worker (as many as the PostgreSQL pool's connections,
#: BANGBAN_DB_POOL_SIZE, default 8); requests beyond workers x threads wait
#: in the listen queue (``backlog``), idle connections in the poller
THREADS = 8
#: the listen queue and the per-worker connection limit: far above the
#: expected hundred users, so nobody is refused a connection at a peak
BACKLOG = 2048
WORKER_CONNECTIONS = 1000


def cores() -> int:
    """The cores this process may run on (its CPU affinity, else all)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


def default_workers(n_cores: int | None = None) -> int:
    """Worker processes for ``n_cores``: one per core (a Python process
    computes on one core at a time), at least 2 (a worker that restarts or
    renders a long page does not hold up everyone), at most 16."""
    n_cores = n_cores or cores()
    return min(max(n_cores, 2), 16)


def options(host, port, workers, threads, timeout=120):
    """gunicorn settings of ``bangban serve``."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "worker_connections": WORKER_CONNECTIONS,
        "backlog": BACKLOG,
        "keepalive": 5,
        # gthread workers answer the master's heartbeat from their main
        # loop, so a long request (a big export) does not count against it
        "timeout": timeout,
        "graceful_timeout": 30,
        "preload_app": False,  # each worker builds its own app: nothing is inherited across fork
        "control_socket_disable": True,  # no socket under $HOME (several servers, read-only homes)
        "proc_name": "bangban",
        "accesslog": None,  # BANGBAN_REQUEST_LOG is the request log
        "errorlog": "-",
        "loglevel": "warning",
    }


def run_gunicorn(host, port, workers, threads, app_factory):
    """Serve ``app_factory()`` (called in every worker) until stopped
    (SIGTERM: graceful, SIGINT / Ctrl+C: quick)."""
    from gunicorn.app.base import BaseApplication

    settings = options(host, port, workers, threads)

    class Server(BaseApplication):
        def load_config(self):
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):
            return app_factory()

    Server().run()


def run_waitress(host, port, threads, app):
    from waitress import serve

    serve(app, host=host, port=port, threads=threads, connection_limit=WORKER_CONNECTIONS,
          backlog=BACKLOG, channel_timeout=120, ident="bangban")


def release_connections(db):
    """Close this process's database connections (before workers fork)."""
    if hasattr(db, "close_all"):
        db.close_all()
    elif not db.is_closed():
        db.close()
