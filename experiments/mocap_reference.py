"""The motion-capture reference: movement statistics into a logistic regression, per fold.

    python -m experiments.mocap_reference [--data-dir DIR] [--protocol loso|session5|speaker-folds]
        [--mocap-frames N] [--json FILE]

What a model can reach from the frames as the pipeline delivers them (the mocap
tower's reader, the same folds and validation split as training): per marker group,
the log RMS displacement about the mean pose, mean speed, mean acceleration, speed over
displacement (rhythm) and how often velocity changes sign, standardised on the
training split, into scikit-learn's logistic regression with its regularisation chosen
on validation. See mer_tf/evaluation/mocap_reference.py.
"""


def build_parser():
    from mer_tf.commands.flags import add_setting
    from mer_tf.commands.runner import DATA_DIR_HELP, new_parser

    parser = new_parser("python -m experiments.mocap_reference", __doc__)
    parser.add_argument("--data-dir", help=DATA_DIR_HELP)
    add_setting(parser, "data", "protocol", default="loso")
    for setting in ("speaker_folds", "validation", "subset", "text_overlap", "verify"):
        add_setting(parser, "data", setting)
    add_setting(parser, "model", "mocap.max_frames", type=int, default=None,
                help="frames kept per utterance (default: the preset's: 96 for the demo "
                     "corpus, 256 with --data-dir)")
    parser.add_argument("--json", metavar="FILE", help="also write every fold's figures as JSON")
    return parser


def _reference(args) -> int:
    from mer_tf.commands.experiment import corpus_and_folds
    from mer_tf.commands.runner import report
    from mer_tf.config import ModelConfig, presets
    from mer_tf.config.settings import from_dict
    from mer_tf.evaluation.mocap_reference import reference
    from mer_tf.evaluation.summary import format_table
    from mer_tf.models.towers.mocap import mocap_reader

    preset = "paper" if args.data_dir else "demo"
    corpus, folds = corpus_and_folds(args)
    overrides = {"mocap": {"view": "frames"}, "class_names": list(corpus.classes)}
    if args.mocap_frames:
        overrides["mocap"]["max_frames"] = args.mocap_frames
    config = from_dict(ModelConfig, presets.settings_of(preset, {"model": overrides})["model"])
    reader = mocap_reader(config.mocap, corpus.facts)
    result = reference(corpus, folds, reader, config.class_names)
    rows = [[f["fold"], f["train_utterances"], f"{f['C']:g}", f"{f['validation']['ua']:.3f}",
             f"{f['test']['ua']:.3f}"] for f in result["folds"]]
    print(f"{args.data_dir}: {args.protocol}, {reader.frames} frames of "
          f"{', '.join(s for s, _ in reader.streams)}")
    print(format_table(["fold", "training utterances", "C", "validation UA", "test UA"], rows))
    return report(f"test UA {result['test_ua_mean']:.3f} ± {result['test_ua_std']:.3f} "
                  f"(mean ± sample sd over {len(rows)} folds)", result, args.json)


def main(argv=None) -> int:
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _reference, argv)


if __name__ == "__main__":
    raise SystemExit(main())
