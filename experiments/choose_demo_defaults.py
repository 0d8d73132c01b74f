"""Choose the demo's training defaults on the validation split alone.

Trains `concat` on the demo corpus for each candidate (modality dropout, text
dropout, learning rate) and ranks them by validation UA (speaker Ses04F, held out
of the training sessions); test figures are never read. The winner is what
the `demo` preset in `mer_tf/config/presets.py` holds; docs/results.md records the table.

    python -m experiments.choose_demo_defaults [--seeds 0,1] [--runs-root runs]
"""

import itertools
import json
import os
import sys

CANDIDATES = [*itertools.product((0.0, 0.3, 0.5), (0.1, 0.5), (1e-3,)),
              (0.3, 0.1, 3e-4), (0.3, 0.1, 3e-3)]


def build_parser():
    from mer_tf.commands.runner import new_parser

    parser = new_parser("python -m experiments.choose_demo_defaults", __doc__)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    parser.add_argument("--runs-root", default="runs", help="parent of the runs' folder")
    return parser


def main(argv=None):
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _choose, argv)


def _choose(args):
    from mer_tf.commands.experiment import FAILED_EXIT_CODE, run_single
    from mer_tf.config import MODALITIES
    from mer_tf.evaluation.summary import format_table
    from mer_tf.layout import RunLayout

    root = os.path.join(args.runs_root, "choose_demo_defaults")
    rows, results = [], []
    for modality_dropout, text_dropout, rate in CANDIDATES:
        scores = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            name = f"md{modality_dropout}-td{text_dropout}-lr{rate:g}-seed{seed}"
            run_dir = os.path.join(root, name)
            try:
                run_single("concat", MODALITIES, "", [
                    "--modality-dropout", str(modality_dropout), "--text-dropout",
                    str(text_dropout), "--learning-rate", str(rate), "--backbone-learning-rate",
                    str(rate), "--seed", str(seed), "--run-dir", run_dir, "--no-export",
                    "--quiet"])
            except SystemExit as exit_:
                if exit_.code != FAILED_EXIT_CODE:
                    raise
            with open(RunLayout(run_dir).summary) as f:
                fold = json.load(f)["folds"][0]
            scores.append(fold["validation"]["ua"])  # validation only: test is not read
        results.append({"modality_dropout": modality_dropout, "text_dropout": text_dropout,
                        "learning_rate": rate, "validation_ua": scores})
        rows.append([modality_dropout, text_dropout, f"{rate:g}",
                     " / ".join(f"{s:.3f}" for s in scores), f"{sum(scores) / len(scores):.3f}"])
    rows.sort(key=lambda r: -float(r[-1]))
    table = format_table(["modality dropout", "text dropout", "learning rate",
                          "validation UA per seed", "mean"], rows)
    with open(os.path.join(root, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(table, file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
