"""Train and evaluate one modality, text alone: BERT (keras-hub) over the transcript.

    python -m experiments.text                          # the built-in demo corpus
    python -m experiments.text --data-dir data/iemocap

Same flags and run folder as experiments.concat.
"""

from mer_tf.commands.experiment import run_single


def main(argv=None):
    return run_single("text", ("text",), __doc__, argv)


if __name__ == "__main__":
    main()
