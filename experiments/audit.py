"""Leakage audit: what each fold's training and validation splits share with its test
split (speakers, sessions, dialogs, transcripts), before anything trains.

    python -m experiments.audit --data-dir DIR [--protocol session5|loso]
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

import argparse
import sys


def build_parser():
    from mer_tf.commands.flags import add_setting

    parser = argparse.ArgumentParser(prog="python -m experiments.audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="prepared data (default: the demo corpus)")
    add_setting(parser, "data", "protocol", default="loso")
    for setting in ("validation", "subset", "text_overlap", "verify"):
        add_setting(parser, "data", setting)
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    return parser


def main(argv=None) -> int:
    from mer_tf.io.quiet import parse_quietly

    args = parse_quietly(build_parser(), argv)
    from mer_tf.commands.experiment import corpus_and_folds
    from mer_tf.data.errors import DataError
    from mer_tf.evaluation.audit import audit, audit_table
    from mer_tf.io import storage

    try:
        report = audit(*corpus_and_folds(args))
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.data_dir}: {args.protocol}, {args.validation} validation, subset "
          f"{args.subset}, text overlap {args.text_overlap}")
    print(audit_table(report))
    if args.json:
        storage.write_json_atomic(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
