"""crd: the spec model's validation messages, and the CRD schema generated from the model agreeing with it."""

from typing import Any

import pytest
from pydantic import BaseModel

from footfall_operator.crd import CameraChannelSpec, SpecError, parse_spec
from footfall_operator.crd_manifest import crd_manifest, spec_schema

VALID = {
    "store": "kidsplaza_thanhxuan",
    "channelId": "channel_1",
    "displayName": "ben_ngoai_cam_phai",
    "source": {"host": "cam.store.local", "channel": 1},
}


def with_(path: str, value: Any) -> dict[str, Any]:
    spec = {key: (dict(value_) if isinstance(value_, dict) else value_) for key, value_ in VALID.items()}
    *parents, leaf = path.split(".")
    node = spec
    for parent in parents:
        node = node.setdefault(parent, {})
    node[leaf] = value
    return spec


def test_a_minimal_spec_takes_the_documented_defaults():
    spec = parse_spec(VALID)
    assert spec.source.port == 554 and spec.source.subtype == 0
    assert spec.timezone == "UTC" and spec.paused is False
    assert spec.processing.every_n_frames == 1 and spec.processing.detector_input_size is None
    assert spec.store_config().store_name == "kidsplaza_thanhxuan"


@pytest.mark.parametrize(
    ("spec", "field", "expected"),
    [
        (with_("source.port", 70000), "spec.source.port", "less than or equal to 65535"),
        (with_("source.port", 0), "spec.source.port", "greater than or equal to 1"),
        (with_("sourse", {"host": "x"}), "spec.sourse", "unknown field"),
        (with_("source.colour", "red"), "spec.source.colour", "unknown field"),
        (with_("source.path", "no-slash"), "spec.source.path", "absolute RTSP path"),
        (with_("source.path", "/live"), "spec.source", "exactly one of 'channel'"),
        (with_("source.host", "admin:hunter2@10.0.0.1"), "spec.source.host", "bare host name"),
        (with_("channelId", "Channel 1"), "spec.channelId", "pattern"),
        (with_("timezone", "Mars/Olympus"), "spec.timezone", "IANA time zone"),
        (with_("processing.everyNFrames", 0), "spec.processing.everyNFrames", "greater than or equal to 1"),
        (with_("processing.detectorInputSize", 500), "spec.processing.detectorInputSize", "320, 384, 416 or 640"),
        (with_("credentialsSecretRef", {"name": "Bad_Name"}), "spec.credentialsSecretRef.name", "pattern"),
        (with_("resources", {"limits": {"memory": "lots"}}), "spec.resources.limits", "quantity"),
        (with_("triton", {"url": "http://triton:8001"}), "spec.triton.url", "pattern"),
        ({k: v for k, v in VALID.items() if k != "store"}, "spec.store", "required field is missing"),
        (
            with_(
                "analytics",
                {"zones": [{"id": "q", "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}]},
            ),
            "spec.analytics.zones[0]",
            "not on one line",
        ),
        (
            with_("analytics", {"lines": [{"id": "door", "points": [[0.1, 0.5]]}]}),
            "spec.analytics.lines[0].points",
            "at least 2",
        ),
        (
            with_("analytics", {"exclusionMasks": [{"id": "pole", "polygon": [[0.5, 0], [0.5, 0.5], [0.5, 1]]}]}),
            "spec.analytics.exclusionMasks[0]",
            "exclusion mask 'pole': expected at least three corners that are not on one line",
        ),
    ],
)
def test_invalid_specs_name_the_field_and_what_was_expected(spec: dict, field: str, expected: str):
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    matching = [problem for problem in caught.value.problems if problem.startswith(f"{field}:")]
    assert matching, caught.value.problems
    assert expected in matching[0]


def test_credentials_typed_into_a_field_never_reach_the_message():
    with pytest.raises(SpecError) as caught:
        parse_spec(with_("source.host", "admin:hunter2@10.0.0.1"))
    assert "hunter2" not in str(caught.value)


def _walk(node: dict[str, Any], path: str = "spec"):
    yield path, node
    for name, child in (node.get("properties") or {}).items():
        yield from _walk(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}.*")
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], f"{path}[]")


def test_the_generated_schema_is_structural():
    for path, node in _walk(spec_schema()):
        assert "type" in node, path
        assert node["type"] != "null" and not ({"$ref", "anyOf", "oneOf", "allOf", "title"} & node.keys()), path
        assert not ("properties" in node and "additionalProperties" in node), path
        for flag in ("exclusiveMinimum", "exclusiveMaximum"):  # OpenAPI 3.0: a flag beside minimum/maximum
            assert flag not in node or node[flag] is True, path


def _model_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _assert_agrees(model: type[BaseModel], schema: dict[str, Any], path: str) -> None:
    fields = _model_fields(model)
    assert set(schema["properties"]) == set(fields), path
    required = {alias for alias, field in fields.items() if field.is_required()}
    assert set(schema.get("required", [])) == required, path
    for alias, field in fields.items():
        node = schema["properties"][alias]
        if not field.is_required() and field.default is None:
            assert node.get("nullable") is True, f"{path}.{alias}"
        nested = _nested_model(field.annotation)
        if nested is not None:
            _assert_agrees(nested, node.get("items", node), f"{path}.{alias}")


def test_the_schema_has_every_field_of_the_model_with_the_same_required_set():
    _assert_agrees(CameraChannelSpec, spec_schema(), "spec")


def test_the_crd_serves_status_printer_columns_and_a_short_name():
    crd = crd_manifest()
    assert crd["metadata"]["name"] == "camerachannels.footfall.io"
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    columns = [column["name"] for column in version["additionalPrinterColumns"]]
    assert {"Phase", "FPS", "People", "Reconnects", "Age"} <= set(columns)
    assert crd["spec"]["names"]["shortNames"] == ["camch"]
    assert crd["spec"]["scope"] == "Namespaced"


def test_every_string_array_and_map_in_the_schema_is_bounded():
    """The apiserver rejects an oversize CameraChannel before the operator sees it (apiVersion and kind are the
    apiserver's own to check)."""
    unbounded = []

    def walk(node: dict, path: str) -> None:
        kind = node.get("type")
        if kind == "string" and "maxLength" not in node and "enum" not in node and path not in (".apiVersion", ".kind"):
            unbounded.append(path)
        if kind == "array" and "maxItems" not in node:
            unbounded.append(path)
        if kind == "object" and isinstance(node.get("additionalProperties"), dict) and "maxProperties" not in node:
            unbounded.append(path)
        for name, child in (node.get("properties") or {}).items():
            walk(child, f"{path}.{name}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                walk(node[key], f"{path}[]")

    walk(crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"], "")
    assert unbounded == []
