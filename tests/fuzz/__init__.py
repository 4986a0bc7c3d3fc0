"""Coverage-guided fuzzing (atheris, libFuzzer underneath) of the parsers that read hostile input; `test_fuzz.py`
runs each target of `targets/` for a bounded number of inputs.

`corpus/NAME/` holds the seeds of target NAME. A seed is a raw input (a spec or a store config as JSON, a journal
segment, a live hash as JSON, a URL, a text) unless it starts with a NUL byte: then it is a structured draw, which
the target's `drawn` reads through a FuzzedDataProvider. `drawn_*` seeds were kept from longer fuzzing runs;
`regression_*` seeds reproduce a bug the fuzzers found. A change to the drawing code (`targets/_*.py`) changes
what a structured seed draws, so its regression is then only as good as the raw seeds beside it.
"""
