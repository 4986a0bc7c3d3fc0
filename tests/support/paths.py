"""Where things are for tests: the repository, its committed footage, and free loopback ports."""

import socket
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def footage_path(name: str, collection: str = "intel") -> Path:
    """Path of a committed clip, e.g. footage_path("one-by-one-person-detection.mp4")."""
    path = REPO_ROOT / "input" / "footage" / collection / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing; it is committed (re-create with hack/prepare-footage.sh)")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (bind test). Another process may still take it before the
    server binds; the server then fails loudly with "Address already in use" rather than flaking silently."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
