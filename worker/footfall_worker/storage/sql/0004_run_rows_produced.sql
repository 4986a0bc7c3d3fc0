-- What a run's worker handed its writer, by table: {"tracks": distinct track ids, "track_points": n, "events": n},
-- written with the run's RunEnd. Compared with the rows of the run in those tables it proves a shutdown (a pod
-- deleted, a rollout) lost nothing: produced = committed. NULL for runs that ended without a shutdown (lost) and
-- for runs of workers before this migration.
ALTER TABLE runs ADD COLUMN rows_produced jsonb;
