"""A system shared-memory region registered with Triton, for sending frames without copying them over gRPC."""

import itertools
import os
import threading

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.utils.shared_memory as shm

_region_ids = itertools.count()


class SharedInputRegion:
    """One POSIX shared-memory region, grown on demand and re-registered after a server restart.

    Not thread-safe: one region belongs to one client and its caller serialises use with `lock`.
    """

    def __init__(self, client: grpcclient.InferenceServerClient, purpose: str, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self.name = f"footfall_{purpose}_{os.getpid()}_{next(_region_ids)}"
        self._key = f"/{self.name}"
        self._handle: object | None = None
        self._byte_size = 0
        self.lock = threading.Lock()

    def put(self, array: np.ndarray) -> int:
        """Copy `array` into the region (growing it when needed) and return its size in bytes."""
        needed = array.nbytes
        if self._handle is None or needed > self._byte_size:
            self._allocate(needed)
        shm.set_shared_memory_region(self._handle, [np.ascontiguousarray(array)])
        return needed

    def reregister(self) -> None:
        """Register the current region again: a restarted server has forgotten it."""
        self._client.unregister_system_shared_memory(self.name, client_timeout=self._timeout_s)
        self._client.register_system_shared_memory(
            self.name, self._key, self._byte_size, client_timeout=self._timeout_s
        )

    def _allocate(self, needed: int) -> None:
        self.close()
        # Round up so a stream of slightly varying sizes does not re-register on every frame.
        size = max(1 << 20, 1 << (needed - 1).bit_length())
        self._handle = shm.create_shared_memory_region(self.name, self._key, size)
        self._byte_size = size
        self._client.register_system_shared_memory(self.name, self._key, size, client_timeout=self._timeout_s)

    def close(self) -> None:
        if self._handle is None:
            return
        try:
            self._client.unregister_system_shared_memory(self.name, client_timeout=self._timeout_s)
        except Exception:  # noqa: BLE001 - the server may be gone; the local region is freed regardless
            pass
        shm.destroy_shared_memory_region(self._handle)
        self._handle = None
        self._byte_size = 0
