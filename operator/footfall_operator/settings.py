"""The operator's settings, from the environment (`FOOTFALL_OPERATOR_*`), built in `__main__` and passed down."""

import os
import socket

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from footfall_operator.quantity import quantity_bytes


class WorkerDefaults(BaseSettings):
    """What every worker Deployment gets unless its CameraChannel says otherwise."""

    model_config = SettingsConfigDict(env_prefix="FOOTFALL_WORKER_", env_ignore_empty=True, extra="ignore")

    image: str = Field(default="footfall:0.1.0", description="the worker image (entry point footfall-worker)")
    image_pull_policy: str = Field(default="IfNotPresent", pattern=r"^(Always|IfNotPresent|Never)$")
    image_pull_secrets: str = Field(default="", description="comma list of Secret names for a private registry")
    triton_url: str = Field(default="triton:8001", description="the shared Triton server's gRPC host:port")
    connection_secret: str = Field(
        default="footfall-connections",
        description="Secret with FOOTFALL_DATABASE_URL and FOOTFALL_REDIS_URL, given to workers as env; '' = none",
    )
    cpu_request: str = "250m"
    memory_request: str = "384Mi"
    cpu_limit: str = Field(default="", description="'' = no CPU limit (throttling a decoder only adds latency)")
    memory_limit: str = "1536Mi"
    http_port: int = Field(default=8080, ge=1, le=65535, description="the worker's probe and metrics port")
    shutdown_deadline_s: int = Field(default=20, ge=1, description="the worker's own SIGTERM deadline")
    journal_size_limit: str = Field(default="1Gi", description="the journal's size (rows waiting for PostgreSQL)")
    journal_persistence: bool = Field(
        default=True, description="journal on a PersistentVolumeClaim per channel (survives the pod); else emptyDir"
    )
    journal_storage_class: str = Field(default="", description="the journal claims' StorageClass; '' = the default")
    run_as_user: int = Field(default=10001, ge=1, description="the image's non-root uid")
    fs_group: int = Field(default=10001, ge=1, description="group owning the journal volume (the image's gid)")
    service_account: str = Field(default="", description="'' = the namespace default; workers need no API access")

    @field_validator("journal_size_limit")
    @classmethod
    def _a_storage_quantity(cls, value: str) -> str:
        quantity_bytes(value)  # the journal's cap is computed from it: fail at start, naming the value
        return value

    @property
    def pull_secret_names(self) -> list[str]:
        return [name.strip() for name in self.image_pull_secrets.split(",") if name.strip()]


class OperatorSettings(BaseSettings):
    """The operator process: what it watches, where live state is, how often status is refreshed."""

    model_config = SettingsConfigDict(env_prefix="FOOTFALL_OPERATOR_", env_ignore_empty=True, extra="ignore")

    namespaces: str = Field(default="", description="comma list of namespaces to watch; '' = all (cluster-wide)")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="the workers' live state; '' = none")
    status_interval_s: float = Field(default=10.0, gt=0, description="live status refresh and reconcile period")
    live_stale_after_s: float = Field(
        default=15.0, gt=0, description="a worker heartbeat older than this is stale (not Ready)"
    )
    redis_timeout_s: float = Field(default=1.0, gt=0, description="socket timeout of one Redis read")
    liveness_port: int = Field(default=8081, ge=0, le=65535, description="/healthz and /readyz; 0 = off")
    api_check_interval_s: float = Field(
        default=5.0, gt=0, description="how often the probes check the API server; not ready after 3 misses"
    )
    api_unreachable_restart_s: float = Field(
        default=120.0, gt=0, description="liveness fails once the API server has been unreachable this long"
    )
    log_format: str = Field(default="json", pattern=r"^(json|plain)$")
    status_writes_per_s: float = Field(
        default=20.0, gt=0, description="the refresher's CameraChannel status writes per second, at most"
    )
    status_write_burst: int = Field(default=50, ge=1, description="writes allowed at once before the rate applies")
    leader_election_namespace: str = Field(
        default="", description="the Lease's namespace; '' = no leader election (run one replica only)"
    )
    leader_election_lease: str = Field(default="footfall-operator", description="the Lease's name")
    pod_name: str = Field(default="", description="this replica's identity in the Lease; '' = host name and pid")
    lease_duration_s: float = Field(default=15.0, gt=0, description="a Lease not renewed this long is free")
    renew_deadline_s: float = Field(default=10.0, gt=0, description="a leader not renewed this long exits")
    retry_period_s: float = Field(default=2.0, gt=0, description="between renewals, and a standby's attempts")

    @model_validator(mode="after")
    def _lease_timings_ordered(self) -> "OperatorSettings":
        # client-go's rule: a deposed leader must have given up (renew deadline) before the Lease expires for others
        if not self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise ValueError(
                "expected retry_period_s < renew_deadline_s < lease_duration_s, got "
                f"{self.retry_period_s} / {self.renew_deadline_s} / {self.lease_duration_s}"
            )
        return self

    @property
    def identity(self) -> str:
        return self.pod_name or f"{socket.gethostname()}_{os.getpid()}"

    @property
    def namespace_list(self) -> list[str]:
        return [name.strip() for name in self.namespaces.split(",") if name.strip()]
