"""Versioned schema migrations: numbered SQL files in `sql/`, applied in order, each recorded once.

`NNNN_name.sql` files are applied in version order inside ONE transaction that first takes a transaction-level
advisory lock on a fixed key, so workers starting together serialise here: the first applies, the others wait
and then find nothing to do. Every applied file is recorded in `schema_migrations` with a checksum; a file that
changed after it was applied is an error naming it (add a new migration instead of editing an old one).

A migration cannot use statements that refuse to run in a transaction (e.g. `CREATE INDEX CONCURRENTLY`).
"""

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import psycopg2.extensions

logger = logging.getLogger("footfall.storage")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "sql"
# Fixed key of the advisory lock ("Footfall" in ASCII, as a signed 64-bit integer); any process migrating
# this database takes the same one.
ADVISORY_LOCK_KEY = int.from_bytes(b"Footfall", "big", signed=True)
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """The migrations on disk and those recorded in the database disagree, or a file is malformed."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str = field(repr=False)
    checksum: str  # sha256 of the text with normalised line endings (a CRLF checkout is the same file)


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read `NNNN_name.sql` files in version order.

    Args:
        directory: where the files are.

    Returns:
        The migrations, ascending by version.

    Raises:
        MigrationError: a `.sql` file with another name pattern, or two files with the same version.
    """
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_lower_snake.sql")
        version = int(match["version"])
        if version in migrations:
            raise MigrationError(f"{path}: version {version} already used by {migrations[version].path.name}")
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        checksum = hashlib.sha256(text.encode("utf-8")).hexdigest()
        migrations[version] = Migration(version, match["name"], path, text, checksum)
    return [migrations[v] for v in sorted(migrations)]


def apply_migrations(
    conn: psycopg2.extensions.connection, migrations: list[Migration] | None = None, lock_timeout_s: float = 10.0
) -> list[Migration]:
    """Bring the database's schema up to date, under the advisory lock, in one transaction.

    Args:
        conn: an open connection; its pending transaction (if any) is committed or rolled back here.
        migrations: what to apply; defaults to the files in `sql/`.
        lock_timeout_s: longest a statement waits for a table lock. In PostgreSQL's lock queue a waiting
            `ALTER TABLE` blocks every later reader and writer of the table, so a migration stuck behind a long
            report would stall every channel's inserts; bounded, it fails (55P03, retried by the caller) instead.
            Waiting for another worker's migration (the advisory lock) is not bounded by it.

    Returns:
        The migrations applied now (empty when the schema was current).

    Raises:
        MigrationError: an applied migration's file changed.
        psycopg2.Error: the database failed; nothing was applied.
    """
    migrations = load_migrations() if migrations is None else migrations
    by_version = {m.version: m for m in migrations}
    applied_now: list[Migration] = []
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            # A migration may rewrite a big table, and waiting for another process's migration is expected: no
            # statement timeout (a writer connection carries one).
            cur.execute("SET LOCAL statement_timeout = 0")
            # Transaction-level lock: released by the commit or rollback below, even if this process dies.
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_timeout_s * 1000)}ms",))
            cur.execute(_CREATE_TABLE)
            cur.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
            recorded = {int(v): (name, checksum) for v, name, checksum in cur.fetchall()}
            for version, (name, checksum) in recorded.items():
                migration = by_version.get(version)
                if migration is None:
                    # A newer worker migrated further; additive migrations keep older workers working.
                    logger.warning(
                        "database has migration %04d_%s that this worker does not know",
                        version,
                        name,
                        extra={"migration": version},
                    )
                elif migration.checksum != checksum:
                    raise MigrationError(
                        f"migration {migration.path.name} changed after it was applied (checksum {checksum[:12]} "
                        f"recorded, {migration.checksum[:12]} on disk): add a new migration instead of editing it"
                    )
            for migration in migrations:
                if migration.version in recorded:
                    continue
                cur.execute(migration.sql)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                applied_now.append(migration)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    for migration in applied_now:
        logger.info("applied migration %s", migration.path.name, extra={"migration": migration.version})
    return applied_now


def migrate(
    dsn: str, connect_timeout_s: int = 5, directory: Path = MIGRATIONS_DIR, lock_timeout_s: float = 10.0
) -> list[Migration]:
    """Connect, apply pending migrations from `directory`, disconnect.

    Args:
        dsn: libpq connection string or URL.
        connect_timeout_s: libpq connect_timeout.
        directory: where the migration files are.
        lock_timeout_s: as `apply_migrations`.

    Returns:
        The migrations applied now.
    """
    conn = psycopg2.connect(dsn, connect_timeout=connect_timeout_s, application_name="footfall-migrate")
    try:
        return apply_migrations(conn, load_migrations(directory), lock_timeout_s)
    finally:
        conn.close()
