"""Forward a worker's output to the manager's stderr, one JSON line per line, each naming its channel."""

import json
import threading
import time
from collections.abc import Callable
from typing import IO

# One lock for every forwarder: lines from several workers never interleave mid-line on the shared stream.
_WRITE_LOCK = threading.Lock()


def as_channel_line(raw: bytes, channel: str) -> str:
    """One output line of a worker as a JSON log line that carries `channel`.

    A worker's own JSON lines pass unchanged (the channel is added only when missing); anything else, such as
    a Python traceback or a library printing to stderr, is wrapped so the manager's output stays one JSON
    object per line.

    Args:
        raw: one line as the worker wrote it, with or without its newline.
        channel: the channel id of that worker.

    Returns:
        The JSON line, newline-terminated.
    """
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        entry = json.loads(text)
    except ValueError:
        entry = None
    if isinstance(entry, dict):
        if entry.get("channel") == channel:
            return text + "\n"
        return json.dumps({**entry, "channel": channel}, ensure_ascii=False) + "\n"
    wrapped = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        "level": "info",
        "logger": "footfall.worker.output",
        "channel": channel,
        "msg": text,
    }
    return json.dumps(wrapped, ensure_ascii=False) + "\n"


class LineForwarder:
    """A daemon thread copying lines from a worker's pipe to a text sink until the pipe closes.

    The thread ends by itself at end of file, which comes once the worker and everything in its process
    group have exited (the supervisor makes sure they do), so it never outlives the worker for long.

    Args:
        stream: the read end of the worker's stdout/stderr pipe (binary).
        channel: the worker's channel id, added to every line.
        sink: where lines go; a callable so the manager's current `sys.stderr` is looked up per line.
    """

    def __init__(self, stream: IO[bytes], channel: str, sink: Callable[[], IO[str]]) -> None:
        self._stream = stream
        self._channel = channel
        self._sink = sink
        self._thread = threading.Thread(target=self._run, name=f"log-{channel}", daemon=True)

    def start(self) -> "LineForwarder":
        self._thread.start()
        return self

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for end of file; True when the thread has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        sink_open = True
        try:
            for raw in iter(self._stream.readline, b""):
                if not sink_open:
                    continue  # keep draining: a worker blocked on a full pipe would freeze
                line = as_channel_line(raw, self._channel)
                try:
                    with _WRITE_LOCK:
                        sink = self._sink()
                        sink.write(line)
                        sink.flush()
                except (OSError, ValueError):  # the manager's stderr is gone (closed pipe, closed file)
                    sink_open = False
        except (OSError, ValueError):
            pass  # the pipe was closed under us: nothing left to forward
        finally:
            self._stream.close()
