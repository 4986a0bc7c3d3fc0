"""The operator's settings, from the environment (`FOOTFALL_OPERATOR_*`), built in `__main__` and passed down."""

from pydantic import Field, field_validator
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

    @property
    def namespace_list(self) -> list[str]:
        return [name.strip() for name in self.namespaces.split(",") if name.strip()]
