"""RTSP authentication for the probe: the camera's WWW-Authenticate challenges read, and our answer to them
(RFC 2617 Digest, which never sends the password, before Basic)."""

import base64
import hashlib
import os
import re

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_AUTH_PARAM = re.compile(rf'[\s,]*(?P<key>{_TOKEN})\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s,]*)')
_AUTH_SCHEME = re.compile(rf"[\s,]*(?P<scheme>{_TOKEN})(?=[\s,]|$)")

Challenge = tuple[str, dict[str, str]]  # (lower-cased scheme, params)


def parse_challenges(values: list[str]) -> list[Challenge]:
    """WWW-Authenticate values -> [(scheme, params)]; one value may hold several comma-separated challenges."""
    challenges: list[Challenge] = []
    for value in values:
        position = 0
        params: dict[str, str] | None = None
        while position < len(value):
            param = _AUTH_PARAM.match(value, position)
            if param is not None and params is not None:
                raw = param.group("value")
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[param.group("key").lower()] = raw
                position = param.end()
                continue
            scheme = _AUTH_SCHEME.match(value, position)
            if scheme is None:
                break  # garbage: keep what parsed so far
            params = {}
            challenges.append((scheme.group("scheme").lower(), params))
            position = scheme.end()
    return challenges


def offered_schemes(challenges: list[Challenge]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(scheme for scheme, _ in challenges))


def authorization(challenges: list[Challenge], user: str, password: str, uri: str) -> tuple[str, str] | None:
    """(Authorization header value, scheme used) for a DESCRIBE of `uri`, or None when no scheme offered is one
    we speak. Digest first: it does not send the password, and a camera offering both accepts either."""
    for scheme, params in challenges:
        if scheme == "digest" and _digest_usable(params):
            return _digest_authorization(params, user, password, uri), "digest"
    for scheme, _ in challenges:
        if scheme == "basic":
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            return f"Basic {token}", "basic"
    return None


def _digest_usable(params: dict[str, str]) -> bool:
    algorithm = params.get("algorithm", "MD5").upper()
    qops = _qops(params)
    return "realm" in params and "nonce" in params and algorithm in {"MD5", "MD5-SESS"} and (not qops or "auth" in qops)


def _qops(params: dict[str, str]) -> set[str]:
    return {qop.strip().lower() for qop in params.get("qop", "").split(",") if qop.strip()}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _digest_authorization(params: dict[str, str], user: str, password: str, uri: str) -> str:
    """RFC 2617 Digest response for DESCRIBE; qop=auth only when offered (Dahua cameras usually offer none)."""
    realm, nonce = params["realm"], params["nonce"]
    algorithm = params.get("algorithm")
    cnonce = os.urandom(8).hex()
    ha1 = _md5(f"{user}:{realm}:{password}")
    if algorithm is not None and algorithm.upper() == "MD5-SESS":
        ha1 = _md5(f"{ha1}:{nonce}:{cnonce}")
    ha2 = _md5(f"DESCRIBE:{uri}")
    fields = [
        f"username={_quote(user)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
    ]
    if "auth" in _qops(params):
        nc = "00000001"  # one request per nonce, so always the first use
        response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        fields += [f"response={_quote(response)}", "qop=auth", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
    else:
        fields.append(f"response={_quote(_md5(f'{ha1}:{nonce}:{ha2}'))}")
    if algorithm is not None:
        fields.append(f"algorithm={algorithm}")
    if "opaque" in params:
        fields.append(f"opaque={_quote(params['opaque'])}")
    return "Digest " + ", ".join(fields)
