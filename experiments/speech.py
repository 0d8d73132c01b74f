"""Train and evaluate one modality, speech alone: wav2vec2 (TF-Hub) over the waveform.

    python -m experiments.speech                          # the built-in demo corpus
    python -m experiments.speech --data-dir data/iemocap

Same flags and run folder as experiments.concat.
"""

from mer_tf.commands.experiment import run_single


def main(argv=None):
    return run_single("speech", ("speech",), __doc__, argv)


if __name__ == "__main__":
    main()
