"""`footfall report`: a store's footfall, occupancy, dwell and gender split as one self-contained HTML page plus
the CSV behind each plot. `query` (SQL to dataclasses), `data` (derived tables, CSV), `plots` (matplotlib SVG),
`html` (the page), `command` (the `run(argv)` entry)."""

from footfall_worker.report.command import run

__all__ = ["run"]
