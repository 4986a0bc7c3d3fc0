"""Hostile values drawn from a fuzzer's bytes, shared by the targets.

A parser's worst inputs are rarely random bytes: they are almost-valid values with one hostile part (a control
character, a lone surrogate, a huge length, a wrong type). So every draw mixes the fuzzer's raw text with a list
of known-nasty strings and with repetitions of them, which reach sizes (tens of KB) that mutation alone takes
long to grow.
"""

import sys
import types
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import atheris

T = TypeVar("T")
MAX_REPEATED_CHARS = 64 * 1024  # a repeated nasty string: big enough to show a quadratic parser
NASTY = (
    "",
    " ",
    "\x00",
    "\r\n",
    "\t",
    "\x1b[2J",
    "\x7f",
    "\x85",
    "\u2028",
    "\u202e",
    "\u200b",
    "\ufeff",
    "\ud800",
    "\udcff",
    "é",
    "\U0001f642",
    "a" * 64,
    "9" * 5000,
    "NaN",
    "-Infinity",
    "1e999",
    "-0",
    "@",
    ":",
    "/",
    "%",
    "%00",
    "%0d%0a",
    "'",
    '"',
    "\\",
    "[::1]",
    "::1",
    "10.0.0.1",
    "cam.local",
    "rtsp://",
    "rtsp://admin:hunter2@10.0.0.1:554/cam",
    "admin:hunter2@",
    "?password=hunter2",
    "&pwd=",
    "../../etc/passwd",
    "Europe",
    "UTC",
    "Asia/Ho_Chi_Minh",
    "zone.tab",
    "a" * 300,
)


def pick(fdp: atheris.FuzzedDataProvider, choices: Sequence[T]) -> T:
    """One of `choices` (atheris' own PickValueInList takes lists only)."""
    return choices[fdp.ConsumeIntInRange(0, len(choices) - 1)]


def text(fdp: atheris.FuzzedDataProvider, max_chars: int = 64) -> str:
    """A string: raw fuzz text (surrogates included), a nasty one, a nasty one repeated, or a mix."""
    mode = fdp.ConsumeIntInRange(0, 5)
    if mode == 0:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, max_chars))
    if mode == 1:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, max_chars))
    if mode == 2:
        return pick(fdp, NASTY)
    if mode == 3:
        nasty = pick(fdp, NASTY)
        return nasty * min(fdp.ConsumeIntInRange(1, 20_000), MAX_REPEATED_CHARS // max(1, len(nasty)))
    if mode == 4:
        return fdp.ConsumeString(fdp.ConsumeIntInRange(0, max_chars))  # any code point width
    return pick(fdp, NASTY) + text(fdp, max_chars) + pick(fdp, NASTY)


def number(fdp: atheris.FuzzedDataProvider) -> Any:
    """An int (up to 2**64 and beyond), a float (NaN, infinities, subnormals), or a bool (an int to Python)."""
    mode = fdp.ConsumeIntInRange(0, 4)
    if mode == 0:
        return fdp.ConsumeIntInRange(-2, 70_000)
    if mode == 1:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 12))
    if mode == 2:
        return fdp.ConsumeFloat()
    if mode == 3:
        return fdp.ConsumeBool()
    return 10 ** fdp.ConsumeIntInRange(0, 5000)  # past int()'s 4300-digit limit when printed


def value(fdp: atheris.FuzzedDataProvider, depth: int = 2) -> Any:
    """Any JSON-like value, of any type, now and then nested deeper than a parser expects (within what Python's
    own json and repr handle: the targets that read text build deeper nesting as text)."""
    mode = fdp.ConsumeIntInRange(0, 6 if depth > 0 else 3)
    if mode == 0:
        return None
    if mode == 1:
        return number(fdp)
    if mode in (2, 3):
        return text(fdp)
    if mode == 4:
        return [value(fdp, depth - 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if mode == 5:
        return {text(fdp, 16): value(fdp, depth - 1) for _ in range(fdp.ConsumeIntInRange(0, 3))}
    nested: Any = value(fdp, 0)
    for _ in range(fdp.ConsumeIntInRange(1, 200)):
        nested = [nested] if fdp.ConsumeBool() else {"a": nested}
    return nested


OMIT = object()


def field(fdp: atheris.FuzzedDataProvider, valid: Callable[[], Any]) -> Any:
    """Mostly a plausible value (so the fuzzer gets past the first check), else hostile text, any value, or OMIT."""
    roll = fdp.ConsumeIntInRange(0, 15)
    if roll < 11:
        return valid()
    if roll < 13:
        return text(fdp)
    if roll < 15:
        return value(fdp)
    return OMIT


def record(fdp: atheris.FuzzedDataProvider, fields: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """A dict of `fields`, each drawn by `field`, plus now and then an unknown key."""
    drawn = {name: field(fdp, valid) for name, valid in fields.items()}
    result = {name: v for name, v in drawn.items() if v is not OMIT}
    if fdp.ConsumeIntInRange(0, 15) == 0:
        result[text(fdp, 16)] = value(fdp)
    return result


def as_text(data: bytes) -> str:
    """An input as text the way Python reads a file or a variable: bytes that are not UTF-8 as lone surrogates."""
    return data.decode("utf-8", "surrogateescape")


def fuzz(raw: Callable[[bytes], None], drawn: Callable[[atheris.FuzzedDataProvider], None]) -> None:
    """Run libFuzzer with the command line's flags (`-runs=`, corpus directories, ...).

    An input that starts with a NUL byte is a structured draw: `drawn` gets a FuzzedDataProvider over the rest.
    Any other input is `raw`'s as it is (a document, a URL, a segment), so the seed corpus can hold real files,
    readable as what they are.
    """

    # The drawing and checking code is instrumented too: its branches (which form, which hostile kind, which
    # outcome) give libFuzzer coverage to tell inputs apart where the code under test is mostly C (regexes,
    # pydantic-core, json).
    for module_name in (__name__, "tests.fuzz.targets._secrets", "tests.fuzz.targets._shapes", raw.__module__):
        module = sys.modules.get(module_name)
        for function in vars(module).values() if module else ():
            if isinstance(function, types.FunctionType) and function.__module__ == module_name and function is not fuzz:
                atheris.instrument_func(function)

    def test_one_input(data: bytes) -> None:
        if data[:1] == b"\x00":
            drawn(atheris.FuzzedDataProvider(data[1:]))
        else:
            raw(data)

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
