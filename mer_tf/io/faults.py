"""Named points between the writes of a long job, where tests kill it on purpose.

Every place where a kill would leave the disk in a distinct state calls `point(name)`.
Unarmed (always, outside tests) it is a dictionary lookup. A test arms one point:

- in a subprocess, with `MER_TF_KILL_AT=NAME` (or `NAME@N`, the N-th time it is
  reached): the process sends itself SIGKILL there, a real kill with no clean-up;
- in its own process, with `arm(NAME, times)`: `point` raises `Killed` there (a
  BaseException, so no `except Exception` of the package swallows it).

Points (see where each is called): `epoch:backup-written`, `epoch:committed`,
`epoch:applied`, `fold:trained`, `fold:evaluated`, `fold:exported`, `run:folds-done`,
`prepare:shard-written`.
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT = "MER_TF_KILL_AT"
_armed: dict[str, int] = {}
_reached: dict[str, int] = {}


class Killed(BaseException):
    """Raised at an armed point in this process (tests)."""


def arm(name: str, times: int = 1) -> None:
    """Raise `Killed` the `times`-th time `name` is reached from now on."""
    _armed[name] = int(times)
    _reached[name] = 0


def disarm() -> None:
    _armed.clear()
    _reached.clear()


def _from_environment() -> tuple[str, int] | None:
    value = os.environ.get(ENVIRONMENT)
    if not value:
        return None
    name, _, times = value.partition("@")
    return name, int(times or 1)


def point(name: str) -> None:
    target = _from_environment()
    if target is not None and target[0] == name:
        _reached[name] = _reached.get(name, 0) + 1
        if _reached[name] == target[1]:
            os.kill(os.getpid(), signal.SIGKILL)
    if name in _armed:
        _reached[name] = _reached.get(name, 0) + 1
        if _reached[name] == _armed[name]:
            del _armed[name]
            raise Killed(name)
