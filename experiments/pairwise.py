"""Train the three modality pairs (speech+text, speech+mocap, text+mocap), one run
each, and print a table; `--subsets all` adds each modality alone and all three,
which is the table that shows what fusion adds.

    python -m experiments.pairwise
    python -m experiments.pairwise --subsets all --data-dir data/iemocap

Runs go to runs/pairwise/TIMESTAMP/<pair>/; point TensorBoard at the group
folder to compare them side by side (hparams dashboard).
"""

from mer_tf.commands.experiment import ALL_SUBSETS, run_group

PAIRS = ("speech+text", "speech+mocap", "text+mocap")


def _arguments(parser):
    parser.add_argument("--subsets", choices=("pairs", "all"), default="pairs",
                        help="pairs: the three pairs; all: every non-empty subset (7 runs)")


def _variants(args):
    names = PAIRS if args.subsets == "pairs" else tuple(ALL_SUBSETS)
    return {name: {"model": {"modalities": list(ALL_SUBSETS[name])}} for name in names}


def main(argv=None):
    return run_group("pairwise", _variants, __doc__, argv, _arguments)


if __name__ == "__main__":
    main()
