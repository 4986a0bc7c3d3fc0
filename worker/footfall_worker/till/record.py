"""A delivery into PostgreSQL, in one transaction: its id first (a replay finds it there and changes nothing),
then each hour's transactions, the newest delivery's count winning."""

import psycopg2.extensions
from psycopg2.extras import execute_values

from footfall_worker.till.delivery import TillDelivery

_DELIVERY = """
INSERT INTO till_deliveries (id, store_id, received_at) VALUES (%s, %s, now()) ON CONFLICT (id) DO NOTHING
"""
_HOURS = """
INSERT INTO till_transactions (store_id, hour, transactions, delivery_id, received_at) VALUES %s
ON CONFLICT (store_id, hour) DO UPDATE SET transactions = EXCLUDED.transactions,
    delivery_id = EXCLUDED.delivery_id, received_at = EXCLUDED.received_at
"""
# Ids are kept well past the signature window, so a replay is refused by its id as long as it could be signed.
_FORGET = "DELETE FROM till_deliveries WHERE received_at < now() - interval '7 days'"


def record(conn: psycopg2.extensions.connection, delivery: TillDelivery) -> bool:
    """Write the delivery; False when its id was recorded before (a replay: nothing changes)."""
    with conn, conn.cursor() as cur:
        cur.execute(_DELIVERY, (delivery.id, delivery.store))
        if cur.rowcount == 0:
            return False
        rows = [(delivery.store, h.hour, h.transactions, delivery.id) for h in delivery.hours]
        execute_values(cur, _HOURS, rows, "(%s, %s, %s, %s, now())")
        cur.execute(_FORGET)
    return True
