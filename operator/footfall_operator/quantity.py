"""Kubernetes resource quantities, as far as the operator computes with them."""

import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>[KMGTPE]i|[kMGTPE]?)$")


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes storage quantity (`1Gi`, `500M`, `1073741824`) in bytes.

    Raises:
        ValueError: not such a quantity.
    """
    match = _QUANTITY.match(quantity.strip())
    if match is None:
        raise ValueError(f"not a storage quantity: {quantity!r} (expected e.g. 1Gi or 500M)")
    suffix = match["suffix"]
    return int(float(match["number"]) * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix]))
