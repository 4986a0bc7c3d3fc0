"""The till webhook: a store's till (POS) posts its transactions per hour, signed, and the report turns them into
conversion (transactions / customers). `signature.py` checks a delivery, `delivery.py` is its shape, `record.py`
writes it, `server.py` serves the endpoint."""
