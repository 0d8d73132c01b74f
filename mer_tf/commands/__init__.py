"""What the command-line entry points (`experiments/`) share: every setting declared once
as a flag (`flags`), one RunConfig per run and one-line errors (`experiment`), the local
multi-worker launcher (`launch`) and the Colab notebook's helpers (`colab`).

The top floor: may import every package below it; nothing in the library imports it.
"""
