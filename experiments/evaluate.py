"""A trained run's model on another prepared corpus, or on its own test split.

    python -m experiments.evaluate --run runs/concat/TIMESTAMP --data-dir DATA [--split all]
    python -m experiments.evaluate --run RUN --data-dir THE_RUNS_OWN_DATA --split test

Classes are matched by name, or by the names the cross-corpus label set gives them
(IEMOCAP's exc and MELD's joy are happy; the report says which); the corpus's utterances
of a class the model never learned are left out and counted; WA, UA and macro F1 with
bootstrap 95 % intervals, recall per class and the confusion matrix. `--split all` (the
default) scores every utterance of another corpus and is refused on the corpus the run
trained on; `--split test` scores the test split the run's protocol makes of the corpus
(on the run's own corpus, each fold's model its own test sessions: the run's own
figures); `--split NAME` scores one of the corpus's own splits (MSP-Podcast's Test2,
say; on the run's own corpus only when no fold trained or validated on it). A LOSO run's
fold models are averaged on another corpus, as `experiments.predict` averages them.
"""


def build_parser():
    from mer_tf.commands.runner import new_parser

    parser = new_parser("python -m experiments.evaluate", __doc__)
    parser.add_argument("--run", required=True, help="a run folder")
    parser.add_argument("--data-dir", required=True,
                        help="a prepared corpus (python -m experiments.prepare)")
    parser.add_argument("--split", default="all",
                        help="all (every utterance), test (the test split the run's protocol "
                             "makes), or one of the corpus's own splits by name, e.g. Test2 "
                             "(default: %(default)s)")
    parser.add_argument("--fold", help="LOSO runs: one fold's model (default: all, averaged)")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    return parser


def _check(args) -> None:
    from mer_tf.data.corpus import check_prepared
    from mer_tf.io import storage
    from mer_tf.layout import RunLayout

    if not storage.is_remote(args.run) and not storage.exists(RunLayout(args.run).config):
        raise ValueError(f"{args.run}: not a run folder (no config.json)")
    if not storage.is_remote(args.data_dir):
        check_prepared(args.data_dir)


def _evaluate(args) -> int:
    from mer_tf.commands.runner import report
    from mer_tf.training.transfer import evaluate_on, report_text

    result = evaluate_on(args.run, args.data_dir, args.split, args.fold)
    return report(report_text(result), result, args.json)


def main(argv=None) -> int:
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _evaluate, argv, check=_check)


if __name__ == "__main__":
    raise SystemExit(main())
