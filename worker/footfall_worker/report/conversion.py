"""Conversion: the store's till transactions (posted to the till webhook) over its customers, per local hour. An
hour without till data has no conversion, never 0; nor has an hour without customers."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg2.extensions

from footfall_worker.report.daily import HourGenders
from footfall_worker.report.query import Window


@dataclass(frozen=True, slots=True)
class HourConversion:
    start: datetime  # UTC instant the local hour starts
    hour: datetime  # local
    customers: int
    transactions: int | None  # None: the till sent nothing for the hour
    coverage: float  # the least of the entrances' (customers are a lower bound below 1)

    @property
    def conversion(self) -> float | None:
        if self.transactions is None or not self.customers:
            return None
        return self.transactions / self.customers


def till_hours(conn: psycopg2.extensions.connection, store_id: str, window: Window) -> dict[datetime, int]:
    """The till's transactions per hour it reported in the period, by the hour's UTC start."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT hour, transactions FROM till_transactions WHERE store_id = %s AND hour >= %s AND hour < %s",
            (store_id, window.start, window.end),
        )
        return {hour.astimezone(UTC): int(n) for hour, n in cur.fetchall()}


def hourly_conversion(hours: Sequence[HourGenders], till: Mapping[datetime, int]) -> list[HourConversion]:
    return [
        HourConversion(h.start, h.hour, h.female + h.male + h.unknown, till.get(h.start), h.coverage) for h in hours
    ]
