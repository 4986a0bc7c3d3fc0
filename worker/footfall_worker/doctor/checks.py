"""The doctor's checks. Each returns one `Check` and never raises or hangs: every network call has a timeout,
and a failure becomes a `fail` that says what was tried and what went wrong (credentials masked).

The camera check is the one a store's admin needs most: the camera is asked once (RTSP DESCRIBE: a wrong
password or path is named as such), then its stream is read for a few seconds, which gives the codec, the
picture size, the frames a second it really sends, and the CPU a frame costs to decode here.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import psycopg2
from tritonclient.utils import InferenceServerException

from footfall_contract.config import ChannelConfig, ConfigError, mask_credentials
from footfall_contract.redis_client import connect_url
from footfall_worker.inference.triton_client import TritonConnection
from footfall_worker.ingest.capture import SourceError, open_capture
from footfall_worker.ingest.rtsp_probe import ProbeOutcome, probe_rtsp
from footfall_worker.settings import TritonSettings
from footfall_worker.storage.migrations import load_migrations

Status = Literal["ok", "warn", "fail", "skip"]
TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


def guarded(name: str, check: Callable[[], Check]) -> Check:
    """Run one check; anything it raises is that check's failure, not the doctor's."""
    try:
        return check()
    except Exception as error:  # noqa: BLE001 - one broken check must not hide the others' findings
        return Check(name, "fail", mask_credentials(f"{type(error).__name__}: {error}"))


def _cgroup_cpus() -> float | None:
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _available_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine() -> Check:
    cores = len(os.sched_getaffinity(0))
    quota = _cgroup_cpus()
    memory = _available_gib()
    usable = min(cores, quota) if quota else cores
    detail = f"{cores} cores" + (f", limited to {quota:g} by the cgroup" if quota else "")
    detail += f", {memory:.1f} GiB memory available" if memory is not None else ""
    status: Status = "ok" if usable >= 2 else "warn"
    if status == "warn":
        detail += "; less than 2 cores: decoding and detection share one"
    return Check("machine", status, detail, {"cores": cores, "cgroup_cpus": quota, "available_gib": memory})


@dataclass(frozen=True, slots=True)
class _Reading:
    frames: int
    shape: tuple[int, ...] | None
    wall_s: float
    cpu_s: float  # the process's: FFmpeg decodes on threads of its own


def _read_for(capture: cv2.VideoCapture, seconds: float) -> _Reading:
    """Read frames for `seconds` (or to the end), timing the wall clock and the CPU they cost."""
    frames, shape = 0, None
    began, cpu = time.monotonic(), time.process_time()
    while time.monotonic() - began < seconds:
        ok, image = capture.read()
        if not ok:
            break
        frames += 1
        shape = image.shape
    return _Reading(frames, shape, time.monotonic() - began, time.process_time() - cpu)


def decode(clip: Path | None, seconds: float = 2.0) -> Check:
    """How fast this machine decodes a clip, and the CPU a frame costs (the process's: FFmpeg decodes on threads
    of its own)."""
    if clip is None or not clip.is_file():
        return Check("decode", "skip", "no clip to decode here (give --clip); each camera's decoding is below")
    capture = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG)
    try:
        read = _read_for(capture, seconds)
    finally:
        capture.release()
    if not read.frames or read.shape is None:
        return Check("decode", "fail", f"{clip.name}: no frame decoded")
    size, fps, cpu_ms = f"{read.shape[1]}x{read.shape[0]}", read.frames / read.wall_s, 1000 * read.cpu_s / read.frames
    return Check(
        "decode",
        "ok",
        f"{clip.name} {size}: {fps:.0f} fps, {cpu_ms:.1f} ms of CPU a frame",
        {"size": size, "fps": round(fps, 1), "cpu_ms_per_frame": round(cpu_ms, 2)},
    )


def triton(url: str, required: tuple[str, ...]) -> Check:
    connection = TritonConnection(TritonSettings(url=url, ready_timeout_s=TIMEOUT_S))  # type: ignore[call-arg]
    try:
        client = connection.client
        try:
            live = client.is_server_live(client_timeout=TIMEOUT_S)
            index = client.get_model_repository_index(as_json=True, client_timeout=TIMEOUT_S).get("models", [])
        except InferenceServerException as error:
            return Check("triton", "fail", f"cannot reach {url}: {error.message() or error}")
        if not live:
            return Check("triton", "fail", f"{url}: the server is not live")
        models = {m["name"]: m.get("state", "UNAVAILABLE") for m in index}
        listed = ", ".join(f"{name} {state}" for name, state in sorted(models.items()))
        missing = [name for name in required if models.get(name) != "READY"]
        if missing:
            return Check("triton", "fail", f"{url}: not ready: {', '.join(missing)}; models: {listed}", models)
        return Check("triton", "ok", f"{url} ready; models: {listed}", models)
    finally:
        connection.close()


def postgres(dsn: str) -> Check:
    shown = mask_credentials(dsn)
    try:
        conn = psycopg2.connect(dsn, connect_timeout=int(TIMEOUT_S), application_name="footfall-doctor")
    except psycopg2.Error as error:
        return Check("postgres", "fail", f"cannot connect to {shown}: {mask_credentials(str(error).strip())}")
    try:
        with conn.cursor() as cur:
            cur.execute("SET statement_timeout = %s", (int(TIMEOUT_S * 1000),))
            cur.execute("SHOW server_version")
            (version,) = cur.fetchone()
            cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            (has_table,) = cur.fetchone()
            applied = 0
            if has_table:
                cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
                (applied,) = cur.fetchone()
    finally:
        conn.close()
    latest = max(m.version for m in load_migrations())
    detail = f"{shown}: PostgreSQL {version}, schema {applied} of {latest}"
    if applied < latest:
        return Check("postgres", "warn", detail + " (a worker migrates it when it starts)", {"schema": applied})
    return Check("postgres", "ok", detail, {"schema": applied, "version": version})


def redis_server(url: str) -> Check:
    client = connect_url(url, timeout_s=TIMEOUT_S)
    shown = mask_credentials(url)
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    except Exception as error:  # noqa: BLE001 - redis raises several unrelated types for one outage
        return Check("redis", "fail", f"cannot reach {shown}: {mask_credentials(str(error))}")
    finally:
        client.close()
    return Check("redis", "ok", f"{shown}: Redis {version}", {"version": version})


def _fourcc(capture: cv2.VideoCapture) -> str:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ")
    return text if text.isprintable() and text else "?"


def camera(channel: ChannelConfig, seconds: float = 3.0) -> Check:
    """Ask the camera, then read its stream for `seconds`."""
    name = f"camera {channel.id}"
    try:
        url = channel.url()
    except ConfigError as error:  # a credential variable or Secret file missing: named, never shown
        return Check(name, "fail", str(error))
    shown = str(channel.source.url())
    probe = probe_rtsp(url.reveal(), TIMEOUT_S)
    if probe.outcome is not ProbeOutcome.OK:
        return Check(name, "fail", f"{shown}: {probe.detail}", {"probe": str(probe.outcome)})
    try:
        capture = open_capture(url, TIMEOUT_S, TIMEOUT_S)
    except SourceError as error:
        return Check(name, "fail", f"{shown}: {error}", {"probe": str(probe.outcome)})
    try:
        codec, declared = _fourcc(capture), capture.get(cv2.CAP_PROP_FPS)
        read = _read_for(capture, seconds)
    finally:
        capture.release()
    if not read.frames or read.shape is None:
        return Check(name, "fail", f"{shown}: opened, but no frame in {seconds:g} s", {"codec": codec})
    size, fps = f"{read.shape[1]}x{read.shape[0]}", read.frames / read.wall_s
    data = {"codec": codec, "size": size, "fps": round(fps, 1), "declared_fps": round(declared, 1)}
    data["decode_ms_per_frame"] = round(1000 * read.cpu_s / read.frames, 2)
    detail = f"{shown}: {codec} {size}, {fps:.1f} fps (declared {declared:g}), decode {data['decode_ms_per_frame']} ms"
    return Check(name, "ok" if fps >= 10 else "warn", detail + ("" if fps >= 10 else "; below 10 fps"), data)
