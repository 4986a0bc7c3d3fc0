-- A chain's question, "every store's hourly customers on one day", read `channel_hours` for a day: the view grouped
-- every minute of the history into hours before a filter on the computed hour could apply (29.7 s over 100 stores
-- x 6 channels x 30 days in bench/report_scale_bench.py). Two things answer it here:
--
-- `channel_hours_between(start, end)`: the rows of `channel_hours` for the hours that start in [start, end), the
-- time bounded before anything is grouped; `channel_hours` becomes its unbounded case, so the hour's definition
-- exists once. It reads quarter-hour rollups of the minutes (below): 4 rows a channel and hour instead of 60
-- (the chain's day: 1.3 s from the minutes, 88 ms from the quarters).
--
-- An index on the minute rollups by minute alone (their primary key leads with the channel), for spans across the
-- chain that still read minutes; cheap to keep at one row a channel and minute.
CREATE INDEX channel_stats_minute_minute ON channel_stats_minute (minute);

-- Quarter-hour rollups of the minute rollups, kept by the database as minutes arrive. A quarter hour, not an hour:
-- every zone's hours start on a quarter hour (+05:30, +05:45), so local hours are whole quarters wherever a store
-- is.
--
-- `channel_stats_quarter` holds, per channel and quarter, exactly what `channel_minutes` gives its minutes added
-- up: the distinct minutes with rows, the seen seconds (each minute's runs capped at 60 s, as the view does) and
-- the counts. Statement triggers on `channel_stats_minute` keep it (below). Partitioned by month and kept like
-- the other rollups.

CREATE TABLE channel_stats_quarter (
    channel_id      text NOT NULL REFERENCES channels (id) DEFERRABLE INITIALLY DEFERRED,
    quarter         timestamptz NOT NULL CHECK (extract(epoch FROM quarter) % 900 = 0),
    minutes         integer NOT NULL,
    covered_s       double precision NOT NULL,
    people_count    integer NOT NULL,
    entries         integer NOT NULL,
    exits           integer NOT NULL,
    entries_female  integer NOT NULL,
    entries_male    integer NOT NULL,
    entries_unknown integer NOT NULL,
    entries_staff   integer NOT NULL,
    exits_staff     integer NOT NULL,
    PRIMARY KEY (channel_id, quarter)
) PARTITION BY RANGE (quarter);
CREATE TABLE channel_stats_quarter_default PARTITION OF channel_stats_quarter DEFAULT;
CREATE INDEX channel_stats_quarter_quarter ON channel_stats_quarter (quarter);
INSERT INTO footfall_partitioned VALUES ('channel_stats_quarter', 'quarter', 'month', 'rollup');
-- (the months of the minutes already recorded, as migration 0009 bounds them; the index by minute finds the first)
SELECT count(*) FROM footfall_ensure_partitions(
    greatest(coalesce((SELECT min(minute) FROM channel_stats_minute), now()), now() - interval '60 days'),
    now() + interval '8 days');

-- A statement's minute rows (a writer's batch) name the quarters they touch; each is recomputed from its minutes
-- (at most 15 minutes x runs) and upserted, or deleted when no minute is left. Recomputing, not adding differences:
-- a statement's row triggers all see its final state, so two runs of one minute in one batch would count twice.
CREATE FUNCTION footfall_refresh_quarters(p_channels text[], p_minutes timestamptz[])
RETURNS void LANGUAGE sql AS $$
    WITH touched AS (
        SELECT DISTINCT channel_id, date_bin('15 minutes', minute, TIMESTAMPTZ '1970-01-01 00:00Z') AS quarter
        FROM unnest(p_channels, p_minutes) AS t (channel_id, minute)
    ),
    fresh AS (
        SELECT t.channel_id, t.quarter, count(*)::integer AS minutes, sum(m.covered_s) AS covered_s,
               sum(m.people_count) AS people_count, sum(m.entries) AS entries, sum(m.exits) AS exits,
               sum(m.entries_female) AS entries_female, sum(m.entries_male) AS entries_male,
               sum(m.entries_unknown) AS entries_unknown, sum(m.entries_staff) AS entries_staff,
               sum(m.exits_staff) AS exits_staff
        FROM touched t
        JOIN channel_minutes m ON m.channel_id = t.channel_id AND m.minute >= t.quarter
                              AND m.minute < t.quarter + interval '15 minutes'
        GROUP BY 1, 2
    ),
    gone AS (
        DELETE FROM channel_stats_quarter q USING touched t
        WHERE q.channel_id = t.channel_id AND q.quarter = t.quarter
          AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.channel_id = t.channel_id AND f.quarter = t.quarter)
    )
    -- an upsert, so writers of the same quarter wait for each other instead of failing on the key
    INSERT INTO channel_stats_quarter
    SELECT channel_id, quarter, minutes, covered_s, people_count, entries, exits, entries_female, entries_male,
           entries_unknown, entries_staff, exits_staff
    FROM fresh
    ON CONFLICT (channel_id, quarter) DO UPDATE SET
        minutes = EXCLUDED.minutes, covered_s = EXCLUDED.covered_s, people_count = EXCLUDED.people_count,
        entries = EXCLUDED.entries, exits = EXCLUDED.exits, entries_female = EXCLUDED.entries_female,
        entries_male = EXCLUDED.entries_male, entries_unknown = EXCLUDED.entries_unknown,
        entries_staff = EXCLUDED.entries_staff, exits_staff = EXCLUDED.exits_staff
$$;

-- One trigger a kind of statement: PostgreSQL gives transition tables to single-event triggers only.
CREATE FUNCTION footfall_minutes_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM footfall_refresh_quarters(array_agg(channel_id), array_agg(minute)) FROM new_minutes;
    RETURN NULL;
END
$$;
CREATE FUNCTION footfall_minutes_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM footfall_refresh_quarters(array_agg(channel_id), array_agg(minute))
    FROM (SELECT channel_id, minute FROM old_minutes UNION SELECT channel_id, minute FROM new_minutes) changed;
    RETURN NULL;
END
$$;
CREATE FUNCTION footfall_minutes_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM footfall_refresh_quarters(array_agg(channel_id), array_agg(minute)) FROM old_minutes;
    RETURN NULL;
END
$$;
CREATE TRIGGER channel_stats_minute_inserted AFTER INSERT ON channel_stats_minute
    REFERENCING NEW TABLE AS new_minutes FOR EACH STATEMENT EXECUTE FUNCTION footfall_minutes_inserted();
CREATE TRIGGER channel_stats_minute_updated AFTER UPDATE ON channel_stats_minute
    REFERENCING OLD TABLE AS old_minutes NEW TABLE AS new_minutes
    FOR EACH STATEMENT EXECUTE FUNCTION footfall_minutes_updated();
CREATE TRIGGER channel_stats_minute_deleted AFTER DELETE ON channel_stats_minute
    REFERENCING OLD TABLE AS old_minutes FOR EACH STATEMENT EXECUTE FUNCTION footfall_minutes_deleted();

-- The minutes already recorded.
INSERT INTO channel_stats_quarter
SELECT channel_id, date_bin('15 minutes', minute, TIMESTAMPTZ '1970-01-01 00:00Z'), count(*), sum(covered_s),
       sum(people_count), sum(entries), sum(exits), sum(entries_female), sum(entries_male), sum(entries_unknown),
       sum(entries_staff), sum(exits_staff)
FROM channel_minutes
GROUP BY 1, 2;

-- The hours of a span, from the quarters: what `channel_minutes` gives, grouped by the store's local hour.
CREATE FUNCTION channel_hours_between(p_start timestamptz, p_end timestamptz)
RETURNS TABLE (
    channel_id text, store_id text, timezone text, hour timestamptz, local_hour timestamp, entries integer,
    exits integer, entries_female integer, entries_male integer, entries_unknown integer, people_count integer,
    covered_s real, coverage real, minutes integer, entries_staff integer, exits_staff integer, customers integer
)
LANGUAGE sql STABLE AS $$
    SELECT q.channel_id,
           c.store_id,
           c.timezone,
           date_trunc('hour', q.quarter, c.timezone),
           date_trunc('hour', q.quarter, c.timezone) AT TIME ZONE c.timezone,
           sum(q.entries)::integer,
           sum(q.exits)::integer,
           sum(q.entries_female)::integer,
           sum(q.entries_male)::integer,
           sum(q.entries_unknown)::integer,
           sum(q.people_count)::integer,
           sum(q.covered_s)::real,
           (sum(q.covered_s) / 3600)::real,
           sum(q.minutes)::integer,
           sum(q.entries_staff)::integer,
           sum(q.exits_staff)::integer,
           (sum(q.entries) - sum(q.entries_staff))::integer
    FROM channel_stats_quarter q
    JOIN channels c ON c.id = q.channel_id
    WHERE q.quarter >= p_start - interval '1 hour' AND q.quarter < p_end + interval '1 hour'
      AND date_trunc('hour', q.quarter, c.timezone) >= p_start AND date_trunc('hour', q.quarter, c.timezone) < p_end
    GROUP BY q.channel_id, c.store_id, c.timezone, date_trunc('hour', q.quarter, c.timezone)
    HAVING sum(q.minutes) > 0
$$;

CREATE OR REPLACE VIEW channel_hours AS
SELECT * FROM channel_hours_between('-infinity', 'infinity');
