"""The writer's last error, and the one throttle its PostgreSQL and journal error logs share.

An outage usually fails both at once (a node losing its disk and its network), so one interval bounds the two
together: the log gets a line per `interval_s`, not a line per failed attempt of each.
"""

import math


class ErrorLog:
    """Shared by the writer's connection and its buffer; used from the writer thread (read from any).

    Args:
        interval_s: at most one error line per this many seconds (`StorageSettings.drop_log_interval_s`).
    """

    def __init__(self, interval_s: float) -> None:
        self.last: str | None = None  # the latest error, for `WriterStats.last_error`
        self._interval_s = interval_s
        self._logged_at = -math.inf

    def due(self, now: float) -> bool:
        """Whether an error may be logged at `now` (monotonic seconds); True starts the next interval."""
        if now - self._logged_at < self._interval_s:
            return False
        self._logged_at = now
        return True
