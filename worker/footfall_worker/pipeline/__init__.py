"""A channel's pipeline: frames in, tracks, events, stats and live state out (`ChannelWorker` runs it)."""
