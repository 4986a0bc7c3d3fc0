-- Conversion: what a store's till (POS) posts to the signed webhook (footfall_worker/till): its transactions per
-- hour. An hour is the instant it starts (the till's local hour); the newest delivery's count wins. Deliveries
-- are kept by id for a week, so a replayed delivery is recognised and changes nothing.
CREATE TABLE till_deliveries (
    id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    store_id    text NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX till_deliveries_received ON till_deliveries (received_at);

CREATE TABLE till_transactions (
    store_id     text NOT NULL,
    hour         timestamptz NOT NULL,
    transactions integer NOT NULL CHECK (transactions >= 0),
    delivery_id  text NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (store_id, hour)
);
