"""How every entry point starts and ends: one runner, so no command handles errors itself.

`run_command(parser, body, argv, check)` adds `--verbose`, parses, runs `check(args)`
(paths and arguments, before TensorFlow's 30 s import), quiets TensorFlow, then runs
`body(args)` with every error a user can act on said in one line with exit status 2:
bad input (`ValueError`, `DataError` among them), a folder in use (`Locked`) or holding
another run (`RunFolderConflict`), a missing file, a folder that cannot be written, a
full disk. `--verbose` (or MER_TF_VERBOSE=1) keeps TensorFlow's log lines and turns
those errors back into tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from mer_tf.io import storage
from mer_tf.io.quiet import VERBOSE_VARIABLE, quiet_tensorflow, verbose_requested

USAGE_EXIT_CODE = 2  # bad input, a folder in use or holding another run: one line
FAILED_EXIT_CODE = 3  # a run finished, but a fold learned nothing usable

DATA_DIR_HELP = ("prepared data (python -m experiments.prepare); omitted: the built-in demo "
                 "corpus and demo backbones")


class Refused(SystemExit):
    """A command ended by an error said in one line (exit status 2)."""


def _one_line(message: str, error: BaseException | None = None) -> Refused:
    hint = getattr(error, "hint", "")
    print(f"error: {message}{f' ({hint})' if hint else ''}", file=sys.stderr)
    return Refused(USAGE_EXIT_CODE)


@contextlib.contextmanager
def reported_as_one_line(verbose: bool = False):
    """The block's errors a user can act on end the command in one line, exit status 2;
    with `verbose`, as tracebacks. An accelerator's out of memory stays a traceback."""
    from mer_tf.io.locking import Locked

    try:
        yield
    except Exception as error:  # noqa: BLE001  sorted below; the rest is raised again
        if verbose_requested(verbose):
            raise
        message = _message_for_user(error, Locked)
        if message is None:
            raise
        raise _one_line(message, error) from None


def _message_for_user(error: Exception, locked) -> str | None:
    tf = sys.modules.get("tensorflow")  # its errors can only come once it is loaded
    if storage.is_disk_full(error):
        return f"the disk is full: {getattr(error, 'message', error)}"
    if tf is not None and isinstance(error, tf.errors.PermissionDeniedError):
        return f"cannot write there: {error.message}"
    if tf is not None and isinstance(error, (tf.errors.NotFoundError,
                                             tf.errors.AlreadyExistsError)):
        return error.message  # tf.io.gfile's, for a gs:// path say
    if isinstance(error, PermissionError):
        return f"cannot write there: {error.filename or error}: {error.strerror}"
    if isinstance(error, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return f"{error.filename}: {error.strerror}" if error.filename else str(error)
    if isinstance(error, OSError) and error.filename:  # a read-only folder, say
        return f"{error.filename}: {error.strerror}"
    if isinstance(error, (ValueError, locked)):  # DataError and RunFolderConflict are ValueErrors
        return str(error)
    return None


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true",
                        help=f"keep TensorFlow's own log lines, and show errors as "
                             f"tracebacks (or set {VERBOSE_VARIABLE}=1)")


def given_flags(parser: argparse.ArgumentParser, argv) -> dict:
    """The flags actually on the command line (not argparse's defaults)."""
    saved = {action.dest: action.default for action in parser._actions}
    try:
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        return vars(parser.parse_args(argv))
    finally:
        for action in parser._actions:
            action.default = saved[action.dest]


def parse(parser: argparse.ArgumentParser, argv=None, check=None) -> argparse.Namespace:
    """Parsed flags (with `args.given`: only those on the command line), checked by
    `check(args)` before TensorFlow starts, TensorFlow then quieted."""
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    args.given = given_flags(parser, argv)
    if check is not None:
        with reported_as_one_line(args.verbose):
            check(args)
    quiet_tensorflow(args.verbose)
    return args


def run_command(parser: argparse.ArgumentParser, body, argv=None, check=None):
    """Parses as `parse` does, then returns `body(args)` (an exit status); an error said in
    one line returns 2."""
    try:
        args = parse(parser, argv, check)
        with reported_as_one_line(args.verbose):
            return body(args)
    except Refused as refused:
        return refused.code


def report(text: str, result, json_path: str | None) -> int:
    """What a reporting command ends with: the table printed, the result also written as
    JSON where `--json` asks (atomically); exit status 0."""
    print(text)
    if json_path:
        storage.write_json_atomic(json_path, result)
    return 0


def new_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An entry point's parser: its module docstring as the description, kept as written."""
    return argparse.ArgumentParser(prog=prog, description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
