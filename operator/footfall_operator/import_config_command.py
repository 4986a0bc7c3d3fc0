"""`footfall import-config`: the command line around `import_config.build_manifests`.

Nothing is printed or written until every manifest is built, and a file that may hold the Secret is created
readable by its owner only.
"""

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from footfall_contract.config import ConfigError
from footfall_contract.config.cameras import load_store_config
from footfall_operator.crd import KIND
from footfall_operator.import_config import build_manifests, render, with_camera_host


def write_private(path: Path, text: str) -> None:
    """Write `text` readable by the owner only: the file may hold the Secret.

    `fchmod` as well as the create mode: an existing file keeps its old mode through `os.open`.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            fd = -1
            file.write(text)
    finally:
        if fd >= 0:
            os.close(fd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footfall import-config",
        description="Turn a store config JSON into CameraChannel manifests and the Secret with the camera login "
        "(read from the variables the config names). Apply with: ... | kubectl apply -f -",
    )
    parser.add_argument("config", type=Path, metavar="FILE", help="store config JSON")
    parser.add_argument("--out", type=Path, help="write here (mode 0600) instead of stdout")
    parser.add_argument("--namespace", help="metadata.namespace of every manifest (default: none, kubectl's)")
    parser.add_argument("--secret-name", help="the credentials Secret's name (default: <store>-camera-credentials)")
    parser.add_argument(
        "--no-secret",
        action="store_true",
        help="emit only the CameraChannels (referencing the Secret), for a Secret managed elsewhere",
    )
    parser.add_argument(
        "--camera-host",
        metavar="HOST",
        help="every channel's camera host instead of the config's (e.g. the address the cluster reaches them by)",
    )
    return parser


def _summary(manifests: Sequence[dict[str, Any]], out: Path) -> str:
    channels = sum(manifest["kind"] == KIND for manifest in manifests)
    secrets = len(manifests) - channels
    return f"footfall import-config: wrote {channels} CameraChannel(s) and {secrets} Secret(s) to {out}"


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command; 0 on success, 2 on a config or option problem (reported on `stderr`, never a value)."""
    args = build_parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    try:
        store = load_store_config(args.config)
        if args.camera_host is not None:
            store = with_camera_host(store, args.camera_host)
        manifests = build_manifests(
            store,
            environ,
            namespace=args.namespace,
            secret_name=args.secret_name,
            include_secret=not args.no_secret,
        )
    except ConfigError as error:
        print(f"footfall import-config: {error}", file=stderr)
        return 2
    text = render(manifests)
    if args.out is None:
        stdout.write(text)
        stdout.flush()
        return 0
    try:
        write_private(args.out, text)
    except OSError as error:
        print(f"footfall import-config: cannot write {args.out}: {error.strerror}", file=stderr)
        return 2
    print(_summary(manifests, args.out), file=stderr)
    return 0
