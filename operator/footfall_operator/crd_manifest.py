"""The CameraChannel CRD, generated from the spec model (`crd.py`): its structural openAPIV3Schema, the status
schema the operator writes, and the columns `kubectl get camch` prints.
"""

import copy
from typing import Any

from footfall_operator.crd import GROUP, KIND, PLURAL, SHORT_NAME, SINGULAR, VERSION, CameraChannelSpec
from footfall_operator.status import MAX_CONDITION_MESSAGE


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
            "state": {"type": "string", "maxLength": 64},
            "fps": number,
            "peopleNow": {"type": "integer", "nullable": True},
            "reconnects": {"type": "integer", "nullable": True},
            "entries": {"type": "integer", "nullable": True, "description": "people in over the lines, since start"},
            "exits": {"type": "integer", "nullable": True, "description": "people out over the lines, since start"},
            "zoneOccupancy": {
                "type": "object",
                "nullable": True,
                "maxProperties": 64,
                "additionalProperties": {"type": "integer"},
                "description": "people in each zone now",
            },
            "lastFrameTime": {"type": "string", "nullable": True, "maxLength": 64},
            "heartbeatTime": {"type": "string", "nullable": True, "maxLength": 64},
            "readTime": {"type": "string", "nullable": True, "maxLength": 64},
            "stale": {"type": "boolean"},
            "staleReason": {"type": "string", "maxLength": 1024},
        },
    }


def status_schema() -> dict[str, Any]:
    condition = {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string", "maxLength": 64},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string", "maxLength": 64},
            "message": {"type": "string", "maxLength": MAX_CONDITION_MESSAGE},
            "lastTransitionTime": {"type": "string", "format": "date-time", "maxLength": 64},
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
            "conditions": {"type": "array", "maxItems": 16, "items": condition},
            "deployment": {"type": "string", "maxLength": 253},
            "configHash": {"type": "string", "maxLength": 128},
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
