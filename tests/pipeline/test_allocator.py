"""The worker's allocator settings take on this machine's glibc (Debian, as in the image)."""

from footfall_worker.allocator import tune_allocator


def test_glibc_accepts_the_workers_allocator_settings() -> None:
    assert tune_allocator() is True
