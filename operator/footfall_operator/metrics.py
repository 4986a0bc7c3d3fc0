"""The operator's Prometheus metrics: what it skipped and failed, read from its parts at each scrape."""

from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from footfall_operator.leader import LeaderElector
from footfall_operator.live import LiveReader
from footfall_operator.refresher import Refresher


class OperatorCollector(Collector):
    def __init__(self, refresher: Refresher, live: LiveReader | None, elector: LeaderElector | None = None) -> None:
        self._refresher = refresher
        self._live = live
        self._elector = elector

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
        writes = CounterMetricFamily("footfall_operator_status_writes", "CameraChannel status PATCHes by the refresher")
        writes.add_metric([], self._refresher.status_writes)
        deferred = CounterMetricFamily(
            "footfall_operator_status_writes_deferred",
            "changed statuses the write rate limit left for the next round (recomputed then)",
        )
        deferred.add_metric([], self._refresher.deferred_writes)
        round_s = GaugeMetricFamily("footfall_operator_refresh_round_seconds", "the last refresh round's duration")
        round_s.add_metric([], self._refresher.last_round.seconds)
        leader = GaugeMetricFamily(
            "footfall_operator_leader", "1 on the active replica (or without leader election), 0 on a standby"
        )
        leader.add_metric([], 1 if self._elector is None or self._elector.leading else 0)
        return [rounds, errors, malformed, writes, deferred, round_s, leader]


def metrics_text(
    refresher: Refresher, live: LiveReader | None, elector: LeaderElector | None = None
) -> Callable[[], bytes]:
    """The body of the operator's `/metrics`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OperatorCollector(refresher, live, elector))
    return lambda: generate_latest(registry)
