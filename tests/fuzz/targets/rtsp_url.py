"""Fuzz the RTSP URL on both sides: the contract builds it (`CameraSource.url` -> `RtspUrl`), the worker's
probe parses it (`rtsp_probe._parse_url`, the only parser of a URL that holds the password).

Properties:
* a camera login that `credential_defect` accepts always makes a URL; the URL prints masked (`str`, `repr`,
  f-strings never show the password) and the probe reads back exactly that host, port, user and password, with a
  request line that carries no userinfo;
* any string given to the probe's parser raises nothing but ValueError, with one of its fixed messages (never
  the URL, which may hold the password), or parses to a host, a port in range, and a request URL with no
  userinfo and no line break (it goes on the wire as the request line).
"""

from urllib.parse import quote

import atheris

from tests.fuzz.targets._hostile import as_text, fuzz, pick, text
from tests.fuzz.targets._secrets import leaked

with atheris.instrument_imports(
    include=["footfall_contract.config", "footfall_worker.ingest.rtsp_probe", "footfall_worker.ingest.rtsp_auth"]
):
    from footfall_contract.config import CameraCredentials, CameraSource, RtspUrl, mask_credentials
    from footfall_contract.config.credentials import credential_defect
    from footfall_worker.ingest.rtsp_probe import _parse_url

_PARSE_ERRORS = frozenset(
    {
        "invalid rtsp:// URL (unparseable host or port)",
        "not an rtsp:// URL",
        "rtsp:// URL has no host",
        "rtsp:// URL credentials contain control characters",
    }
)
_HOSTS = ("10.0.0.1", "cam-1.store.local", "CAM.Local", "::1", "fe80::1%eth0", "2001:db8::7")
_PATHS = ("/cam/realmonitor?channel=1&subtype=0", "/live", "/x?a=1&b=2", "/%40at", "/ünïcode")


def _built(fdp: atheris.FuzzedDataProvider) -> None:
    username, password = text(fdp, 32), text(fdp, 32)
    if credential_defect(username) is not None or credential_defect(password) is not None:
        return  # the worker refuses such a login before it builds a URL (a ConfigError naming the variable)
    host = pick(fdp, _HOSTS)
    if fdp.ConsumeBool():
        source = CameraSource(host=host, port=fdp.ConsumeIntInRange(1, 65535), path=pick(fdp, _PATHS))
    else:
        source = CameraSource(host=host, port=fdp.ConsumeIntInRange(1, 65535), channel=fdp.ConsumeIntInRange(1, 256))
    url = source.url(CameraCredentials(username=username, password=password))
    masked = source.url().reveal().replace("rtsp://", "rtsp://***@", 1)  # what the masked URL should read
    elsewhere = f"{masked}\x00{RtspUrl(masked)!r}"
    for shown in (str(url), repr(url), f"{url}", url.masked):
        for secret in {password, quote(password, safe="")}:
            if len(secret) >= 3:  # a one- or two-character password also stands in any URL by chance
                assert not leaked(secret, shown, elsewhere), f"password {password!r} shown in {shown!r}"
    target = _parse_url(url.reveal())
    assert (target.user, target.password) == (username, password), (target, username, password)
    assert target.host == host.lower() and target.port == source.port, (target, host)
    assert (
        target.request_url == f"rtsp://{'[' + host + ']' if ':' in host else host}:{source.port}{source.path_and_query}"
    )


def _parsed(url: str) -> None:
    assert str(RtspUrl(url)) == mask_credentials(url)
    try:
        target = _parse_url(url)
    except ValueError as error:
        assert str(error) in _PARSE_ERRORS, f"an error that may quote the URL: {error}"
        return
    assert target.host and 0 <= target.port <= 65535, target
    assert target.request_url.lower().startswith("rtsp://"), target
    authority = target.request_url[len("rtsp://") :].split("/", 1)[0].split("?", 1)[0]
    assert "@" not in authority, target
    assert "\r" not in target.request_url and "\n" not in target.request_url, target
    for credential in (target.user, target.password):
        assert credential is None or all(ord(c) >= 32 and ord(c) != 127 for c in credential), target
    assert (target.user is None) == (target.password is None), target


def raw(data: bytes) -> None:
    _parsed(as_text(data))


def drawn(fdp: atheris.FuzzedDataProvider) -> None:
    if fdp.ConsumeBool():
        _built(fdp)
    else:
        url = text(fdp, 128)
        _parsed(pick(fdp, ["", "rtsp://", "RTSP://", "rtsp://u:p@", "rtsp://[", "rtsp://h:"]) + url)


if __name__ == "__main__":
    fuzz(raw, drawn)
