"""Store analytics on top of the tracks: counting lines (in/out), zones (enter, exit, dwell, occupancy)."""
