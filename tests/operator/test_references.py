"""reconcile's pure checks: who holds a store channel, and whether the credentials Secret has its keys."""

import pytest

from footfall_operator.crd import parse_spec
from footfall_operator.reconcile import Claim, claim_key, claim_problem, secret_problem
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


@pytest.mark.parametrize(
    ("keys", "reason", "named"),
    [
        (frozenset({"user", "pass"}), None, None),
        (frozenset({"user", "pass", "extra"}), None, None),
        (None, Reason.SECRET_NOT_FOUND, "spec.credentialsSecretRef.name"),
        (frozenset({"user"}), Reason.SECRET_KEY_MISSING, "spec.credentialsSecretRef.passwordKey"),
        (frozenset(), Reason.SECRET_KEY_MISSING, "spec.credentialsSecretRef.usernameKey"),
    ],
)
def test_the_secret_must_exist_with_both_keys(keys, reason, named):
    problem = secret_problem(SPEC, "store", keys)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None and problem.reason == reason and named in problem.message


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
