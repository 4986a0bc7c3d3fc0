"""Every wait on PostgreSQL bounded on our side, so a hung server cannot freeze the writer.

libpq's own timeouts do not cover a server that is alive to the kernel but not answering (SIGSTOPped, swapped
out, stuck on a dead disk): the kernel still ACKs, so TCP keepalives and `tcp_user_timeout` never fire, and a
server-side `statement_timeout` needs the server to run. psycopg2's wait callback ("green" mode) puts the waits
in our hands: every connect and every statement polls the socket here, with a deadline per connection. Past it
the call raises `ServerNotAnswering` (an `OperationalError`, so the writer treats it as PostgreSQL unreachable:
the connection is dropped and retried with the backoff, the rows stay in memory or the journal).

The callback is process-wide (psycopg2 has one). A connection with no deadline (`bound` never called, e.g. the
report tool's) waits as long as it takes, as without the callback.
"""

import select
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions

_limits: "weakref.WeakKeyDictionary[psycopg2.extensions.connection, float]" = weakref.WeakKeyDictionary()
_cutoffs: "weakref.WeakKeyDictionary[psycopg2.extensions.connection, float]" = weakref.WeakKeyDictionary()
# A wait re-reads its cutoff this often, so one set while it is blocked takes effect within this.
_SLICE_S = 0.25
_connecting = threading.local()  # the deadline of a connect in progress on this thread (no connection yet)
_install_lock = threading.Lock()


class ServerNotAnswering(psycopg2.OperationalError):
    """PostgreSQL accepted the request but did not answer within the connection's limit."""


def install() -> None:
    """Route psycopg2's waits through `_wait` (idempotent)."""
    with _install_lock:
        if psycopg2.extensions.get_wait_callback() is not _wait:
            psycopg2.extensions.set_wait_callback(_wait)


def bound(conn: psycopg2.extensions.connection, limit_s: float | None) -> None:
    """Every later wait of `conn` (one statement, a commit) gives up after `limit_s` (None: no limit)."""
    if limit_s is None:
        _limits.pop(conn, None)
    else:
        _limits[conn] = limit_s


def give_up_at(conn: psycopg2.extensions.connection, monotonic_s: float) -> None:
    """Every wait of `conn`, including one already under way (from another thread: a shutdown's deadline),
    ends by `monotonic_s` at the latest."""
    _cutoffs[conn] = monotonic_s


@contextmanager
def connecting(limit_s: float) -> Iterator[None]:
    """A `psycopg2.connect` inside gives up after `limit_s`: in green mode libpq's `connect_timeout` is not
    enforced (psycopg2 issue 944), so this is what bounds the connect."""
    _connecting.limit_s = limit_s
    try:
        yield
    finally:
        _connecting.limit_s = None


def _wait(conn: psycopg2.extensions.connection) -> None:
    limit_s = _limits.get(conn)
    if limit_s is None:
        limit_s = getattr(_connecting, "limit_s", None)
    limit_deadline = None if limit_s is None else time.monotonic() + limit_s
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_READ:
            readers, writers = [conn.fileno()], []
        elif state == psycopg2.extensions.POLL_WRITE:
            readers, writers = [], [conn.fileno()]
        else:
            raise psycopg2.OperationalError(f"unexpected poll state {state!r}")
        cutoff = _cutoffs.get(conn)
        deadlines = [d for d in (limit_deadline, cutoff) if d is not None]
        remaining = min(deadlines) - time.monotonic() if deadlines else None
        if remaining is not None and remaining <= 0:
            if cutoff is not None and (limit_deadline is None or cutoff < limit_deadline):
                raise ServerNotAnswering("PostgreSQL did not answer before the shutdown deadline")
            raise ServerNotAnswering(f"PostgreSQL did not answer within {limit_s:g} s (server hung or unreachable)")
        select.select(readers, writers, [], _SLICE_S if remaining is None else min(remaining, _SLICE_S))
