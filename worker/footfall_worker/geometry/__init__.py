"""`footfall draw`: a channel's counting lines, zones and exclusion masks drawn over a frame of its camera, so a
store admin checks the geometry by looking (`overlay.py` draws, `page.py` the page, `command.py` the command)."""
