"""Synthetic crowd generator internals: scene extraction, scenarios with exact truth, rendering."""
