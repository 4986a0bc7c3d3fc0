-- The history partitioned by time (PostgreSQL's declarative range partitioning), so old days are dropped
-- whole instead of deleted row by row, and a query over a period reads only that period's partitions.
--
--   raw history, by UTC day:    tracks (first_seen), track_points (t), events (t)
--   rollups, by UTC month:      channel_stats_minute (minute), channel_heatmap_hour (hour)
--
-- Why those grains (docs/scale.md has the numbers): raw rows are kept a retention of N days, and a day is both
-- the unit retention drops and the unit a store's report reads; at a 100-store chain a raw day is tens of MB,
-- so a year of daily partitions stays a few hundred tables per parent. Rollups are kept for years; a month of
-- them is a few GB at that size, and monthly partitions keep the count at 12 a year.
--
-- `footfall_partitioned` says which table is partitioned how; `footfall_ensure_partitions(from, to)` creates
-- the partitions of a period (workers call it at start and hourly, a week ahead), `footfall_drop_partitions`
-- drops those wholly before a cutoff (the retention job). Each table has a DEFAULT partition, so a row whose
-- partition does not exist yet is kept there, never refused; creating the partition moves such rows into it.
--
-- A partitioned table's unique keys must hold the partition key:
--   tracks        (run_id, track_id) -> (run_id, track_id, first_seen). first_seen is the track's first frame in
--                 wall time, which a worker re-derives on every row of a track (it jitters by milliseconds): the
--                 writer looks the stored first_seen up and upserts on it (storage/sql_mapping.py).
--   events        id -> (id, t): an event's t never changes. `seq` stays filled from its identity, indexed (no
--                 longer UNIQUE: a sequence's values are unique by construction, and a unique index would have to
--                 include t).
--   track_points, channel_stats_minute, channel_heatmap_hour: their keys already hold their time.
--
-- The existing rows are copied, every one: the old table is renamed, the partitioned one created beside it and
-- filled, then the old one dropped. The views over these tables are bound to the old tables: they are saved
-- (pg_get_viewdef), dropped and re-created from the saved text, unchanged. Indexes and foreign keys are built
-- after the copy (one pass instead of one per row).

CREATE TABLE footfall_partitioned (
    table_name text PRIMARY KEY,
    key_column text NOT NULL,
    grain      text NOT NULL CHECK (grain IN ('day', 'month')),
    class      text NOT NULL CHECK (class IN ('raw', 'rollup'))
);
INSERT INTO footfall_partitioned VALUES
    ('tracks', 'first_seen', 'day', 'raw'),
    ('track_points', 't', 'day', 'raw'),
    ('events', 't', 'day', 'raw'),
    ('channel_stats_minute', 'minute', 'month', 'rollup'),
    ('channel_heatmap_hour', 'hour', 'month', 'rollup');

-- The partition of `table_name` holding `at`: its name and bounds (UTC: a day or a month of absolute time).
CREATE FUNCTION footfall_partition_of(p_table text, p_grain text, p_at timestamptz,
                                      OUT name text, OUT lower_bound timestamptz, OUT upper_bound timestamptz)
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_table || '_p' || to_char(date_trunc(p_grain, p_at AT TIME ZONE 'UTC'),
                                      CASE p_grain WHEN 'day' THEN 'YYYYMMDD' ELSE 'YYYYMM' END),
           date_trunc(p_grain, p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           (date_trunc(p_grain, p_at AT TIME ZONE 'UTC') + ('1 ' || p_grain)::interval) AT TIME ZONE 'UTC'
$$;

-- Create every missing partition overlapping [p_from, p_to); returns the partitions created and how many rows
-- each took over from the DEFAULT partition. Idempotent. Creating a partition locks its table briefly: the caller
-- bounds the wait with lock_timeout.
CREATE FUNCTION footfall_ensure_partitions(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (partition_name text, rows_moved bigint)
LANGUAGE plpgsql AS $$
DECLARE
    managed record;
    part record;
    at timestamptz;
    moved bigint;
    overriding text;
BEGIN
    IF p_to - p_from > interval '3700 days' THEN
        RAISE EXCEPTION 'footfall_ensure_partitions: % to % is more than ten years', p_from, p_to;
    END IF;
    FOR managed IN SELECT * FROM footfall_partitioned ORDER BY table_name LOOP
        -- events.seq is an identity column: moved rows keep their numbers
        overriding := CASE WHEN managed.table_name = 'events' THEN 'OVERRIDING SYSTEM VALUE' ELSE '' END;
        at := p_from;
        WHILE at < p_to LOOP
            SELECT * INTO part FROM footfall_partition_of(managed.table_name, managed.grain, at);
            IF to_regclass(part.name) IS NULL THEN
                moved := 0;
                EXECUTE format('SELECT count(*) FROM %I WHERE %I >= $1 AND %I < $2',
                               managed.table_name || '_default', managed.key_column, managed.key_column)
                    INTO moved USING part.lower_bound, part.upper_bound;
                IF moved > 0 THEN
                    -- PostgreSQL refuses a new partition while the DEFAULT one holds rows of its range
                    EXECUTE format('CREATE TEMP TABLE footfall_moving ON COMMIT DROP AS SELECT * FROM %I LIMIT 0',
                                   managed.table_name);
                    EXECUTE format('WITH gone AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) '
                                   'INSERT INTO footfall_moving SELECT * FROM gone',
                                   managed.table_name || '_default', managed.key_column, managed.key_column)
                        USING part.lower_bound, part.upper_bound;
                END IF;
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               part.name, managed.table_name, part.lower_bound, part.upper_bound);
                IF moved > 0 THEN
                    EXECUTE format('INSERT INTO %I %s SELECT * FROM footfall_moving', managed.table_name, overriding);
                    DROP TABLE footfall_moving;
                END IF;
                partition_name := part.name;
                rows_moved := moved;
                RETURN NEXT;
            END IF;
            at := part.upper_bound;
        END LOOP;
    END LOOP;
END
$$;

-- Drop every partition that ends at or before its class's cutoff (NULL: keep that class), and delete the
-- DEFAULT partition's rows before it; returns what went, and how many rows.
CREATE FUNCTION footfall_drop_partitions(p_raw_before timestamptz, p_rollup_before timestamptz)
RETURNS TABLE (partition_name text, rows_dropped bigint)
LANGUAGE plpgsql AS $$
DECLARE
    managed record;
    child record;
    cutoff timestamptz;
    upper timestamptz;
BEGIN
    FOR managed IN SELECT * FROM footfall_partitioned ORDER BY table_name LOOP
        cutoff := CASE managed.class WHEN 'raw' THEN p_raw_before ELSE p_rollup_before END;
        CONTINUE WHEN cutoff IS NULL;
        FOR child IN
            SELECT c.relname::text AS name
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = managed.table_name::regclass
              AND c.relname::text ~ ('^' || managed.table_name || '_p[0-9]{6}([0-9]{2})?$')
            ORDER BY 1
        LOOP
            -- the bound from the name this schema gave the partition: a table named otherwise is not ours to drop
            upper := (footfall_partition_of(managed.table_name, managed.grain,
                        to_date(substring(child.name FROM '_p([0-9]+)$') ||
                                CASE managed.grain WHEN 'month' THEN '01' ELSE '' END, 'YYYYMMDD')::timestamp
                        AT TIME ZONE 'UTC')).upper_bound;
            IF upper <= cutoff THEN
                EXECUTE format('SELECT count(*) FROM %I', child.name) INTO rows_dropped;
                EXECUTE format('DROP TABLE %I', child.name);
                partition_name := child.name;
                RETURN NEXT;
            END IF;
        END LOOP;
        EXECUTE format('DELETE FROM %I WHERE %I < $1', managed.table_name || '_default', managed.key_column)
            USING cutoff;
        GET DIAGNOSTICS rows_dropped = ROW_COUNT;
        IF rows_dropped > 0 THEN
            partition_name := managed.table_name || '_default';
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;

-- The views over these tables, saved to be re-created over the partitioned ones.
CREATE TEMP TABLE footfall_saved_views ON COMMIT DROP AS
SELECT position, name, pg_get_viewdef(name::regclass) AS definition
FROM unnest(ARRAY['channel_minutes', 'channel_hours', 'store_occupancy_days']) WITH ORDINALITY AS v (name, position);
DROP VIEW store_occupancy_days, channel_hours, channel_minutes;

ALTER TABLE tracks RENAME TO tracks_unpartitioned;
ALTER TABLE track_points RENAME TO track_points_unpartitioned;
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE channel_stats_minute RENAME TO channel_stats_minute_unpartitioned;
ALTER TABLE channel_heatmap_hour RENAME TO channel_heatmap_hour_unpartitioned;

CREATE TABLE tracks (LIKE tracks_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (first_seen);
CREATE TABLE track_points (LIKE track_points_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (t);
CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)
    PARTITION BY RANGE (t);
CREATE TABLE channel_stats_minute (LIKE channel_stats_minute_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (minute);
CREATE TABLE channel_heatmap_hour (LIKE channel_heatmap_hour_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (hour);
CREATE TABLE tracks_default PARTITION OF tracks DEFAULT;
CREATE TABLE track_points_default PARTITION OF track_points DEFAULT;
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE TABLE channel_stats_minute_default PARTITION OF channel_stats_minute DEFAULT;
CREATE TABLE channel_heatmap_hour_default PARTITION OF channel_heatmap_hour DEFAULT;

-- Partitions from the first run (no row is older than its run) to a week ahead, 60 days back at most: creating a
-- partition takes locks until the migration commits, and a year of daily partitions would need more than
-- PostgreSQL's default lock table holds (a run stamped 1970 by a wrong clock would ask for 20 000). Older rows are
-- kept in DEFAULT: read like the rest, deleted by retention row by row rather than dropped.
SELECT count(*) FROM footfall_ensure_partitions(
    greatest(coalesce((SELECT min(started_at) FROM runs), now()), now() - interval '60 days') - interval '1 day',
    now() + interval '8 days');

INSERT INTO tracks SELECT * FROM tracks_unpartitioned;
INSERT INTO track_points SELECT * FROM track_points_unpartitioned;
INSERT INTO events OVERRIDING SYSTEM VALUE SELECT * FROM events_unpartitioned;
INSERT INTO channel_stats_minute SELECT * FROM channel_stats_minute_unpartitioned;
INSERT INTO channel_heatmap_hour SELECT * FROM channel_heatmap_hour_unpartitioned;
SELECT setval(pg_get_serial_sequence('events', 'seq'), coalesce(max(seq), 0) + 1, false) FROM events;

DROP TABLE tracks_unpartitioned, track_points_unpartitioned, events_unpartitioned,
    channel_stats_minute_unpartitioned, channel_heatmap_hour_unpartitioned;

ALTER TABLE tracks ADD PRIMARY KEY (run_id, track_id, first_seen);
ALTER TABLE tracks ADD FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX tracks_channel_first_seen ON tracks (channel_id, first_seen);

ALTER TABLE track_points ADD PRIMARY KEY (run_id, track_id, t);
ALTER TABLE track_points ADD FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE events ADD PRIMARY KEY (id, t);
ALTER TABLE events ADD FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX events_seq ON events (seq);
CREATE INDEX events_channel_t ON events (channel_id, t);
CREATE INDEX events_channel_kind_t ON events (channel_id, kind, t);
CREATE INDEX events_run_track ON events (run_id, track_id) WHERE track_id IS NOT NULL;

ALTER TABLE channel_stats_minute ADD PRIMARY KEY (channel_id, minute, run_id);
ALTER TABLE channel_stats_minute ADD FOREIGN KEY (channel_id) REFERENCES channels (id) DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE channel_heatmap_hour ADD PRIMARY KEY (channel_id, hour, run_id);
ALTER TABLE channel_heatmap_hour ADD FOREIGN KEY (channel_id) REFERENCES channels (id) DEFERRABLE INITIALLY DEFERRED;

DO $$
DECLARE
    saved record;
BEGIN
    FOR saved IN SELECT * FROM footfall_saved_views ORDER BY position LOOP
        EXECUTE format('CREATE VIEW %I AS %s', saved.name, saved.definition);
    END LOOP;
END
$$;
DROP TABLE footfall_saved_views;
