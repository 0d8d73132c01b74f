"""Prepare a corpus (IEMOCAP, MSP-Podcast, MSP-IMPROV, CREMA-D, RAVDESS, MELD, ESD, a
table of your own, or the synthetic corpus) as TFRecord shards for training.

    python -m experiments.prepare --iemocap PATH/IEMOCAP_full_release --out DATA_DIR
    python -m experiments.prepare --corpus msp-podcast --source PATH/MSP-PODCAST --out DATA_DIR
    python -m experiments.prepare --corpus table --source my_data.csv --out DATA_DIR
    python -m experiments.prepare --synthetic --out DATA_DIR
    python -m experiments.prepare --synthetic --corpus msp-podcast --seed 1 --out DATA_DIR
    python -m experiments.prepare --combine DATA_A DATA_B --out DATA_AB

Re-running skips finished shards (an interrupted run resumes); the output is
byte-identical. DATA_DIR/manifest.json lists counts per session and class,
shards with checksums, and everything that was skipped or resampled.
"""

import logging
import sys


def build_parser():
    from mer_tf.commands.flags import add_flags
    from mer_tf.commands.runner import new_parser
    from mer_tf.data.prepare import PrepareConfig
    from mer_tf.synthetic.design import SyntheticConfig

    parser = new_parser("python -m experiments.prepare", __doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--iemocap", metavar="PATH",
                        help="the IEMOCAP_full_release folder (local path or gs:// URL)")
    source.add_argument("--source", metavar="PATH",
                        help="the release --corpus names: a folder, or a table file")
    source.add_argument("--combine", nargs="+", metavar="DATA_DIR",
                        help="prepared folders to train on as one (their shards linked into "
                             "--out, not copied; they must share their classes)")
    source.add_argument("--synthetic", action="store_true",
                        help="generate a synthetic corpus in IEMOCAP's layout (with --corpus "
                             "msp-podcast: in MSP-Podcast's, its segments heard in another "
                             "room), then prepare it")
    add_flags(parser, PrepareConfig)
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    add_flags(parser.add_argument_group("synthetic corpus (with --synthetic)"), SyntheticConfig)
    return parser


def _prepare(args) -> int:
    from mer_tf.commands.flags import flag_values
    from mer_tf.data import prepare as prep
    from mer_tf.io import storage
    from mer_tf.synthetic.release import SyntheticConfig, ensure_release

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.combine:
        from mer_tf.data.combine import combine

        manifest = combine(args.combine, args.out)
        if not args.quiet:
            print(prep.summary_table(manifest), file=sys.stderr)
        return 0
    source = args.iemocap or args.source
    if args.iemocap and args.given.get("corpus", "iemocap") != "iemocap":
        raise ValueError("--iemocap reads an IEMOCAP release: use --source with --corpus")
    if args.synthetic:
        synthetic = SyntheticConfig(**flag_values(SyntheticConfig, args.given))
        corpus = args.given.get("corpus", "iemocap")
        release = storage.join(args.out, "synthetic_release")
        if corpus == "msp-podcast":
            from mer_tf.synthetic.msp_podcast import write_msp_podcast

            source = write_msp_podcast(release, synthetic)[0]
        elif corpus == "iemocap":
            source = ensure_release(release, synthetic)
        else:
            raise ValueError("--synthetic writes IEMOCAP's layout or, with --corpus "
                             f"msp-podcast, MSP-Podcast's; not {corpus}'s")
    config = prep.PrepareConfig(source=source, **flag_values(prep.PrepareConfig, args.given))
    prep.prepare(config, progress=not args.quiet)
    return 0


def main(argv=None) -> int:
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _prepare, argv)


if __name__ == "__main__":
    raise SystemExit(main())
