"""`footfall doctor`: what this machine and its dependencies can do, the first thing to run when something looks
wrong (`checks.py` the checks, `command.py` the command)."""
