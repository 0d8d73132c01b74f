"""Quiet TensorFlow on the console: what a command prints is the command's, not the
runtime's chatter.

TensorFlow 2.21 writes, on every start on a machine without a GPU, lines such as
`I0000 … oneDNN custom operations are on`, `… Could not find cuda drivers`, `E0000 …
failed call to cuInit: … (303)` and `WARNING: All log messages before
absl::InitializeLog() …`, some before its own log level is read; Keras adds retracing
warnings. Entry points call `quiet_tensorflow()` (`mer_tf.commands.runner` does) before
TensorFlow is imported: the C++
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


def quiet_tensorflow(verbose: bool = False, loggers: bool = True) -> None:
    """Call before TensorFlow is imported (a later call still quiets its loggers).
    `loggers=False` (the Python API: `EmotionRecognizer`) leaves TensorFlow's Python
    loggers, which are the user's process's, as they are."""
    if verbose_requested(verbose):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        with _filtered_stderr():  # no device is touched: a multi-worker run sets them up
            import tensorflow  # noqa: F401
    if not loggers:
        return
    import logging

    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass
