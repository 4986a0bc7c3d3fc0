"""Where the worker keeps state outside its process: Redis (live state, caches) and the databases."""
