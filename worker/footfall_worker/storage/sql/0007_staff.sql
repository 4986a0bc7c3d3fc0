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

-- `customers` = entries less those of staff (as known when each minute closed).
CREATE OR REPLACE VIEW channel_hours AS
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
