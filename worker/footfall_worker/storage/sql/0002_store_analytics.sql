-- Store analytics: counting lines and zones per channel. Their events go to `events` as they happen:
--   line_crossing  track_id, payload {"line": id, "direction": "in" | "out", "gender": "female" | "male" | null}
--   zone_enter     track_id, payload {"zone": id}
--   zone_exit      track_id, payload {"zone": id, "dwell_s": seconds inside}
-- and roll up per minute here. `entries_*` split the minute's entries by the gender known when the minute
-- closed (a label decided later is in `tracks.gender`; reports join the events with tracks for the final one).
ALTER TABLE channel_stats_minute
    ADD COLUMN entries         integer NOT NULL DEFAULT 0 CHECK (entries >= 0),
    ADD COLUMN exits           integer NOT NULL DEFAULT 0 CHECK (exits >= 0),
    ADD COLUMN entries_female  integer NOT NULL DEFAULT 0 CHECK (entries_female >= 0),
    ADD COLUMN entries_male    integer NOT NULL DEFAULT 0 CHECK (entries_male >= 0),
    ADD COLUMN entries_unknown integer NOT NULL DEFAULT 0 CHECK (entries_unknown >= 0),
    ADD COLUMN dwells          integer NOT NULL DEFAULT 0 CHECK (dwells >= 0),
    ADD COLUMN dwell_mean_s    real CHECK (dwell_mean_s IS NULL OR dwell_mean_s >= 0),
    ADD CONSTRAINT entries_split CHECK (entries_female + entries_male + entries_unknown = entries);

CREATE INDEX events_channel_kind_t ON events (channel_id, kind, t);
