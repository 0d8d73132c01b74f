"""Thin command-line entry points: `python -m experiments.<name> --help`."""
