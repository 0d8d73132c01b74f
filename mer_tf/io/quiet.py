"""Quiet TensorFlow on the console: what a command prints is the command's, not the
runtime's chatter.

TensorFlow 2.21 writes, on every start on a machine without a GPU, lines such as
`I0000 … oneDNN custom operations are on`, `… Could not find cuda drivers`, `E0000 …
failed call to cuInit: … (303)` and `WARNING: All log messages before
absl::InitializeLog() …`, some before its own log level is read; Keras adds retracing
warnings. Entry points call `quiet_tensorflow()` before TensorFlow is imported: the C++
level goes to errors only (`TF_CPP_MIN_LOG_LEVEL=3`), the lines written while
TensorFlow loads are filtered (any other line still shows), and TensorFlow's Python
logger says errors only. `--verbose` or `MER_TF_VERBOSE=1` keeps everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

VERBOSE_VARIABLE = "MER_TF_VERBOSE"
_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} "
                    r"\d\d:\d\d:\d\d|To enable the following instructions: )")


def verbose_requested(verbose: bool = False) -> bool:
    return verbose or os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0")


@contextlib.contextmanager
def _filtered_stderr():
    """File descriptor 2 into a temporary file for the block; then the lines that are not
    runtime noise go to the real stderr."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor (some notebook kernels)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not _NOISE.match(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def quiet_tensorflow(verbose: bool = False) -> None:
    """Call before TensorFlow is imported (a later call still quiets its loggers)."""
    if verbose_requested(verbose):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        with _filtered_stderr():  # no device is touched: a multi-worker run sets them up
            import tensorflow  # noqa: F401
    import logging

    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass


def add_verbose_flag(parser) -> None:
    """--verbose, as every entry point declares it."""
    parser.add_argument("--verbose", action="store_true",
                        help="keep TensorFlow's own log lines (or set MER_TF_VERBOSE=1)")


def parse_quietly(parser, argv=None, check=None):
    """`parser` with --verbose added, parsed; then `check(args)`, which raises ValueError
    (a DataError is one) for bad arguments, said in one line with exit status 2 before
    TensorFlow starts; then TensorFlow quieted unless asked not to (the start of every
    entry point that is no training command)."""
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    if check is not None:
        refuse_early(check, args)
    quiet_tensorflow(args.verbose)
    return args


def refuse_early(check, args) -> None:
    """`check(args)`; a ValueError it raises (a DataError is one) ends the command with
    one line and exit status 2, before TensorFlow starts."""
    try:
        check(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
