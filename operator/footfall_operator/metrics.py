"""The operator's Prometheus metrics: what it skipped and failed, read from its parts at each scrape."""

from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from footfall_operator.live import LiveReader
from footfall_operator.refresher import Refresher


class OperatorCollector(Collector):
    def __init__(self, refresher: Refresher, live: LiveReader | None) -> None:
        self._refresher = refresher
        self._live = live

    def collect(self) -> list[Metric]:
        rounds = CounterMetricFamily("footfall_operator_refresh_rounds", "status refresh rounds over every channel")
        rounds.add_metric([], self._refresher.rounds)
        errors = CounterMetricFamily(
            "footfall_operator_refresh_errors",
            "CameraChannels whose refresh raised something unexpected (skipped, the round went on)",
        )
        errors.add_metric([], self._refresher.item_errors)
        malformed = CounterMetricFamily(
            "footfall_operator_malformed_live_hashes",
            "reads of a channel's live hash in Redis that no worker wrote (skipped, logged once per key)",
        )
        malformed.add_metric([], self._live.malformed_hashes if self._live is not None else 0)
        return [rounds, errors, malformed]


def metrics_text(refresher: Refresher, live: LiveReader | None) -> Callable[[], bytes]:
    """The body of the operator's `/metrics`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OperatorCollector(refresher, live))
    return lambda: generate_latest(registry)
