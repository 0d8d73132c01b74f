"""Train and evaluate the full model: speech + text + motion capture, fused by
concatenation (the paper's main result).

    python -m experiments.concat                      # the built-in demo corpus
    python -m experiments.concat --data-dir data/iemocap
    python -m experiments.concat --data-dir data/iemocap --protocol loso

Leaves runs/concat/TIMESTAMP/ with config.json, TensorBoard logs, checkpoints,
metrics.json (WA, UA, macro F1, confusion matrix), plots and a SavedModel.
"""

from mer_tf.commands.experiment import run_single
from mer_tf.config import MODALITIES


def main(argv=None):
    return run_single("concat", MODALITIES, __doc__, argv)


if __name__ == "__main__":
    main()
