"""Re-identification of recently ended tracks: appearance embeddings and a per-channel Redis gallery."""

from footfall_worker.reid.appearance import AppearanceEncoder, ColorHistogramEncoder, mean_embedding, valid_rows
from footfall_worker.reid.cache import ReidCache, ReidMatch, ReidStats, connect
from footfall_worker.reid.linker import Link, TrackLinker

__all__ = [
    "AppearanceEncoder",
    "ColorHistogramEncoder",
    "ReidCache",
    "ReidMatch",
    "ReidStats",
    "Link",
    "TrackLinker",
    "connect",
    "mean_embedding",
    "valid_rows",
]
