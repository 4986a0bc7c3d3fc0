"""Runtime settings of the worker, from the environment (`FOOTFALL_*`) via pydantic-settings.

Built in `__main__`/the CLI and passed down: no module-level singleton.
"""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    gender_model: str = "gender_classifier"
    crop_height: int = Field(default=256, ge=32, description="canvas a person crop is fitted into for gender")
    crop_width: int = Field(default=128, ge=32)


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
    backoff_initial_s: float = Field(default=5.0, ge=0)
    backoff_factor: float = Field(default=2.0, ge=1)
    backoff_max_s: float = Field(default=60.0, ge=0)
    backoff_jitter: float = Field(default=0.1, ge=0, lt=1, description="+/- fraction of each delay")
    stable_after_s: float = Field(default=30.0, ge=0, description="streaming this long resets the backoff")
    replay_realtime: bool = Field(default=True, description="files: pace frames at the file's rate, like a camera")
    replay_loop: bool = Field(default=False, description="files: start over at the end")
    replay_exhaustive: bool = Field(
        default=False, description="files: wait for processing instead of dropping (every frame is processed)"
    )
