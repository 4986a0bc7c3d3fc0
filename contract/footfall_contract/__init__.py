"""What the operator and the channel worker agree on, and nothing else: the one package both import.

- `config`: the store and channel configuration (the CameraChannel spec is `ChannelConfig` in camelCase), its
  validation errors and the masking of camera credentials.
- `heartbeat`: the live state's Redis keys and fields (the worker writes them, the operator reads them).
- `redis_client`: how either opens Redis (short timeouts, no client-side retries).
- `probes`: the HTTP probe server and its `Verdict`, which both processes serve to the kubelet.

It imports neither `footfall_worker` nor `footfall_operator` (an import-linter contract in pyproject.toml).
"""
