"""What a failed write means: PostgreSQL unreachable, PostgreSQL refusing for now, or the rows themselves bad.

Only the last one sets rows aside: a row is quarantined only when PostgreSQL (or the adaptation of its values
on our side) says that value can never be written. Everything about the server's state rather than the row
keeps the rows where they are (memory or journal) and retries them with the backoff:

- UNREACHABLE: no usable connection (refused, reset, timed out, a hung server): SQLSTATE class 08, or an
  Operational/InterfaceError without a code.
- TRANSIENT: the server refuses for now: a failover (25006 read-only transaction), a grant change (42501), a
  migration under way (42P01, 42703), a statement timeout (57014), a deadlock or serialization failure
  (40P01, 40001), a lock (55P03), a full disk or too many connections (53xxx), an admin shutdown (57P0x):
  every code outside classes 08, 22 and 23.
- DATA: the rows themselves: a value out of range or a broken constraint (classes 22 and 23), a psycopg2 error
  without a code that is not about the connection (a value it cannot adapt), any other Python error raised
  while writing them (OverflowError, RecursionError, ...).

A server-side code we do not know is TRANSIENT on purpose: a deploy gone wrong then holds rows back (counted,
journaled, capped) until someone fixes it, instead of quarantining every row as if each were bad.
"""

import enum

import psycopg2

_DATA_CLASSES = frozenset({"22", "23"})  # data exception, integrity constraint violation
_CONNECTION_CLASS = "08"


class Failure(enum.StrEnum):
    UNREACHABLE = "unreachable"
    TRANSIENT = "transient"
    DATA = "data"


def classify(error: BaseException) -> Failure:
    """The kind of a failed write (see the module's table)."""
    if isinstance(error, psycopg2.Error):
        code = error.pgcode
        if code is None:
            connection = isinstance(error, psycopg2.OperationalError | psycopg2.InterfaceError)
            return Failure.UNREACHABLE if connection else Failure.DATA
        if code[:2] == _CONNECTION_CLASS:
            return Failure.UNREACHABLE
        return Failure.DATA if code[:2] in _DATA_CLASSES else Failure.TRANSIENT
    return Failure.DATA


def describe(error: BaseException) -> str:
    """One line naming the error (and its SQLSTATE), at most 500 characters; no row values are added here."""
    code = getattr(error, "pgcode", None)
    prefix = f"{type(error).__name__} [{code}]" if code else type(error).__name__
    text = " ".join(str(error).split())
    return f"{prefix}: {text}"[:500]
