"""Structured logs: one JSON object a line on stderr, the channel id on every line."""

import json
import logging
import sys
import time
from typing import Any

from footfall_contract.config.masking import mask_credentials

# LogRecord attributes that are plumbing, not context worth emitting.
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line; `extra=` fields become keys; every string is credential-masked."""

    def __init__(self, static: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._static = static or {}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            **self._static,
            "msg": mask_credentials(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = mask_credentials(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = mask_credentials(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(level: str = "INFO", **static: Any) -> None:
    """Send all logs to stderr as JSON lines carrying `static` (e.g. `channel="channel_1"`) on every line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(static))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
