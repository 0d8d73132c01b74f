"""What a finished run prints last: the commands to look at it, predict with it and
compare it, written for the interpreter that ran it."""

from __future__ import annotations

import os
import sys


def interpreter() -> str:
    """This Python as a person would type it from here: `.venv/bin/python` when it lies
    under the working folder (the Makefile's environment, activated or not), `python` when
    that is it on PATH, else its full path. A bare `python` or `tensorboard` outside the
    environment fails with ModuleNotFoundError."""
    import shutil

    executable = sys.executable
    relative = os.path.relpath(executable)
    if not relative.startswith(os.pardir):
        return relative
    on_path = shutil.which("python")
    if on_path and os.path.realpath(on_path) == os.path.realpath(executable):
        return "python"
    return executable


def next_steps(config) -> str:
    """What to do with the run just made: look at it, predict with it, compare it."""
    from mer_tf.layout import RunLayout

    run = config.run_dir
    folds = RunLayout(run).fold_names()
    python = interpreter()
    lines = ["next:",
             f"  {python} -m experiments.tensorboard {run}   # curves, confusion, hparams",
             f"  {python} -m experiments.predict --run {run} --wav TURN.wav --transcript "
             "\"TEXT\""]
    if len(folds) > 1:
        lines[-1] += f"  # averages the {len(folds)} fold models; --fold {folds[0]} picks one"
    lines.append(f"  {python} -m experiments.compare {run} OTHER_RUN   # paired, with intervals")
    if config.demo:
        lines.append("  (a demo model: trained on the synthetic corpus with untrained backbones; "
                     "its answers on real speech mean nothing)")
    return "\n".join(lines)
