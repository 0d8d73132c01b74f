"""What the command-line entry points (`experiments/`) share: how each starts and ends
(`runner`: quiet start, `--verbose`, every known error in one line), every setting
declared once as a flag (`flags`), one RunConfig per run and its training (`experiment`),
what a finished run says next (`next_steps`), the local multi-worker launcher (`launch`)
and the Colab notebook's helpers (`colab`).

The top floor: may import every package below it; nothing in the library imports it.
"""
