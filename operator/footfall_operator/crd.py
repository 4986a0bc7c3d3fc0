"""The CameraChannel custom resource: its identity, its spec model, and the CRD generated from that model.

The pydantic spec model is the one definition of a valid spec. The CRD's openAPIV3Schema is generated from it
(`crd_manifest`), so the apiserver rejects wrong types, ranges and enums at `kubectl apply`, and the operator
validates the rest (host names, cross-field rules, unknown fields, Secrets, claims) with the same model and
reports it as an `InvalidSpec` condition naming the field.
"""

import copy
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from footfall_contract.config import CameraSource, ChannelConfig, CredentialsRef, StoreConfig
from footfall_contract.config.cameras import IDENTIFIER_PATTERN, format_validation_error, known_timezone
from footfall_contract.config.geometry import AnalyticsConfig

GROUP = "footfall.io"
VERSION = "v1alpha1"
PLURAL = "camerachannels"
SINGULAR = "camerachannel"
KIND = "CameraChannel"
SHORT_NAME = "camch"
API_VERSION = f"{GROUP}/{VERSION}"

# The environment variables the worker reads the camera login from; the Deployment fills them from the Secret.
CAMERA_USERNAME_ENV = "FOOTFALL_CAMERA_USERNAME"
CAMERA_PASSWORD_ENV = "FOOTFALL_CAMERA_PASSWORD"

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

    requests: dict[str, str] | None = Field(default=None, description="e.g. {cpu: 500m, memory: 512Mi}")
    limits: dict[str, str] | None = Field(default=None, description="e.g. {memory: 1Gi}")

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
    store_name: str | None = Field(default=None, min_length=1, max_length=128, description="the store's display name")
    timezone: str = Field(default="UTC", max_length=64, description="the store's IANA time zone (per-minute stats)")
    channel_id: str = Field(max_length=63, pattern=IDENTIFIER_PATTERN, description="unique within the store")
    display_name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1024)
    source: CameraSource
    credentials_secret_ref: CredentialsSecretRef | None = None
    processing: Processing = Field(default_factory=Processing)
    resources: ComputeResources | None = None
    triton: TritonEndpoint | None = None
    paused: bool = Field(default=False, description="keep the channel but run no worker (0 replicas)")
    analytics: AnalyticsConfig | None = Field(
        default=None, description="counting lines (with an in side) and zones, in coordinates relative to the frame"
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        # The worker's store config rejects an unknown zone at start; catching it here keeps the pod out of a
        # crash loop on a spec the operator accepted.
        return known_timezone(timezone)

    def channel_config(self) -> ChannelConfig:
        credentials = (
            CredentialsRef(username_env=CAMERA_USERNAME_ENV, password_env=CAMERA_PASSWORD_ENV)
            if self.credentials_secret_ref
            else None
        )
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


# ---------------------------------------------------------------------------------------------------------------
# The CRD, generated from the spec model


def _structural(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """Turn one pydantic JSON-schema node into a Kubernetes structural schema node.

    Kubernetes wants every node typed, no `$ref`, no `null` type (`nullable: true` instead), no `title`, and
    objects either with `properties` or with `additionalProperties`, never with `additionalProperties: false`.
    """
    if "$ref" in schema:
        target = definitions[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return _structural(merged, definitions)
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express {schema} as a structural schema")
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        node = _structural({**options[0], **rest}, definitions)
        node["nullable"] = True
        return node
    node: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("title", "additionalProperties", "required", "properties", "items", "const"):
            continue
        if key == "default" and value in (None, ""):
            # v1.20 reads an empty-string default as null and rejects the CRD; the operator applies it anyway.
            continue
        node[key] = copy.deepcopy(value)
    # JSON Schema 2020 writes `exclusiveMinimum: 0`; OpenAPI 3.0 (what Kubernetes speaks) a bound plus a flag.
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(exclusive), int | float) and not isinstance(node[exclusive], bool):
            node[bound] = node.pop(exclusive)
            node[exclusive] = True
    if "const" in schema:
        node["enum"] = [schema["const"]]
    if "enum" in node and "type" not in node:
        node["type"] = "integer" if all(isinstance(v, int) for v in node["enum"]) else "string"
    if schema.get("type") == "object" or "properties" in schema:
        node["type"] = "object"
        if "properties" in schema:
            node["properties"] = {name: _structural(child, definitions) for name, child in schema["properties"].items()}
            if schema.get("required"):
                node["required"] = list(schema["required"])
            # Unknown fields are kept so the operator can name them in InvalidSpec instead of the apiserver
            # pruning a misspelt field without a word (v1.20 has no server-side field validation).
            node["x-kubernetes-preserve-unknown-fields"] = True
        elif isinstance(schema.get("additionalProperties"), dict):
            node["additionalProperties"] = _structural(schema["additionalProperties"], definitions)
    if "items" in schema:
        node["items"] = _structural(schema["items"], definitions)
    return node


def spec_schema() -> dict[str, Any]:
    """The openAPIV3Schema of `spec`, generated from `CameraChannelSpec` (aliases, i.e. camelCase)."""
    generated = CameraChannelSpec.model_json_schema(by_alias=True, mode="validation")
    definitions = generated.pop("$defs", {})
    return _structural(generated, definitions)


def _live_status_schema() -> dict[str, Any]:
    number = {"type": "number", "nullable": True}
    return {
        "type": "object",
        "properties": {
            "state": {"type": "string"},
            "fps": number,
            "peopleNow": {"type": "integer", "nullable": True},
            "reconnects": {"type": "integer", "nullable": True},
            "entries": {"type": "integer", "nullable": True, "description": "people in over the lines, since start"},
            "exits": {"type": "integer", "nullable": True, "description": "people out over the lines, since start"},
            "zoneOccupancy": {
                "type": "object",
                "nullable": True,
                "additionalProperties": {"type": "integer"},
                "description": "people in each zone now",
            },
            "lastFrameTime": {"type": "string", "nullable": True},
            "heartbeatTime": {"type": "string", "nullable": True},
            "readTime": {"type": "string", "nullable": True},
            "stale": {"type": "boolean"},
            "staleReason": {"type": "string"},
        },
    }


def status_schema() -> dict[str, Any]:
    condition = {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "observedGeneration": {"type": "integer"},
        },
    }
    return {
        "type": "object",
        # kopf keeps its own bookkeeping under status (handler progress); let it.
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "observedGeneration": {"type": "integer"},
            "phase": {"type": "string", "enum": ["Pending", "Running", "Degraded", "Invalid", "Paused"]},
            "conditions": {"type": "array", "items": condition},
            "deployment": {"type": "string"},
            "configHash": {"type": "string"},
            "live": _live_status_schema(),
        },
    }


PRINTER_COLUMNS = [
    {"name": "Store", "type": "string", "jsonPath": ".spec.store", "priority": 1},
    {"name": "Channel", "type": "string", "jsonPath": ".spec.channelId", "priority": 1},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "FPS", "type": "number", "jsonPath": ".status.live.fps"},
    {"name": "People", "type": "integer", "jsonPath": ".status.live.peopleNow"},
    {"name": "In", "type": "integer", "jsonPath": ".status.live.entries"},
    {"name": "Out", "type": "integer", "jsonPath": ".status.live.exits"},
    {"name": "Reconnects", "type": "integer", "jsonPath": ".status.live.reconnects"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def crd_manifest() -> dict[str, Any]:
    """The CustomResourceDefinition `camerachannels.footfall.io` (apiextensions.k8s.io/v1)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": PLURAL,
                "singular": SINGULAR,
                "kind": KIND,
                "shortNames": [SHORT_NAME],
                "categories": ["footfall"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A store camera channel: Footfall runs one worker for it.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }
