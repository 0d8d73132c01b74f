"""Train and evaluate one modality, motion capture alone: a transformer over the marker frames.

    python -m experiments.mocap                          # the built-in demo corpus
    python -m experiments.mocap --data-dir data/iemocap

Same flags and run folder as experiments.concat.
"""

from mer_tf.commands.experiment import run_single


def main(argv=None):
    return run_single("mocap", ("mocap",), __doc__, argv)


if __name__ == "__main__":
    main()
