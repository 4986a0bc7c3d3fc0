-- Where people stand: per channel, hour and run, feet points counted on a coarse grid over the frame (row by
-- row from the top left; `frames` processed in the hour). No pixels: counts of positions only. A run re-sends
-- its hour as it grows (the newest replaces); reports add the runs of an hour up.
CREATE TABLE channel_heatmap_hour (
    channel_id text NOT NULL REFERENCES channels (id) DEFERRABLE INITIALLY DEFERRED,
    hour       timestamptz NOT NULL CHECK (extract(epoch FROM hour) % 3600 = 0),
    run_id     text NOT NULL,
    cols       smallint NOT NULL CHECK (cols BETWEEN 1 AND 256),
    rows       smallint NOT NULL CHECK (rows BETWEEN 1 AND 256),
    counts     integer[] NOT NULL CHECK (cardinality(counts) = cols * rows AND 0 <= ALL (counts)),
    frames     integer NOT NULL CHECK (frames >= 0),
    PRIMARY KEY (channel_id, hour, run_id)
);
