"""Masking of credentials in any text that may reach a log, an exception or a status field.

Linear in the input, whatever it holds: the text is hostile (a CameraChannel field, a camera's error echoed by
FFmpeg), and the regexes this replaced were quadratic on a colon-rich string without `@` (32 KB took 0.7 s in
the operator's handler). `make bench` prints the time for 1 MB of hostile inputs.
"""

import re

MASK = "***"
# Both userinfo rules run on the text reversed, so each match starts at an `@` and runs forward over what
# precedes it in the text: the engine only tries where it sees an `@`, a run never crosses the next `@`, and
# backing off stays inside one run, so the whole pass is linear.
# `scheme://userinfo@` (reversed `@ofniresu//:emehcs`): up to a path, another `@` or a space; a scheme has a letter
# within its last 32 characters.
# A lookahead, so the replacement is a literal (a group reference costs a template expansion per match).
_URL_USERINFO_REVERSED = re.compile(r"@[^/@\s]+(?=//:[a-zA-Z0-9+.-]{0,31}?[a-zA-Z])")
# A bare `user:pass@` (someone pasting credentials into a host field): the user has no colon and stops at a quote,
# so `host 'admin:pw@10.0.0.1'` keeps its quote; the password may hold colons and quotes.
_BARE_USERINFO_REVERSED = re.compile(r"@[^/@\s]+:[^/@\s:'\"]+")
# `?password=...`, `&pass=...`: cameras and NVRs accept credentials as query parameters too.
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pass|pwd|secret|token|access_token|auth|apikey|api_key|key)=)[^&;#\s'\"]*",
    re.IGNORECASE,
)


def mask_credentials(text: str) -> str:
    """Replace every `user:pass@` (and every `?password=` style value) in `text` with `***`.

    Args:
        text: any message, possibly holding one or more URLs, of any size.

    Returns:
        The same text with the userinfo of every URL and every secret query value replaced, e.g.
        `rtsp://admin:secret@10.0.0.1:554/x?pwd=1` -> `rtsp://***@10.0.0.1:554/x?pwd=***`.
    """
    if "@" in text:
        text = _mask_userinfo(text)
    if "=" in text:
        masked = _QUERY_SECRET.sub(r"\g<key>" + MASK, text)
        if masked != text and "@" in masked:
            # A masked value may have held the `/` or `@` that ended a run (`u:p?pwd=a/b&c@h`): what is left can
            # read as a new `user:pass@`, so the userinfo is masked once more and masking the output again changes
            # nothing. (Query values first instead would let a `&pwd=` inside a password eat its `@` and unmask it.)
            masked = _mask_userinfo(masked)
        text = masked
    return text


def _mask_userinfo(text: str) -> str:
    reversed_text = _URL_USERINFO_REVERSED.sub("@" + MASK, text[::-1])
    return _BARE_USERINFO_REVERSED.sub("@" + MASK, reversed_text)[::-1]
