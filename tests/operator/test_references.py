"""reconcile's pure checks: who holds a store channel, and whether the credentials Secret is usable."""

import base64

import pytest

from footfall_operator.camera_secret import CAMERA_SECRET_LABEL, inspect, secret_problem
from footfall_operator.crd import parse_spec
from footfall_operator.reconcile import Claim, claim_key, claim_problem
from footfall_operator.status import Reason

SPEC = parse_spec(
    {
        "store": "kidsplaza",
        "channelId": "channel_1",
        "displayName": "door",
        "source": {"host": "10.0.0.1", "channel": 1},
        "credentialsSecretRef": {"name": "cams", "usernameKey": "user", "passwordKey": "pass"},
    }
)
ME = Claim("2026-11-25T10:00:00Z", "store", "channel-1", store="kidsplaza")


@pytest.mark.parametrize(
    ("rivals", "holder"),
    [
        ([], None),
        ([ME], None),  # the index holds this channel itself too
        ([ME, Claim("2026-11-25T11:00:00Z", "store", "copy", "kidsplaza")], None),  # the younger one is refused
        ([Claim("2026-11-25T09:00:00Z", "other-ns", "first", "kidsplaza")], "other-ns/first"),
        ([Claim("2026-11-25T10:00:00Z", "store", "a-same-second", "kidsplaza")], "store/a-same-second"),  # tie
    ],
)
def test_the_oldest_claim_holds_the_channel(rivals: list[Claim], holder: str | None):
    problem = claim_problem(SPEC, ME, rivals)
    if holder is None:
        assert problem is None
    else:
        assert problem is not None and problem.reason == Reason.CHANNEL_CLAIMED
        assert problem.message.startswith("spec.channelId:") and holder in problem.message
        assert "store 'kidsplaza' channel 'channel_1' is already run by" in problem.message


def test_another_stores_channel_with_the_same_id_is_refused_with_a_suggestion():
    # the record and the live state are keyed by channel id: two stores' channel_1 would share rows
    other_store = Claim("2026-11-25T09:00:00Z", "chain", "hanoi-channel-1", store="hanoi")
    problem = claim_problem(SPEC, ME, [other_store])
    assert problem is not None and problem.reason == Reason.CHANNEL_CLAIMED
    assert "store 'hanoi'" in problem.message and "'kidsplaza_channel_1'" in problem.message


OPTED_IN = {CAMERA_SECRET_LABEL: "true"}


def encoded(**values: str | bytes) -> dict[str, str]:
    return {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode() for k, v in values.items()}


@pytest.mark.parametrize(
    ("labels", "data", "reason", "named"),
    [
        (OPTED_IN, encoded(user="admin", **{"pass": "pw"}), None, None),
        (OPTED_IN, encoded(user="admin", extra="x", **{"pass": "pw"}), None, None),
        (None, None, Reason.SECRET_NOT_FOUND, "spec.credentialsSecretRef.name"),  # absent or unreadable
        ({}, encoded(user="admin", **{"pass": "pw"}), Reason.SECRET_NOT_FOUND, "spec.credentialsSecretRef.name"),
        ({CAMERA_SECRET_LABEL: "yes"}, encoded(user="a", **{"pass": "b"}), Reason.SECRET_NOT_FOUND, "labelled"),
        (OPTED_IN, encoded(user="admin"), Reason.SECRET_KEY_MISSING, "spec.credentialsSecretRef.passwordKey"),
        (OPTED_IN, {}, Reason.SECRET_KEY_MISSING, "spec.credentialsSecretRef.usernameKey"),
        (OPTED_IN, encoded(user="admin", **{"pass": "pw\n"}), Reason.SECRET_VALUE_INVALID, "U+000A at the end"),
        (OPTED_IN, encoded(user="ad\tmin", **{"pass": "p"}), Reason.SECRET_VALUE_INVALID, "U+0009 at position 3"),
        (OPTED_IN, encoded(user="a", **{"pass": "p\u200bw"}), Reason.SECRET_VALUE_INVALID, "U+200B"),
        (OPTED_IN, encoded(user="a", **{"pass": "x" * 257}), Reason.SECRET_VALUE_INVALID, "257 characters"),
        (OPTED_IN, encoded(user="a", **{"pass": b"\xff\xfe"}), Reason.SECRET_VALUE_INVALID, "not UTF-8"),
        (OPTED_IN, encoded(user="", **{"pass": "p"}), Reason.SECRET_VALUE_INVALID, "usernameKey"),
        (OPTED_IN, {"user": "!!not base64", "pass": "cA=="}, Reason.SECRET_VALUE_INVALID, "not UTF-8"),
    ],
)
def test_the_secret_must_be_opted_in_with_both_keys_and_usable_values(labels, data, reason, named):
    secret = None if labels is None else inspect(labels, data)
    problem = secret_problem(SPEC, "store", secret)
    if reason is None:
        assert problem is None
        return
    assert problem is not None and problem.reason == reason and named in problem.message
    # Never echoed: the Secret's other keys, or any value.
    assert "extra" not in problem.message and "admin" not in problem.message and "pw" not in problem.message


def test_a_missing_and_an_unlabelled_secret_read_alike():
    """A CameraChannel's author must not learn which Secrets exist by naming them."""
    unlabelled = secret_problem(SPEC, "store", inspect({}, encoded(user="a", **{"pass": "b"})))
    assert unlabelled == secret_problem(SPEC, "store", None)


def test_no_secret_ref_needs_no_secret():
    spec = parse_spec({**SPEC.model_dump(by_alias=True, exclude_none=True), "credentialsSecretRef": None})
    assert secret_problem(spec, "store", None) is None


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"store": "s", "channelId": "c"}, "c"),
        ({"store": "s"}, None),
        ({"store": "s", "channelId": 1}, None),
        (None, None),
    ],
)
def test_claim_key_of_a_raw_spec(raw, key):
    assert claim_key(raw) == key
