"""Footfall channel worker: RTSP ingest, detection and gender on Triton, tracking, storage."""

__version__ = "0.1.0"
