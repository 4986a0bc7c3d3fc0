"""Fuzz the store config file end to end: `load_store_config` (what the worker reads at start) and `footfall
import-config` (which turns the same file into CameraChannel manifests and the Secret with the camera login).

Properties:
* `load_store_config` raises nothing but `ConfigError`, whatever the file holds: bytes that are not UTF-8, JSON
  nested past the recursion limit, numbers past int()'s digit limit, hostile strings, wrong types;
* `footfall import-config` exits 0 or 2 and never raises; on 2 its message never shows the camera password
  from the environment (nor a password planted in the config); on 0 its YAML reads back as manifests whose
  specs the operator accepts, and the Secret, when there is one, holds exactly the login of the environment.
"""

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import atheris
import yaml

from tests.fuzz.targets._hostile import fuzz, pick, text
from tests.fuzz.targets._secrets import leaked, password, planted, strings
from tests.fuzz.targets._shapes import store_config

with atheris.instrument_imports(include=["footfall_contract.config", "footfall_operator"]):
    from footfall_contract.config import ConfigError, load_store_config
    from footfall_operator.crd import KIND, parse_spec
    from footfall_operator.import_config_command import main as import_config

# Under $TMPDIR, which test_fuzz.py points at the test's own temporary directory.
_CONFIG = Path(tempfile.mkdtemp(prefix="footfall-fuzz-store-")) / "store.json"
_ENV_NAMES = ("CAM_USER", "CAM_PASSWORD", "FOOTFALL_CAMERA_USERNAME", "FOOTFALL_CAMERA_PASSWORD")
_OPTIONS = (
    (),
    ("--no-secret",),
    ("--namespace", "footfall"),
    ("--namespace", "Bad_Namespace"),
    ("--secret-name", "store-camera-credentials"),
    ("--secret-name", "a." * 130),
    ("--camera-host", "192.0.2.10"),
    ("--camera-host", "admin:hunter2@192.0.2.10"),
    ("--camera-host", "::1"),
)


def _check(
    document: bytes, environ: dict[str, str], options: tuple[str, ...], secret: str | None, elsewhere: str
) -> None:
    _CONFIG.write_bytes(document)
    try:
        load_store_config(_CONFIG)
    except ConfigError as error:
        if secret is not None:
            assert not leaked(secret, str(error), elsewhere), f"password {secret!r} shown in {error}"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = import_config([str(_CONFIG), *options], environ=environ, stdout=stdout, stderr=stderr)
    assert code in (0, 2), code
    if code == 2:
        message = stderr.getvalue()
        for value in (environ.get("CAM_PASSWORD"), environ.get("FOOTFALL_CAMERA_PASSWORD"), secret):
            if value and len(value) >= 3:
                assert not leaked(value, message, elsewhere), f"password {value!r} shown in {message!r}"
        return
    manifests = list(yaml.safe_load_all(stdout.getvalue()))
    for manifest in manifests:
        if manifest["kind"] == KIND:
            parse_spec(manifest["spec"])
        else:
            assert "--no-secret" not in options, "a Secret was written although --no-secret"
            data = manifest["stringData"]
            assert data["password"] in (environ.get("CAM_PASSWORD"), environ.get("FOOTFALL_CAMERA_PASSWORD"))


def raw(data: bytes) -> None:
    """A store config file's bytes as they are, imported with a login in the environment."""
    environ = {name: f"Zq7-{name.lower()}" for name in _ENV_NAMES}
    _check(data, environ, (), None, "")


def _document(fdp: atheris.FuzzedDataProvider, config: Any) -> bytes:
    """The config as a file: JSON as written by hand or by a tool, now and then in another encoding or wrapped
    in nesting deeper than Python recurses."""
    try:
        body = json.dumps(config, ensure_ascii=fdp.ConsumeBool(), indent=pick(fdp, [None, 2]))
    except ValueError:  # an int past the digit limit: such a file is written as digits
        body = "{" + '"store_id": ' + "7" * 5000 + "}"
    mode = fdp.ConsumeIntInRange(0, 7)
    if mode == 0:
        return body.encode("utf-16", "surrogatepass")
    if mode == 1:
        body = "[" * fdp.ConsumeIntInRange(900, 100_000) + body
    if mode == 2:
        return b"\xef\xbb\xbf" + body.encode("utf-8", "surrogatepass")  # a BOM, as some editors write
    return body.encode("utf-8", "surrogatepass")


def drawn(fdp: atheris.FuzzedDataProvider) -> None:
    config = store_config(fdp)
    secret, elsewhere = None, ""
    if fdp.ConsumeBool():
        # a password pasted into the config (a host field, a path): never echoed back
        text_with_secret, secret = planted(fdp)
        elsewhere = strings(config)
        channels = config.get("channels")
        target = channels[0] if isinstance(channels, list) and channels and isinstance(channels[0], dict) else config
        target[pick(fdp, ["store_name", "timezone", "name", "id"])] = text_with_secret
        if isinstance(target.get("source"), dict):
            target["source"]["host"] = text_with_secret
    environ = {name: password(fdp, in_query=False) if "PASSWORD" in name else text(fdp, 16) for name in _ENV_NAMES}
    options = pick(fdp, _OPTIONS)
    _check(_document(fdp, config), environ, options, secret, elsewhere)


if __name__ == "__main__":
    fuzz(raw, drawn)
