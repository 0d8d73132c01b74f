"""The command runner: errors a user can act on are one line."""

import pytest


def test_a_full_disk_is_one_line_whichever_layer_says_it(capsys):
    """Python says ENOSPC with an OSError, tf.io.gfile with ResourceExhaustedError; an
    accelerator's out-of-memory (also ResourceExhaustedError) stays a traceback."""
    import errno

    import tensorflow as tf

    from mer_tf.commands.runner import USAGE_EXIT_CODE, reported_as_one_line

    for error in (OSError(errno.ENOSPC, "No space left on device"),
                  tf.errors.ResourceExhaustedError(None, None, "runs/x/checkpoint.tmp; No "
                                                               "space left on device")):
        with pytest.raises(SystemExit) as stopped, reported_as_one_line():
            raise error
        assert stopped.value.code == USAGE_EXIT_CODE
        assert capsys.readouterr().err.startswith("error: the disk is full: ")
    with pytest.raises(tf.errors.ResourceExhaustedError), reported_as_one_line():
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
