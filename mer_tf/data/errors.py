"""Errors for bad input, and the policy that decides whether a run stops or skips.

Every message names the file and, where there is one, the line (or field), so a
user can open the file and see the problem.
"""

from __future__ import annotations

import dataclasses
import logging

log = logging.getLogger("mer_tf.data")

ON_ERROR_CHOICES = ("stop", "skip")


class DataError(ValueError):
    """Bad input: `path:line: message`.

    `utterance_ids` lists the utterances the problem makes unusable (empty when
    it concerns a whole folder); `hint` says what the user may do instead.
    """

    hint = ""

    def __init__(self, path: str, message: str, line: int | None = None,
                 utterance_ids: tuple[str, ...] = ()):
        self.path = str(path)
        self.line = line
        self.message = message
        self.utterance_ids = tuple(utterance_ids)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"

    def as_record(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "reason": self.message,
            "utterance_ids": list(self.utterance_ids),
        }


@dataclasses.dataclass
class ErrorPolicy:
    """`stop` raises the first DataError; `skip` records it and goes on."""

    on_error: str = "stop"
    records: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.on_error not in ON_ERROR_CHOICES:
            raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got {self.on_error!r}")

    def report(self, error: DataError) -> None:
        if self.on_error == "stop":
            if error.utterance_ids:  # a bad file of the release, not a wrong path
                error.hint = "or --on-error skip to skip the utterances it concerns"
            raise error
        log.warning("skipped: %s", error)
        self.records.append(error.as_record())
