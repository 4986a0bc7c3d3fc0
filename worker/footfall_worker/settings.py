"""Runtime settings of the worker, from the environment (`FOOTFALL_*`) via pydantic-settings.

Built in `__main__`/the CLI and passed down: no module-level singleton.
"""

import os
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The person detector's input sides (models/person_detector/1/model.py: the longest side of the canvas sent).
DETECTOR_INPUT_SIZES = (320, 384, 416, 640)


class TritonSettings(BaseSettings):
    """Where the shared Triton server is and how patiently to talk to it."""

    model_config = SettingsConfigDict(env_prefix="FOOTFALL_TRITON_", env_ignore_empty=True, extra="ignore")

    url: str = Field(default="127.0.0.1:8001", description="gRPC endpoint host:port")
    request_timeout_s: float = Field(default=5.0, gt=0, description="deadline of one inference request")
    ready_timeout_s: float = Field(default=2.0, gt=0, description="deadline of one health/readiness call")
    retries: int = Field(default=2, ge=0, description="extra attempts when the server is unreachable")
    retry_backoff_s: float = Field(default=0.2, ge=0, description="first retry delay; doubles per attempt")
    retry_backoff_max_s: float = Field(default=2.0, ge=0)
    reconnect_backoff_max_s: float = Field(default=2.0, gt=0, description="cap of gRPC's reconnect backoff")
    shared_memory: Literal["auto", "on", "off"] = Field(
        default="auto", description="send frames through system shared memory; auto = when Triton is on loopback"
    )
    detector_model: str = "person_detector"
    detector_input_size: int | None = Field(
        default=None,
        description="detector input side sent with each request (320, 384, 416, 640); None = the model's default",
    )
    gender_model: str = "gender_classifier"
    crop_height: int = Field(default=256, ge=32, description="canvas a person crop is fitted into for gender")
    crop_width: int = Field(default=128, ge=32)

    @field_validator("detector_input_size")
    @classmethod
    def _known_detector_input_size(cls, value: int | None) -> int | None:
        # Caught here, at start-up, rather than as an error on every frame's request.
        if value is not None and value not in DETECTOR_INPUT_SIZES:
            sizes = ", ".join(str(size) for size in DETECTOR_INPUT_SIZES)
            raise ValueError(f"FOOTFALL_TRITON_DETECTOR_INPUT_SIZE must be one of {sizes}, got {value}")
        return value


class ReaderSettings(BaseSettings):
    """How a channel's reader talks to its camera. All delays are configurable so tests run in seconds."""

    model_config = SettingsConfigDict(env_prefix="FOOTFALL_READER_", env_ignore_empty=True, extra="ignore")

    open_timeout_s: float = Field(default=5.0, gt=0, description="longest an open may block")
    read_timeout_s: float = Field(default=5.0, gt=0, description="longest a read may block")
    stall_timeout_s: float = Field(default=10.0, gt=0, description="no frame for this long = stalled")
    handoff_size: int = Field(default=2, ge=1, description="frames waiting for processing; older ones are dropped")
    process_every: int = Field(default=1, ge=1, description="hand off every N-th frame")
    adaptive_skip: bool = Field(default=False, description="raise N while the hand-off overflows, lower it after")
    max_skip: int = Field(default=8, ge=1, description="ceiling of N in adaptive mode")
    on_demand: bool = Field(
        default=False,
        description="hand a frame off only when processing is ready for it or has none waiting; the rest are "
        "skipped before colour conversion, so processing runs at its full rate and no conversion is wasted",
    )
    backoff_initial_s: float = Field(default=5.0, ge=0)
    backoff_factor: float = Field(default=2.0, ge=1)
    backoff_max_s: float = Field(default=60.0, ge=0)
    backoff_jitter: float = Field(default=0.1, ge=0, lt=1, description="+/- fraction of each delay")
    stable_after_s: float = Field(default=30.0, ge=0, description="streaming this long resets the backoff")
    return_probe_interval_s: float = Field(
        default=2.0,
        ge=0,
        description="while backing off from a camera that went away, ask it this often (one RTSP OPTIONS, 1 s "
        "timeout, no login) whether it answers again, and reconnect at once when it does; 0: wait out each step",
    )
    replay_realtime: bool = Field(default=True, description="files: pace frames at the file's rate, like a camera")
    replay_loop: bool = Field(default=False, description="files: start over at the end")
    replay_exhaustive: bool = Field(
        default=False, description="files: wait for processing instead of dropping (every frame is processed)"
    )


class TrackerSettings(BaseSettings):
    """ByteTrack's parameters (Zhang et al., ECCV 2022), with the paper's defaults."""

    model_config = SettingsConfigDict(env_prefix="FOOTFALL_TRACKER_", env_ignore_empty=True, extra="ignore")

    track_thresh: float = Field(default=0.5, gt=0, lt=1, description="high/low detection split")
    low_thresh: float = Field(default=0.1, ge=0, lt=1, description="detections below are ignored entirely")
    new_track_thresh: float = Field(default=0.6, gt=0, le=1, description="score a detection needs to start a track")
    match_thresh: float = Field(default=0.8, gt=0, le=1, description="max 1 - IoU*score cost in the first stage")
    second_match_thresh: float = Field(default=0.5, gt=0, le=1, description="max 1 - IoU cost, low-score stage")
    unconfirmed_match_thresh: float = Field(default=0.7, gt=0, le=1)
    track_buffer: int = Field(default=30, ge=1, description="lost-track buffer in reference frames (30 = 1 s)")
    reference_fps: float = Field(default=30.0, gt=0, description="the frame rate the paper's parameters assume")
    freeze_lost: bool = Field(
        default=True, description="match a lost track by its last observed box (paper: its drifting prediction)"
    )
    duplicate_iou: float = Field(default=0.85, gt=0, le=1, description="a lost and a tracked track this close: one")
    appearance: Literal["off", "histogram", "learned"] = Field(
        default="off",
        description="re-find lost people by appearance: off (plain ByteTrack), colour histograms, or the learned "
        "embedder served by Triton (models/appearance_embedder)",
    )
    reid_window_s: float = Field(
        default=4.0, gt=0, le=60, description="how long a lost track may be re-found by appearance"
    )
    appearance_interval_s: float = Field(default=0.3, ge=0, description="time between a track's appearance samples")
    appearance_min_similarity: float = Field(
        default=0.0, ge=0, lt=1, description="least cosine similarity to re-find a track; 0: the encoder's default"
    )
    history_interval_s: float = Field(default=0.5, ge=0, description="box history sampling (and UPDATED events)")
    max_history: int = Field(default=1200, ge=1, description="history samples kept per track")


class GenderSettings(BaseSettings):
    """Gender per track: which crops to classify, how many, and when a vote is decided."""

    model_config = SettingsConfigDict(env_prefix="FOOTFALL_GENDER_", env_ignore_empty=True, extra="ignore")

    max_crops_per_track: int = Field(default=5, ge=1, description="classifier calls per track, at most")
    crop_interval_s: float = Field(default=0.7, ge=0, description="the best crop of each interval is classified")
    min_box_height: int = Field(default=48, ge=1, description="smaller people have no usable face")
    min_confidence: float = Field(default=0.75, gt=0.5, le=1, description="weighted vote needed for a label")
    min_weight: float = Field(default=0.6, gt=0, description="total face quality needed for a label")
    decided_weight: float = Field(default=1.5, gt=0, description="stop asking once this much quality agrees")
    queue_size: int = Field(default=64, ge=1, description="crops waiting for the classifier; more are dropped")
    batch_size: int = Field(default=8, ge=1)


class StorageSettings(BaseSettings):
    """How the buffered writer batches, how long it waits on PostgreSQL and how it rides out an outage.

    All delays are configurable so tests run in seconds.
    """

    model_config = SettingsConfigDict(env_prefix="FOOTFALL_STORAGE_", env_ignore_empty=True, extra="ignore")

    batch_rows: int = Field(default=500, ge=1, description="rows per transaction; a full batch is flushed at once")
    flush_interval_s: float = Field(default=1.0, gt=0, description="longest a buffered row waits for a flush")
    max_buffered_rows: int = Field(
        default=10_000, ge=2, description="rows held in memory (buffer + batch in flight); beyond: journal, then drop"
    )
    spill_fraction: float = Field(
        default=0.8, gt=0, le=1, description="while PostgreSQL is down, spill to the journal above this buffer fill"
    )
    connect_timeout_s: int = Field(default=5, ge=2, description="libpq connect_timeout (it rounds below 2 up to 2)")
    statement_timeout_s: float = Field(default=10.0, gt=0, description="server-side limit of one statement")
    answer_grace_s: float = Field(
        default=5.0,
        gt=0,
        description="a server silent for statement_timeout_s plus this long is hung: the connection is dropped",
    )
    migration_timeout_s: float = Field(default=600.0, gt=0, description="longest the schema migration may run")
    migration_lock_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="longest a migration waits for a table lock (a long report holding it): then it fails and is "
        "retried with the backoff, instead of queueing every writer of the table behind it",
    )
    backoff_initial_s: float = Field(default=0.5, ge=0, description="first reconnect delay; multiplied per failure")
    backoff_factor: float = Field(default=2.0, ge=1)
    backoff_max_s: float = Field(default=30.0, ge=0)
    backoff_jitter: float = Field(default=0.1, ge=0, lt=1, description="+/- fraction of each delay")
    journal_segment_bytes: int = Field(default=16 * 1024 * 1024, ge=4096, description="journal segment rotation")
    journal_fsync: bool = Field(default=True, description="fsync every journal append (off only for benchmarks)")
    journal_max_bytes: int = Field(
        default=900 * 1024 * 1024,
        ge=64 * 1024,
        description="journal cap (below its volume: the operator sets 90 % of the claim); beyond, new rows are "
        "refused and counted as dropped",
    )
    journal_retry_s: float = Field(default=5.0, ge=0, description="after a journal write failed, wait before retrying")
    drop_log_interval_s: float = Field(default=10.0, ge=0, description="at most one drop warning per interval")
    migrate_on_start: bool = Field(default=True, description="apply pending schema migrations when the writer starts")


class WorkerSettings(BaseSettings):
    """One channel worker: where its channel, record and live state are, its probes, and its shutdown.

    In Kubernetes the operator sets these as environment variables; locally `footfall-worker` flags override
    them. The URLs' credentials (if any) come from the environment and are masked in every log line.
    """

    model_config = SettingsConfigDict(env_prefix="FOOTFALL_", env_ignore_empty=True, extra="ignore")

    cameras: str | None = Field(default=None, description="store config JSON holding the channel")
    channel: str | None = Field(default=None, description="channel id in the store config")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/test", description="libpq URL; empty = no record (dry run)"
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="live state and ReID; empty = none")
    http_host: str = Field(default="0.0.0.0", description="probe and metrics listen address")
    http_port: int = Field(default=8080, ge=0, le=65535, description="/healthz /readyz /metrics /status; 0 = any")
    journal_dir: str = Field(
        default="~/.cache/footfall/journal", description="where rows wait while PostgreSQL is down (per channel)"
    )
    journal_lock_wait_s: float = Field(
        default=45.0,
        ge=0,
        description="wait this long for another worker of the channel to release its journal, then exit 4; covers "
        "a replaced pod's grace period",
    )
    shutdown_deadline_s: float = Field(
        default=20.0, gt=0, description="SIGTERM to exit; match the pod's terminationGracePeriodSeconds"
    )
    liveness_timeout_s: float = Field(
        default=30.0, gt=0, description="a processing loop silent this long is wedged: liveness fails"
    )
    ready_frame_age_s: float = Field(default=5.0, gt=0, description="not ready when the newest frame is older")
    summary_interval_s: float = Field(default=30.0, gt=0, description="one summary log line per interval")
    live_interval_s: float = Field(default=0.5, ge=0, description="live state publish period")
    triton_retry_s: float = Field(default=1.0, ge=0, description="pause after a failed detection before the next")
    triton_check_s: float = Field(default=5.0, gt=0, description="Triton readiness re-check while idle or failing")
    gender: bool = Field(default=True, description="classify gender per track")
    reid: bool = Field(default=True, description="link new tracks to recently ended ones (needs Redis)")
    gender_settle_s: float = Field(
        default=3.0, ge=0, description="an ended track's final row waits this long for its gender results"
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Every settings group a worker uses (each read from its own `FOOTFALL_*` prefix by default)."""

    worker: WorkerSettings
    reader: ReaderSettings
    triton: TritonSettings
    tracker: TrackerSettings
    gender: GenderSettings
    storage: StorageSettings

    @classmethod
    def from_env(cls, **worker_overrides: object) -> "Settings":
        # A worker paces itself to processing by default: a frame is colour-converted and handed off only when
        # processing is ready for it, so latency stays bounded and no CPU goes into frames that would be
        # overwritten. FOOTFALL_READER_ON_DEMAND=false turns it off (then FOOTFALL_READER_ADAPTIVE_SKIP applies).
        reader_defaults = {} if "FOOTFALL_READER_ON_DEMAND" in os.environ else {"on_demand": True}
        return cls(
            WorkerSettings(**worker_overrides),  # type: ignore[arg-type]
            ReaderSettings(**reader_defaults),  # type: ignore[arg-type]
            TritonSettings(),
            TrackerSettings(),
            GenderSettings(),
            StorageSettings(),
        )
