"""Credential masking: every form a credential takes in a message, and inputs built to make a masker slow."""

import re

import pytest

from footfall_contract.config import mask_credentials


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("rtsp://admin:pw@10.0.0.1:554/a", "rtsp://***@10.0.0.1:554/a"),
        ("rtsp://admin@h/x", "rtsp://***@h/x"),
        ("rtsp://u:p%40x@h", "rtsp://***@h"),  # an encoded `@` in the password
        ("rtsp://u:p@h rtsp://u2:q@h2", "rtsp://***@h rtsp://***@h2"),
        ("see 'rtsp://a:b@h/x'", "see 'rtsp://***@h/x'"),
        ("host 'admin:pw@10.0.0.1' is bad", "host '***@10.0.0.1' is bad"),
        ("admin:pa'ss:w0rd@10.0.0.1", "***@10.0.0.1"),  # quotes and colons inside a bare password
        ("/cam?channel=1&password=abc&subtype=0", "/cam?channel=1&password=***&subtype=0"),
        ("/cam?user=admin&PWD=abc", "/cam?user=admin&PWD=***"),
        ("x?pass=a b", "x?pass=*** b"),
        ("x?token=t;y", "x?token=***;y"),
    ],
)
def test_every_credential_form_is_masked(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "mail ops@example.com",
        "rtsp://[::1]:554/cam/realmonitor?channel=1&subtype=0",
        "rtsp://h:554/c stays",
        "ratio 3:4 at 10:00",
        "",
    ],
)
def test_text_without_credentials_is_unchanged(text: str) -> None:
    assert mask_credentials(text) == text


HOSTILE = {
    "colons without @": ":a" * 50_000,
    "user:pass@ repeated": "a:b@" * 25_000,
    "@ only": "@" * 100_000,
    "schemes": "a://" * 25_000,
    "scheme then @": "a://@" * 20_000,
    "digit scheme": "1" * 99_990 + "://a@b",
    "query keys": "?pass=" * 17_000,
    "urls": "rtsp://x:y@h?pwd=z&" * 5_000,
    "control characters": "\x00\x1b:\r\n@\t" * 15_000,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_input_leaves_no_credential_and_keeps_its_length_order(name: str) -> None:
    text = HOSTILE[name]
    masked = mask_credentials(text)
    # No `user:pass@` survives: whatever precedes an `@` (back to a space, `/` or `@`) holds no `x:y`.
    for word in re.split(r"[/\s]", masked):
        for userinfo in word.split("@")[:-1]:
            assert ":" not in userinfo[1:-1], userinfo[:80]
    assert len(masked) <= len(text) + 3 * text.count("=")
