"""The CameraChannel custom resource: its identity and its spec model.

The pydantic spec model is the one definition of a valid spec. The CRD's openAPIV3Schema is generated from it
(`crd_manifest.py`), so the apiserver rejects wrong types, ranges and enums at `kubectl apply`, and the operator
validates the rest (host names, cross-field rules, unknown fields, Secrets, claims) with the same model and
reports it as an `InvalidSpec` condition naming the field.
"""

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from footfall_contract.config import CameraSource, ChannelConfig, CredentialsRef, StoreConfig
from footfall_contract.config.cameras import IDENTIFIER_PATTERN, format_validation_error, known_timezone
from footfall_contract.config.geometry import AnalyticsConfig
from footfall_contract.config.store_hours import OpeningHours
from footfall_contract.config.text import Description, DisplayName

GROUP = "footfall.io"
VERSION = "v1alpha1"
PLURAL = "camerachannels"
SINGULAR = "camerachannel"
KIND = "CameraChannel"
SHORT_NAME = "camch"
API_VERSION = f"{GROUP}/{VERSION}"

# Where the worker reads the camera login: the channel's Secret as files (`username`, `password`), which the
# kubelet rewrites when the Secret changes; the worker reads them at every connect, so rotation needs no restart.
CAMERA_CREDENTIALS_MOUNT = "/var/run/secrets/footfall/camera"

# A Kubernetes object name (DNS-1123 subdomain) and a Secret data key.
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
# A resource quantity as Kubernetes writes them: 500m, 1, 1.5, 512Mi, 2Gi, 1e3.
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]+)?$"
_HOST_PORT = r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]{1,5}$"
DETECTOR_INPUT_SIZES = (320, 384, 416, 640)


class _SpecModel(BaseModel):
    """camelCase in the manifest, snake_case in Python; unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class CredentialsSecretRef(_SpecModel):
    """The Secret (in the CameraChannel's namespace) holding the camera login, and its two keys."""

    name: str = Field(max_length=253, pattern=_DNS_SUBDOMAIN, description="Secret name, same namespace")
    username_key: str = Field(default="username", max_length=253, pattern=_SECRET_KEY)
    password_key: str = Field(default="password", max_length=253, pattern=_SECRET_KEY)


class Processing(_SpecModel):
    """How much of the stream the worker processes."""

    every_n_frames: int = Field(default=1, ge=1, le=30, description="hand every N-th decoded frame to processing")
    adaptive: bool = Field(
        default=False, description="raise N while processing falls behind and lower it after (instead of on-demand)"
    )
    detector_input_size: Literal[320, 384, 416, 640] | None = Field(
        default=None, description="detector input side in pixels; unset = the Triton model's default (416)"
    )


class ComputeResources(_SpecModel):
    """The worker container's resources; unset fields take the operator's defaults."""

    requests: dict[str, Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=8, description="e.g. {cpu: 500m, memory: 512Mi}"
    )
    limits: dict[str, Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=8, description="e.g. {memory: 1Gi}"
    )

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, values: dict[str, str] | None) -> dict[str, str] | None:
        for resource, quantity in (values or {}).items():
            if not re.match(r"^[a-z0-9]([-a-z0-9./]*[a-z0-9])?$", resource):
                raise ValueError(f"expected a resource name such as 'cpu' or 'memory', got {resource!r}")
            if not isinstance(quantity, str) or not re.match(_QUANTITY, quantity):
                raise ValueError(f"{resource}: expected a quantity such as '500m' or '512Mi', got {quantity!r}")
        return values


class TritonEndpoint(_SpecModel):
    """A Triton server for this channel instead of the operator's shared one."""

    url: str = Field(pattern=_HOST_PORT, max_length=260, description="gRPC endpoint host:port, e.g. triton-gpu:8001")


class CameraChannelSpec(_SpecModel):
    """One camera channel of a store, as a CameraChannel's `spec`. Never holds credentials: only a Secret ref."""

    store: str = Field(max_length=63, pattern=IDENTIFIER_PATTERN, description="store id, e.g. kidsplaza_thanhxuan")
    store_name: DisplayName | None = Field(default=None, description="the store's display name")
    timezone: str = Field(
        default="UTC", max_length=64, description="the store's IANA time zone: reports count in its local hours"
    )
    opening_hours: OpeningHours | None = Field(
        default=None, description="when the store opens and closes (HH:MM); live store occupancy resets at closing"
    )
    channel_id: str = Field(max_length=63, pattern=IDENTIFIER_PATTERN, description="unique within the store")
    display_name: DisplayName = Field(description="a name for people: printable, one line")
    description: Description = Field(default="", description="printable text; newlines and tabs allowed")
    source: CameraSource
    credentials_secret_ref: CredentialsSecretRef | None = None
    processing: Processing = Field(default_factory=Processing)
    resources: ComputeResources | None = None
    triton: TritonEndpoint | None = None
    paused: bool = Field(default=False, description="keep the channel but run no worker (0 replicas)")
    analytics: AnalyticsConfig | None = Field(
        default=None,
        description="counting lines (with an in side), zones and exclusion masks, in coordinates relative to the frame",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        # The worker's store config rejects an unknown zone at start; catching it here keeps the pod out of a
        # crash loop on a spec the operator accepted.
        return known_timezone(timezone)

    def channel_config(self) -> ChannelConfig:
        credentials = CredentialsRef(directory=CAMERA_CREDENTIALS_MOUNT) if self.credentials_secret_ref else None
        return ChannelConfig(
            id=self.channel_id,
            name=self.display_name,
            description=self.description,
            source=self.source,
            credentials=credentials,
            analytics=self.analytics,
        )

    def store_config(self) -> StoreConfig:
        """The one-channel store config the worker reads (what the ConfigMap holds)."""
        return StoreConfig(
            store_id=self.store,
            store_name=self.store_name or self.store,
            timezone=self.timezone,
            opening_hours=self.opening_hours,
            channels=[self.channel_config()],
        )


class SpecError(ValueError):
    """A spec the operator cannot run; `problems` are `spec.field: what was expected` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_spec(spec: Any) -> CameraChannelSpec:
    """Validate a CameraChannel's spec.

    Raises:
        SpecError: one problem per invalid field, each naming it (`spec.source.port: ...`); values are masked.
    """
    try:
        return CameraChannelSpec.model_validate(spec if spec is not None else {})
    except ValidationError as error:
        lines = format_validation_error(error, origin="spec").splitlines()
        raise SpecError([_readable(line) for line in lines]) from None


def _readable(line: str) -> str:
    line = line.replace("spec: (top level)", "spec").replace("spec: ", "spec.", 1)
    return line.replace("Extra inputs are not permitted", "unknown field (not in the CameraChannel schema)").replace(
        "Field required", "required field is missing"
    )
