"""Camera ingest: one reader thread per channel, reconnecting, stall-aware, latest-frame hand-off."""
