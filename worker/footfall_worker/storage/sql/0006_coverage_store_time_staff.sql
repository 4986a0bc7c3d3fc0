-- Data coverage, store-local time and staff.
--   channel_stats_minute.covered_s  seconds of the minute the channel saw: the time between processed frames at
--                                   most 1 s apart (a longer gap: camera down, detection failing, processing
--                                   starved). NULL for minutes written by workers before this migration.
--   channels.timezone               the store's IANA time zone, recorded by the channel's worker; reports and
--                                   `channel_hours` bucket by its local hours. A name PostgreSQL does not know
--                                   is refused here, so no query over the views can fail on it later.
--   channels.opening_hours          the store's {"open": "HH:MM", "close": "HH:MM"}, recorded by the worker;
--                                   NULL: none configured (a business day is the calendar day).
ALTER TABLE channel_stats_minute
    ADD COLUMN covered_s real CHECK (covered_s IS NULL OR covered_s BETWEEN 0 AND 60);
ALTER TABLE channels
    ADD COLUMN timezone text NOT NULL DEFAULT 'UTC'
    CHECK (length(timezone) <= 64 AND ('2000-01-01 00:00Z'::timestamptz AT TIME ZONE timezone) IS NOT NULL),
    ADD COLUMN opening_hours jsonb CHECK (
        opening_hours IS NULL OR (jsonb_typeof(opening_hours) = 'object'
            AND opening_hours->>'open' ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'
            AND opening_hours->>'close' ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'));

-- Staff are not customers (analytics/staff.py: a track that appears in a staff zone, or stays in staff zones
-- long enough, is staff).
--   tracks.staff                          the track was tagged staff; once set, never unset (upserts OR it).
--   channel_stats_minute.entries_staff    of the minute's entries and exits, those of tracks known to be staff
--   channel_stats_minute.exits_staff      when they crossed (a tag decided later is in tracks.staff: reports
--                                         join the events with tracks for the final one, as for gender).
ALTER TABLE tracks ADD COLUMN staff boolean NOT NULL DEFAULT false;
ALTER TABLE channel_stats_minute
    ADD COLUMN entries_staff integer NOT NULL DEFAULT 0 CHECK (entries_staff >= 0),
    ADD COLUMN exits_staff   integer NOT NULL DEFAULT 0 CHECK (exits_staff >= 0),
    ADD CONSTRAINT staff_within_counts CHECK (entries_staff <= entries AND exits_staff <= exits);

-- The runs of a minute cover different parts of it: their seconds add up, to at most the minute. A minute
-- without a measure (a worker before this migration) had frames processed, or it would have no row: it counts
-- whole, an estimate (the hours of such workers read as covered wherever a minute has a row).
CREATE OR REPLACE VIEW channel_minutes AS
SELECT channel_id,
       minute,
       sum(people_count)::integer    AS people_count,
       sum(unique_tracks)::integer   AS unique_tracks,
       max(fps)                      AS fps,
       avg(occupancy_avg)::real      AS occupancy_avg,
       max(occupancy_max)            AS occupancy_max,
       sum(entries)::integer         AS entries,
       sum(exits)::integer           AS exits,
       sum(entries_female)::integer  AS entries_female,
       sum(entries_male)::integer    AS entries_male,
       sum(entries_unknown)::integer AS entries_unknown,
       sum(dwells)::integer          AS dwells,
       (sum(dwell_mean_s * dwells) FILTER (WHERE dwells > 0) / nullif(sum(dwells), 0))::real AS dwell_mean_s,
       count(*)::integer             AS runs,
       least(60, sum(coalesce(covered_s, 60)))::real AS covered_s,
       sum(entries_staff)::integer   AS entries_staff,
       sum(exits_staff)::integer     AS exits_staff
FROM channel_stats_minute
GROUP BY channel_id, minute;

-- One row per channel and hour of its store's wall clock that has any minute row. `hour` is the instant the
-- local hour starts (date_trunc in the store's zone), so the repeated hour of an autumn DST change is two rows
-- (same `local_hour`, different `hour`) and the spring gap has none. `coverage` is the fraction of the hour the
-- channel saw (every zone in use changes its offset on a whole hour, so an hour is 3600 s); an hour missing
-- here was not seen at all: coverage 0, its counts unknown, never zero visitors. Entries are split by the
-- gender known when the minute closed (reports join events with tracks for the final one).
-- `customers` = entries less those of staff (as known when each minute closed).
CREATE VIEW channel_hours AS
SELECT m.channel_id,
       c.store_id,
       c.timezone,
       date_trunc('hour', m.minute, c.timezone)                           AS hour,
       date_trunc('hour', m.minute, c.timezone) AT TIME ZONE c.timezone   AS local_hour,
       sum(m.entries)::integer                                            AS entries,
       sum(m.exits)::integer                                              AS exits,
       sum(m.entries_female)::integer                                     AS entries_female,
       sum(m.entries_male)::integer                                       AS entries_male,
       sum(m.entries_unknown)::integer                                    AS entries_unknown,
       sum(m.people_count)::integer                                       AS people_count,
       sum(m.covered_s)::real                                             AS covered_s,
       (sum(m.covered_s) / 3600)::real                                    AS coverage,
       count(*)::integer                                                  AS minutes,
       sum(m.entries_staff)::integer                                      AS entries_staff,
       sum(m.exits_staff)::integer                                        AS exits_staff,
       (sum(m.entries) - sum(m.entries_staff))::integer                   AS customers
FROM channel_minutes m
JOIN channels c ON c.id = m.channel_id
GROUP BY m.channel_id, c.store_id, c.timezone, date_trunc('hour', m.minute, c.timezone);

-- Each business day a store's live count closed (`occupancy_day` events: one per store and day, written by the
-- entrance worker whose step closed it) and what reconciliation corrected that day. Only this worker writes the
-- kind; a value that is not a count reads as NULL rather than failing the view.
CREATE VIEW store_occupancy_days AS
SELECT payload->>'store'                                                                          AS store_id,
       CASE WHEN payload->>'day' ~ '^\d{4}-\d{2}-\d{2}$' THEN (payload->>'day')::date END          AS day,
       CASE WHEN payload->>'entries' ~ '^\d{1,9}$' THEN (payload->>'entries')::integer END         AS entries,
       CASE WHEN payload->>'exits' ~ '^\d{1,9}$' THEN (payload->>'exits')::integer END             AS exits,
       CASE WHEN payload->>'duplicates' ~ '^\d{1,9}$' THEN (payload->>'duplicates')::integer END   AS duplicates,
       CASE WHEN payload->>'clamped' ~ '^\d{1,9}$' THEN (payload->>'clamped')::integer END         AS clamped,
       CASE WHEN payload->>'residual' ~ '^\d{1,9}$' THEN (payload->>'residual')::integer END       AS residual,
       CASE WHEN payload->>'peak' ~ '^\d{1,9}$' THEN (payload->>'peak')::integer END               AS peak,
       t                                                                                           AS closed_at,
       channel_id                                                                                  AS closed_by
FROM events
WHERE kind = 'occupancy_day';
