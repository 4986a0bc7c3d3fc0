"""Fixtures shared by the simulator's tests."""

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def capture_closer() -> Iterator[list[Any]]:
    """Release every capture a test opened, even when it fails half-way."""
    captures: list[Any] = []
    yield captures
    for capture in captures:
        capture.release()
