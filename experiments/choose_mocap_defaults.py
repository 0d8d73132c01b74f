"""Choose the motion-capture transformer's defaults on validation splits alone.

Trains `experiments.mocap` under 5-fold leave-one-session-out on the demo corpus for
the default and for each variant that changes one setting back (or to another
choice), and ranks them by validation UA averaged over the five folds' validation
splits (a held-out speaker of the training sessions each; no test figure is read).
The motion-capture table of docs/results.md is what this prints.

    python -m experiments.choose_mocap_defaults [--seed 0] [--runs-root runs]
"""

import json
import os

# (what changes, the flags that change it); the first row is the default.
CANDIDATES = [
    ("the default", []),
    ("positions only", ["--mocap-features", "positions"]),
    ("positions + velocity", ["--mocap-features", "positions+velocity"]),
    ("scale over the training split", ["--mocap-scale", "training"]),
    ("post-norm block", ["--mocap-block", "post-norm"]),
    ("mean pooling", ["--mocap-pool", "mean"]),
    ("sinusoidal positions", ["--mocap-position", "sinusoidal"]),
    ("2 layers, width 64", ["--mocap-layers", "2", "--mocap-width", "64",
                            "--mocap-intermediate", "128"]),
    ("mocap learning rate 1e-3", ["--mocap-learning-rate", "1e-3"]),
    ("the run's learning rate (3e-3)", ["--mocap-learning-rate", "0"]),
    ("dropout 0.3", ["--mocap-dropout", "0.3"]),
    ("the old tower", ["--mocap-features", "positions", "--mocap-scale", "training",
                       "--mocap-block", "post-norm", "--mocap-pool", "mean", "--mocap-layers",
                       "2", "--mocap-width", "64", "--mocap-intermediate", "128",
                       "--mocap-learning-rate", "0"]),
]


def build_parser():
    from mer_tf.commands.runner import new_parser

    parser = new_parser("python -m experiments.choose_mocap_defaults", __doc__)
    parser.add_argument("--seed", default="0", help="the runs' seed (default: 0)")
    parser.add_argument("--runs-root", default="runs", help="parent of the runs' folder")
    parser.add_argument("--only", help="comma-separated row numbers (0 = the default)")
    return parser


def main(argv=None):
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _choose, argv)


def _choose(args):
    from mer_tf.commands.experiment import FAILED_EXIT_CODE, run_single
    from mer_tf.evaluation.metrics import sample_std
    from mer_tf.evaluation.summary import format_table
    from mer_tf.layout import RunLayout

    root = os.path.join(args.runs_root, "choose_mocap_defaults")
    chosen = ([int(i) for i in args.only.split(",")] if args.only
              else range(len(CANDIDATES)))
    rows, results = [], []
    for index in chosen:
        label, flags = CANDIDATES[index]
        run_dir = os.path.join(root, f"{index:02d}-seed{args.seed}")
        try:
            run_single("mocap", ("mocap",), "", [*flags, "--protocol", "loso", "--seed",
                                                 args.seed, "--run-dir", run_dir,
                                                 "--no-export", "--quiet"])
        except SystemExit as exit_:
            if exit_.code != FAILED_EXIT_CODE:
                raise
        with open(RunLayout(run_dir).summary) as f:
            folds = json.load(f)["folds"]
        scores = [fold["validation"]["ua"] for fold in folds]  # validation only
        mean = sum(scores) / len(scores)
        results.append({"row": index, "change": label, "flags": flags, "run_dir": run_dir,
                        "validation_ua": scores, "mean": mean})
        rows.append([label, " ".join(flags) or "-", " / ".join(f"{s:.3f}" for s in scores),
                     f"{mean:.3f} ± {sample_std(scores):.3f}"])
    rows.sort(key=lambda r: -float(r[-1].split()[0]))
    table = format_table(["change", "flags", "validation UA per fold", "mean ± sd"], rows)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, f"results-seed{args.seed}.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(table)
    return results


if __name__ == "__main__":
    main()
