"""Masking of credentials in any text that may reach a log, an exception or a status field."""

import re

# Matches the userinfo part of any URL (`scheme://user:pass@` or `scheme://user@`), wherever it appears
# inside a longer message: OpenCV and FFmpeg echo the URL they were given in their own errors.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
# A bare `user:pass@host` with no scheme, e.g. someone pasting credentials into a host field.
_BARE_USERINFO = re.compile(r"(?<![\w/:@])[^\s/@:'\"]+:[^\s/@'\"]+@")


def mask_credentials(text: str) -> str:
    """Replace every `user:pass@` in `text` with `***@`.

    Args:
        text: any message, possibly holding one or more URLs.

    Returns:
        The same text with the userinfo of every URL replaced, e.g.
        `rtsp://admin:secret@10.0.0.1:554/x` -> `rtsp://***@10.0.0.1:554/x`.
    """
    return _BARE_USERINFO.sub("***@", _USERINFO.sub(r"\g<scheme>***@", text))
