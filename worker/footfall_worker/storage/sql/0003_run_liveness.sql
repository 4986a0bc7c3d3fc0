-- A run's liveness, so a worker killed without a shutdown (SIGKILL from the kubelet, the OOM killer, a lost node)
-- does not leave its run open forever.
--   last_seen_at  moved forward by the run's writer every few seconds while the worker lives (a `RunSeen` row,
--                 buffered and journaled like every other row); NULL for runs of workers before this migration.
-- When a run of a channel starts (its row is inserted), the channel's earlier runs still open are closed in the
-- same transaction: ended_at = the last sign of life (last_seen_at, the run's tracks' last_seen, else
-- started_at), exit_reason = 'lost', counters left NULL. A RunEnd replayed later from a journal still wins.
ALTER TABLE runs ADD COLUMN last_seen_at timestamptz;

CREATE INDEX runs_channel_open ON runs (channel_id, started_at) WHERE ended_at IS NULL;
