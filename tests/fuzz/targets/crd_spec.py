"""Fuzz `footfall_operator.crd.parse_spec`: a CameraChannel spec as anyone with `kubectl apply` may write it.

Properties:
* only `SpecError` escapes (another exception would end the operator's handler, not mark the channel invalid);
  its problems are each one printable line naming a `spec...` field, and none shows a password planted in any
  string field;
* an accepted spec survives a round trip through its own JSON form, and yields the store config the worker
  validates again at start (what the operator accepts, the worker runs).
"""

import json
from typing import Any

import atheris

from tests.fuzz.targets._hostile import as_text, fuzz, pick
from tests.fuzz.targets._secrets import leaked, planted, strings
from tests.fuzz.targets._shapes import channel_spec

with atheris.instrument_imports(include=["footfall_operator.crd", "footfall_contract"]):
    from footfall_operator.crd import SpecError, parse_spec

# String fields a password may be pasted into by mistake (paths into the spec).
_PLANTABLE = (
    ("source", "host"),
    ("source", "path"),
    ("timezone",),
    ("displayName",),
    ("storeName",),
    ("description",),
    ("triton", "url"),
    ("credentialsSecretRef", "name"),
    ("resources", "requests", "cpu"),
    ("resources", "limits", "memory"),
)


def _plant(spec: dict[str, Any], where: tuple[str, ...], value: str) -> None:
    node = spec
    for key in where[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[where[-1]] = value


def _check(spec: Any, secret: str | None = None, elsewhere: str = "") -> None:
    try:
        parsed = parse_spec(spec)
    except SpecError as error:
        assert error.problems, "a SpecError names at least one problem"
        # one printable line each: they become a condition message and `kubectl describe` output
        assert all(problem.startswith("spec") and problem.isprintable() for problem in error.problems), error.problems
        if secret is not None:
            assert not leaked(secret, str(error), elsewhere), f"password {secret!r} shown in {error}"
        return
    again = parse_spec(parsed.model_dump(mode="json", by_alias=True))
    assert again == parsed, (again, parsed)
    store = parsed.store_config()
    assert store.channels[0].id == parsed.channel_id


def raw(data: bytes) -> None:
    """A spec as JSON text, as the apiserver stores it (what is not JSON never reaches the operator)."""
    try:
        spec = json.loads(as_text(data))
    except (ValueError, RecursionError):
        return
    _check(spec)


def drawn(fdp: atheris.FuzzedDataProvider) -> None:
    spec = channel_spec(fdp)
    if not (isinstance(spec, dict) and fdp.ConsumeBool()):
        _check(spec)
        return
    text, secret = planted(fdp)
    where = pick(fdp, _PLANTABLE)
    _plant(spec, where, "")
    elsewhere = strings(spec)
    _plant(spec, where, text)
    _check(spec, secret, elsewhere)


if __name__ == "__main__":
    fuzz(raw, drawn)
