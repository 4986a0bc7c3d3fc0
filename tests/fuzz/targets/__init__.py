"""One atheris target per parser: `python -m tests.fuzz.targets.NAME -runs=N [corpus dirs...]`."""
