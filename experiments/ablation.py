"""Optimizer ablation: the full model under Adam, SGD and RMSprop (and any other
flags given, shared by every run), one run each, then a table.

    python -m experiments.ablation
    python -m experiments.ablation --data-dir data/iemocap --optimizers adam,sgd

Runs go to runs/ablation/TIMESTAMP/<optimizer>/; TensorBoard on the group folder
compares them in the hparams dashboard.
"""

from mer_tf.commands.experiment import run_group
from mer_tf.config import MODALITIES
from mer_tf.config.run import OPTIMIZERS


def _arguments(parser):
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS),
                        help="comma-separated optimizers to compare (default: %(default)s)")


def _variants(args):
    chosen = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    unknown = [o for o in chosen if o not in OPTIMIZERS]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {unknown}; choose from {OPTIMIZERS}")
    return {name: {"model": {"modalities": list(MODALITIES)}, "train": {"optimizer": name}}
            for name in chosen}


def main(argv=None):
    return run_group("ablation", _variants, __doc__, argv, _arguments)


if __name__ == "__main__":
    main()
