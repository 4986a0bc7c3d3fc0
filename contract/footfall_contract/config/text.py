"""Text people type: display names and descriptions in a store config or a CameraChannel, and camera logins.

Such text reaches terminals (`footfall run`'s table), logs, reports and Kubernetes status. A control character
there is never intended and can do harm: an escape sequence rewrites an admin's terminal, a bidirectional
override makes a name read as another (the "Trojan Source" trick), a line separator forges a log line. So names
refuse them with a message saying which character and where, never quoting the text.
"""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

# C0/C1 controls and the line/paragraph separators: never part of a name.
CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
# Format characters too (zero-width, bidirectional marks): a password holds none; a name may need some (the
# zero-width joiner of an emoji or a Persian name), so names refuse only the bidirectional overrides below.
INVISIBLE_CATEGORIES = CONTROL_CATEGORIES | {"Cf"}
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_NAME_CHARS = 128
MAX_DESCRIPTION_CHARS = 1024


def control_character(text: str, categories: frozenset[str] = CONTROL_CATEGORIES, allowed: str = "") -> str | None:
    """Where `text` holds a character of `categories` (or a bidirectional override) not in `allowed`, as
    'the control character U+000A at the end' or '... at position 5'; None when it holds none."""
    for position, char in enumerate(text):
        if char in allowed:
            continue
        if char in _BIDI_OVERRIDES or unicodedata.category(char) in categories:
            # a trailing newline is the usual cause: `echo` instead of `echo -n`, or a pasted line
            where = "at the end" if position == len(text) - 1 else f"at position {position + 1}"
            return f"the control character U+{ord(char):04X} {where}"
    return None


def _one_line(text: str) -> str:
    if (found := control_character(text)) is not None:
        raise ValueError(f"expected printable text on one line, got {found}")
    return text


def _lines(text: str) -> str:
    if (found := control_character(text, allowed="\n\t")) is not None:
        raise ValueError(f"expected printable text (newlines and tabs allowed), got {found}")
    return text


DisplayName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(_one_line)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_CHARS), AfterValidator(_lines)]
