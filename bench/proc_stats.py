"""CPU seconds and RSS of processes from /proc, and the processes of the Triton `make triton` started."""

import os
from pathlib import Path

CACHE = Path.home() / ".cache" / "footfall"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds_and_rss(pid: int) -> tuple[float, int] | None:
    """User + system CPU seconds of `pid` (all its threads) and its RSS in bytes; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, rss_pages * PAGE


def descendants(pid: int) -> list[int]:
    """pid and all its descendants (Triton runs one python-backend stub process per model instance)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def triton_pids() -> list[int]:
    pid_file = Path(os.environ.get("FOOTFALL_RUN_DIR", CACHE / "run")) / "triton.pid"
    try:
        return descendants(int(pid_file.read_text().strip()))
    except (OSError, ValueError):
        return []


def triton_cpu_seconds() -> float:
    """CPU seconds Triton's processes have used so far (server and python-backend stubs)."""
    return sum(usage[0] for pid in triton_pids() if (usage := cpu_seconds_and_rss(pid)) is not None)
