"""Compare two runs on the test utterances both predicted: paired, with intervals.

    python -m experiments.compare runs/concat/A runs/concat/B [--json FILE]

Utterances are matched by id across every fold of each run (a session5 run against a
LOSO run compares Session 5). B minus A for WA, UA and macro F1, each with a paired
bootstrap 95 % interval and p-value (both runs resampled on the same utterances), and
McNemar's exact test on which utterances each gets right. Runs that share no test
utterance are refused.
"""


def build_parser():
    from mer_tf.commands.runner import new_parser

    parser = new_parser("python -m experiments.compare", __doc__)
    parser.add_argument("run_a", metavar="RUN_A", help="a run folder (the reference)")
    parser.add_argument("run_b", metavar="RUN_B", help="a run folder (the candidate)")
    parser.add_argument("--resamples", type=int, default=1000,
                        help="bootstrap resamples (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    return parser


def _compare(args) -> int:
    from mer_tf.commands.runner import report
    from mer_tf.evaluation.compare import compare_runs, comparison_table

    result = compare_runs(args.run_a, args.run_b, args.resamples, args.seed)
    return report(comparison_table(result), result, args.json)


def main(argv=None) -> int:
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _compare, argv)


if __name__ == "__main__":
    raise SystemExit(main())
