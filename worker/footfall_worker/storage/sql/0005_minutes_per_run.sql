-- A minute's rollup per run: a worker restarted within a minute wrote its share over the earlier run's, and
-- that run's entries, exits and dwells of the minute were lost. Each run now keeps its own row (re-sent rows of
-- a run replace it, so replaying a journal twice changes nothing), and `channel_minutes` adds the runs up.
-- Rows written before this migration are one run each: run_id ''.
ALTER TABLE channel_stats_minute ADD COLUMN run_id text NOT NULL DEFAULT '';
ALTER TABLE channel_stats_minute DROP CONSTRAINT channel_stats_minute_pkey;
ALTER TABLE channel_stats_minute ADD PRIMARY KEY (channel_id, minute, run_id);

-- One row per channel and minute, over its runs. Counts add up; occupancy is the mean of the runs' means
-- (each ran part of the minute) and the max of their maxima; fps the highest; a mean dwell is weighted by dwells.
CREATE VIEW channel_minutes AS
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
       count(*)::integer             AS runs
FROM channel_stats_minute
GROUP BY channel_id, minute;
