"""Leakage audit: what each fold's training and validation splits share with its test
split (speakers, sessions, dialogs, transcripts), before anything trains.

    python -m experiments.audit --data-dir DIR [--protocol session5|loso|speaker-folds]
        [--validation speaker|stratified] [--subset all|improvised|scripted]
        [--text-overlap keep|drop] [--verify-data checksum|size|off] [--json FILE]

The prepared data is checked against its manifest first, as training checks it: a
damaged or edited corpus is one line naming the file, never an audit of what is left.

IEMOCAP's scripted dialogs are the same three plays in every session: under
leave-one-session-out the test session's scripted lines are in training too, and a text
model can memorise them. Transcripts count as shared after lower-casing and removing
punctuation, bracketed noise tokens ([LAUGHTER]) and repeated spaces. `--text-overlap
drop` shows the folds with every such utterance removed from training and validation.
Every training run stores the same block in each fold's metrics.json as `leakage`.
"""


def build_parser():
    from mer_tf.commands.flags import add_setting
    from mer_tf.commands.runner import DATA_DIR_HELP, new_parser

    parser = new_parser("python -m experiments.audit", __doc__)
    parser.add_argument("--data-dir", action="append", help=DATA_DIR_HELP
                        + "; given twice or more, the corpora combined, audited corpus by "
                          "corpus")
    add_setting(parser, "data", "protocol", default="loso")
    for setting in ("speaker_folds", "validation", "subset", "text_overlap", "verify"):
        add_setting(parser, "data", setting)
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    return parser


def _audit(args) -> int:
    from mer_tf.commands.experiment import corpus_and_folds
    from mer_tf.commands.runner import report
    from mer_tf.evaluation.audit import audit, audit_table

    result = audit(*corpus_and_folds(args))
    print(f"{args.data_dir}: {args.protocol}, {args.validation} validation, subset "
          f"{args.subset}, text overlap {args.text_overlap}")
    return report(audit_table(result), result, args.json)


def main(argv=None) -> int:
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _audit, argv)


if __name__ == "__main__":
    raise SystemExit(main())
