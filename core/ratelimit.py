"""Rate-limit counters shared by every process of one server.

``bangban serve`` runs several worker processes; counters in each
process's memory would let a client through ``workers`` times the limit
(its requests spread over the workers). The counters live instead in a
small SQLite file in the data directory (``ratelimit.db``), which every
worker of the machine opens: fixed windows, one row per key, written in
a ``BEGIN IMMEDIATE`` transaction so concurrent hits from several
processes never lose a count. It is not the application's database (a
counter is not worth a PostgreSQL round trip, and needs no backup).
"""
from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

from limits.storage import Storage

SCHEME = "bangban-sqlite"


def uri(data_dir) -> str:
    return f"{SCHEME}://{(Path(data_dir) / 'ratelimit.db').resolve()}"


class SQLiteStorage(Storage):
    """A ``limits`` storage (fixed window) in one SQLite file:
    ``bangban-sqlite:///abs/path/ratelimit.db``."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = Path(uri[len(SCHEME) + 3:])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.local = threading.local()
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS hits (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                         "expires REAL NOT NULL)")

    @property
    def base_exceptions(self):
        return sqlite3.Error

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=wal")
            conn.execute("PRAGMA synchronous=off")  # counters: losing a window's hits to a power cut is fine
            self.local.conn = conn
        return conn

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        conn = self._connect()
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
                conn.execute("DELETE FROM hits WHERE expires <= ?", (now,))
            else:
                conn.execute("DELETE FROM hits WHERE key = ? AND expires <= ?", (key, now))
            conn.execute("INSERT INTO hits (key, count, expires) VALUES (?, ?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET count = count + excluded.count", (key, amount, now + expiry))
            count = conn.execute("SELECT count FROM hits WHERE key = ?", (key,)).fetchone()[0]
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return count

    def get(self, key: str) -> int:
        row = self._connect().execute("SELECT count FROM hits WHERE key = ? AND expires > ?",
                                      (key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._connect().execute("SELECT expires FROM hits WHERE key = ? AND expires > ?",
                                      (key, time.time())).fetchone()
        return row[0] if row else time.time()

    def check(self) -> bool:
        try:
            self._connect().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._connect().execute("DELETE FROM hits").rowcount

    def clear(self, key: str) -> None:
        self._connect().execute("DELETE FROM hits WHERE key = ?", (key,))
