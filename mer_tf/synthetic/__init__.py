"""The built-in demo: a corpus written in IEMOCAP's exact release layout (`release`, with
its cues, actors and best reachable accuracy in `design`), synthetic conversations with
their transcripts (`conversation`) and the demo's data and backbones (`demo`).

Production code (`make demo` runs on it), not a test double. Imports every package
below `commands`, the stand-in backbones of `testing` among them.
"""
