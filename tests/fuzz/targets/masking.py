"""Fuzz `footfall_contract.config.masking.mask_credentials`, which stands between every hostile text (a
CameraChannel field, a camera's error echoed by FFmpeg, a Redis value) and a log, an exception or a status.

Properties:
* a password planted in any of the masked forms (`scheme://user:PASSWORD@`, a bare `user:PASSWORD@`,
  `?password=PASSWORD`), with any text around it, never comes out;
* masking is idempotent: masking a masked text changes nothing, so a message masked twice on its way (a
  `MalformedLive` quoted in a status) reads the same;
* the output grows by at most the mask per `=` and `@` (it replaces, it never copies), and even 64 KB of the worst
  text masks in well under a second (2 s here is only a guard against a hang, such as a quadratic regex).
"""

import time

import atheris

from tests.fuzz.targets._hostile import as_text, fuzz, text
from tests.fuzz.targets._secrets import leaked, planted

with atheris.instrument_imports(include=["footfall_contract.config.masking"]):
    from footfall_contract.config.masking import MASK, mask_credentials

_HANG_GUARD_S = 2.0


def _check(subject: str, secret: str | None = None, elsewhere: str = "") -> None:
    started = time.perf_counter()
    masked = mask_credentials(subject)
    elapsed = time.perf_counter() - started
    assert elapsed < _HANG_GUARD_S, f"{len(subject)} characters took {elapsed:.2f} s to mask"
    # a value after `=` may be empty, a userinfo before `@` one character: each becomes the whole mask
    grown = len(MASK) * subject.count("=") + (len(MASK) - 1) * subject.count("@")
    assert len(masked) <= len(subject) + grown, (subject[:200], masked[:200])
    if secret is not None:
        assert not leaked(secret, masked, elsewhere), f"password {secret!r} shown in {masked[:300]!r}"
    again = mask_credentials(masked)
    assert again == masked, f"not idempotent: {subject[:200]!r} -> {masked[:200]!r} -> {again[:200]!r}"


def raw(data: bytes) -> None:
    _check(as_text(data))


def drawn(fdp: atheris.FuzzedDataProvider) -> None:
    prefix, suffix = text(fdp, 64), text(fdp, 64)
    if fdp.ConsumeBool():
        middle, secret = planted(fdp)
        _check(prefix + middle + suffix, secret, prefix + "\x00" + suffix + "\x00" + MASK)
    else:
        _check(prefix + text(fdp, 256) + suffix)


if __name__ == "__main__":
    fuzz(raw, drawn)
