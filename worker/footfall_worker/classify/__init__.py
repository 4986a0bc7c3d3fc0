"""Per-track attributes computed off the frame path: gender from the best face crops, voted."""
