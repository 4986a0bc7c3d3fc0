"""The writer's connection to PostgreSQL: connect with timeouts (migrating once), and a backed-off retry.

A connect or a statement never hangs: a server-side `statement_timeout` bounds the work, TCP keepalives and
`tcp_user_timeout` a dead peer, and `pg_wait` every wait on our side (a hung server, alive to the kernel but
silent, is given up on after `statement_timeout_s + answer_grace_s`, a connect after `connect_timeout_s`).
A failed connect or write (unreachable, or refusing for now: `pg_errors.py`) drops the connection and
schedules the next attempt with the shared `Backoff` (`StorageSettings.backoff_*`), started over once a
connect succeeds.
"""

import logging
import time

import psycopg2
import psycopg2.extensions

from footfall_contract.config.masking import mask_credentials
from footfall_worker.retry import Backoff
from footfall_worker.settings import StorageSettings
from footfall_worker.storage import pg_wait
from footfall_worker.storage.error_log import ErrorLog
from footfall_worker.storage.migrations import MigrationError, apply_migrations
from footfall_worker.storage.pg_errors import Failure, classify, describe

logger = logging.getLogger("footfall.storage")

# A 0 s initial delay times any factor stays 0 s, a reconnect loop; from this floor it grows (1, 2, 4 ms, ...).
_MIN_INITIAL_S = 1e-3


class DbConnection:
    """One channel writer's connection, used by one thread at a time (the writer's, or `start()`'s before it).

    Args:
        dsn: libpq URL of the database (connect only to trusted, configured hosts).
        channel_id: names the connection (`application_name`) and the log lines.
        settings: timeouts, backoff and whether to migrate.
        errors: where failures are recorded, and the throttle of their log lines.
    """

    def __init__(self, dsn: str, channel_id: str, settings: StorageSettings, errors: ErrorLog) -> None:
        self._dsn = dsn
        self._channel_id = channel_id
        self._settings = settings
        self._errors = errors
        self._extra = {"channel": channel_id}
        self._migrated = not settings.migrate_on_start
        self._connected_once = False
        self._backoff = Backoff(
            initial=max(settings.backoff_initial_s, _MIN_INITIAL_S),
            factor=settings.backoff_factor,
            maximum=settings.backoff_max_s,
            jitter=settings.backoff_jitter,
        )
        self.answer_limit_s = settings.statement_timeout_s + settings.answer_grace_s
        pg_wait.install()
        self.conn: psycopg2.extensions.connection | None = None
        self.next_connect = 0.0  # monotonic time the next attempt is due
        self.retries = 0  # failed connects and writes
        self.transient_errors = 0  # of those, PostgreSQL refusing for now (failover, grants, a migration)
        self.reconnects = 0

    def connect(self) -> bool:
        """Connect (and migrate once). Connection failures are counted and backed off, never raised.

        Raises:
            MigrationError: the database's schema disagrees with the migration files.
        """
        settings = self._settings
        try:
            # Keep the DSN's own options (e.g. a search_path) and add ours after them.
            options = psycopg2.extensions.parse_dsn(self._dsn).get("options", "")
            options += f" -c statement_timeout={int(settings.statement_timeout_s * 1000)} -c TimeZone=UTC"
            with pg_wait.connecting(settings.connect_timeout_s):
                conn = psycopg2.connect(
                    self._dsn,
                    connect_timeout=settings.connect_timeout_s,
                    application_name=f"footfall-writer:{self._channel_id}"[:63],
                    options=options.strip(),
                    # A server that vanishes without closing the socket is noticed within ~25 s, not hours;
                    # data it never acknowledges (a black hole) within the answer limit.
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                    tcp_user_timeout=int(self.answer_limit_s * 1000),
                )
        except psycopg2.Error as exc:
            self.failed(exc, classify(exc))
            return False
        try:
            if not self._migrated:
                pg_wait.bound(conn, settings.migration_timeout_s)
                apply_migrations(conn, lock_timeout_s=settings.migration_lock_timeout_s)
                self._migrated = True
            pg_wait.bound(conn, self.answer_limit_s)
            conn.autocommit = False
        except MigrationError as exc:
            conn.close()
            logger.error("schema migration refused: %s", exc, extra=self._extra)
            self.failed(exc)
            raise
        except psycopg2.Error as exc:
            conn.close()
            self.failed(exc, classify(exc))
            return False
        self.conn = conn
        self._backoff.reset()
        if self._connected_once:
            self.reconnects += 1
            logger.info("PostgreSQL reachable again", extra={**self._extra, "reconnects": self.reconnects})
        self._connected_once = True
        return True

    def connect_quietly(self) -> None:
        """`connect`, for the writer thread: a refused migration is retried like any failure."""
        try:
            self.connect()
        except MigrationError:
            pass  # logged in failed(); retried with backoff, nothing is lost meanwhile

    def disconnect(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
            self.conn = None

    def failed(self, exc: BaseException, failure: Failure = Failure.UNREACHABLE) -> None:
        """Drop the connection after `exc`, count it, and schedule the next attempt."""
        now = time.monotonic()
        self.disconnect()
        self.retries += 1
        if failure is Failure.TRANSIENT:
            self.transient_errors += 1
        message = mask_credentials(describe(exc))
        self._errors.last = message
        delay = self._backoff.next_delay()
        self.next_connect = now + delay
        if self._errors.due(now):
            logger.warning(
                "PostgreSQL %s, retrying in %.2f s: %s",
                "refuses for now" if failure is Failure.TRANSIENT else "not usable",
                delay,
                message,
                extra={**self._extra, "retries": self.retries, "failure": str(failure)},
            )
