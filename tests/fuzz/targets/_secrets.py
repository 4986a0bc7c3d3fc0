"""Passwords planted by the fuzzer in the forms `mask_credentials` promises to mask, and the check that they
never come out again.

A planted password uses only characters that can stand in its form unencoded: no `/`, `@` or whitespace in a
userinfo (a URL percent-encodes them; a bare `user:pass@` cannot say where such a password starts), and in a
query value none of `&;#'"` either; nor the mask's `*`, so text next to a mask cannot spell the password by
chance. Every other character is fair game, colons, quotes and control characters included.
"""

from typing import Any

import atheris

from tests.fuzz.targets._hostile import pick, text

# Starts every planted password, so it cannot be mistaken for a word of a message ("expected", "got", ...).
MARK = "Zq7"
QUERY_KEYS = ("password", "PASSWORD", "passwd", "pass", "pwd", "secret", "token", "access_token", "auth", "apikey")
_NOT_IN_USERINFO = frozenset("/@*")
_NOT_IN_QUERY = _NOT_IN_USERINFO | frozenset("&;#'\"")


def password(fdp: atheris.FuzzedDataProvider, in_query: bool) -> str:
    banned = _NOT_IN_QUERY if in_query else _NOT_IN_USERINFO
    return MARK + "".join(c for c in text(fdp, 24) if c not in banned and not c.isspace())[:256]


def planted(fdp: atheris.FuzzedDataProvider) -> tuple[str, str]:
    """(text holding a password in one of the masked forms, the password)."""
    form = fdp.ConsumeIntInRange(0, 3)
    secret = password(fdp, in_query=form == 3)
    user = "".join(c for c in text(fdp, 12) if c not in "/@:'\"" and not c.isspace())
    host = pick(fdp, ["10.0.0.1", "cam.local", "[::1]:554", ""])
    if form == 0:
        scheme = pick(fdp, ["rtsp", "rtsps", "http", "RTSP", "a.b+c-d", "x" * 40])
        return f"{scheme}://{user}:{secret}@{host}/live", secret
    if form == 1:
        return f"{user or 'admin'}:{secret}@{host}", secret
    if form == 2:
        return f"rtsp://:{secret}@{host}", secret
    key = pick(fdp, QUERY_KEYS)
    return f"/cam{pick(fdp, ['?', '&', ';'])}{key}={secret}{pick(fdp, ['', '&a=1', '#f', ' x'])}", secret


def leaked(secret: str, output: str, elsewhere: str) -> bool:
    """Whether `output` shows `secret` although the only place it was planted was masked.

    `elsewhere` is everything the output may quote besides the planted text: a password that also stands there
    (unmasked, rightly) proves nothing.
    """
    return secret in output and secret not in elsewhere


def strings(value: Any) -> str:
    """Every string in a JSON-like value (keys too), joined: what a message about it could quote."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\x00".join(strings(k) + "\x00" + strings(v) for k, v in value.items())
    if isinstance(value, list):
        return "\x00".join(strings(item) for item in value)
    return ""
