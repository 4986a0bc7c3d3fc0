"""Multi-person tracking: our own ByteTrack, track lifecycle events, and per-track gender votes."""
