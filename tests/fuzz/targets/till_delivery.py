"""Fuzz the till webhook's input: `footfall_worker.till.delivery.parse_delivery` (a body anyone on the network may
post) and `footfall_worker.till.signature.verify` (its headers).

Properties:
* the parser raises only ValueError, with a message naming fields (bounded: the server cuts it at 2 000
  characters anyway), and what it accepts is a delivery: an id and a store of the allowed alphabets, 1-744
  hours, each aware, on the hour, with 0 to 1 000 000 transactions;
* `verify` raises only SignatureError for any headers and body, and accepts exactly what `sign` signed with the
  same secret within the window; a signature over any other body, time or secret is refused.
"""

import json
import re

import atheris

from tests.fuzz.targets._hostile import as_text, field, fuzz, pick, record, text

with atheris.instrument_imports(include=["footfall_worker.till"]):
    from footfall_worker.till.delivery import MAX_HOURS, parse_delivery
    from footfall_worker.till.signature import TOLERANCE_S, SignatureError, sign, verify

_ID = re.compile(r"^[A-Za-z0-9._:+-]{1,128}$")
_STORE = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$")
NOW = 1_800_000_000.0


def _check_body(body: bytes) -> None:
    try:
        delivery = parse_delivery(body)
    except ValueError as error:
        assert str(error), "an empty error"
        return
    assert _ID.match(delivery.id) and _STORE.match(delivery.store), delivery
    assert 1 <= len(delivery.hours) <= MAX_HOURS
    for hour in delivery.hours:
        assert hour.hour.utcoffset() is not None and (hour.hour.minute, hour.hour.second) == (0, 0), hour
        assert 0 <= hour.transactions <= 1_000_000


def raw(data: bytes) -> None:
    _check_body(data)
    try:
        verify(b"x" * 32, as_text(data[:20]), as_text(data[20:120]), data, NOW)
    except SignatureError:
        return
    raise AssertionError(f"an unsigned input was accepted: {data[:200]!r}")


def _hour(fdp: atheris.FuzzedDataProvider) -> object:
    return record(
        fdp,
        {
            "hour": lambda: (
                pick(fdp, ["2026-12-07T09:00:00+07:00", "2026-12-07T09:30:00+07:00", "2026-12-07T09:00:00"])
                if fdp.ConsumeBool()
                else text(fdp, 32)
            ),
            "transactions": lambda: fdp.ConsumeIntInRange(-5, 2_000_000),
        },
    )


def drawn(fdp: atheris.FuzzedDataProvider) -> None:
    if fdp.ConsumeBool():
        body = record(
            fdp,
            {
                "id": lambda: pick(fdp, ["d-1", "2026-12-07T10:05:00+07:00-till-1", "a" * 129]),
                "store": lambda: pick(fdp, ["kidsplaza_thanhxuan", "Store 1", "-x"]),
                "hours": lambda: [_hour(fdp) for _ in range(fdp.ConsumeIntInRange(0, 6))],
            },
        )
        try:
            encoded = json.dumps(body).encode("utf-8", "surrogatepass")
        except ValueError:
            return  # a value JSON cannot hold (an integer of over 4 300 digits): no body a till could send
        _check_body(encoded)
        return
    secret = fdp.ConsumeBytes(fdp.ConsumeIntInRange(16, 40)) or b"0" * 16
    body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))
    signed_at = int(NOW) + fdp.ConsumeIntInRange(-2 * TOLERANCE_S, 2 * TOLERANCE_S)
    signature = sign(secret, signed_at, body)
    fresh = abs(NOW - signed_at) <= TOLERANCE_S
    assert (
        (verify(secret, str(signed_at), signature, body, NOW) == signed_at)
        if fresh
        else _refused(secret, str(signed_at), signature, body)
    )
    # another body, another secret: refused; hostile headers: refused, never another exception
    assert _refused(secret, str(signed_at), signature, body + b"!")
    assert _refused(secret + b"!", str(signed_at), signature, body)
    _refused(secret, field(fdp, lambda: str(signed_at)), text(fdp, 80), body)


def _refused(secret: bytes, timestamp: object, signature: object, body: bytes) -> bool:
    try:
        verify(secret, timestamp if isinstance(timestamp, str) else None, str(signature), body, NOW)
    except SignatureError:
        return True
    return False


if __name__ == "__main__":
    fuzz(raw, drawn)
