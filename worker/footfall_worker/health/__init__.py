"""A worker's health: liveness and readiness verdicts, the probe server, Prometheus metrics, latency windows."""
