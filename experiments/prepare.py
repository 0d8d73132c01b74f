"""Prepare IEMOCAP (or the synthetic corpus) as TFRecord shards for training.

    python -m experiments.prepare --iemocap PATH/IEMOCAP_full_release --out DATA_DIR
    python -m experiments.prepare --synthetic --out DATA_DIR

Re-running skips finished shards (an interrupted run resumes); the output is
byte-identical. DATA_DIR/manifest.json lists counts per session and class,
shards with checksums, and everything that was skipped or resampled.
"""

import argparse
import logging
import sys

from mer_tf.data.errors import ON_ERROR_CHOICES, DataError
from mer_tf.data.labels import LABEL_SETS


def build_parser() -> argparse.ArgumentParser:
    from mer_tf.data.prepare import PrepareConfig
    from mer_tf.synthetic.design import SyntheticConfig

    defaults = PrepareConfig(source="", out_dir="")  # the defaults live on the dataclasses
    synthetic = SyntheticConfig()
    parser = argparse.ArgumentParser(
        prog="python -m experiments.prepare", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--iemocap", metavar="PATH",
                        help="the IEMOCAP_full_release folder (local path or gs:// URL)")
    source.add_argument("--synthetic", action="store_true",
                        help="generate a synthetic corpus in IEMOCAP's layout, then prepare it")
    parser.add_argument("--out", required=True, metavar="DATA_DIR",
                        help="where shards and manifest.json go (local path or gs:// URL)")
    parser.add_argument("--label-set", choices=sorted(LABEL_SETS), default=defaults.label_set,
                        help="seed4: ang/exc/neu/sad as annotated (the paper); merged4: hap "
                             "merged into exc (default: %(default)s)")
    parser.add_argument("--mocap-rate", type=float, default=defaults.mocap_rate,
                        help="frames per second of the stored motion-capture frames, averaged "
                             "from 120/s (default: %(default)s)")
    parser.add_argument("--mocap-chunks", type=int, default=defaults.mocap_chunks,
                        help="chunks of the paper's fixed-size motion-capture view "
                             "(default: %(default)s)")
    parser.add_argument("--shard-size", type=int, default=defaults.shard_size,
                        help="utterances per shard at most; dialogs are never split "
                             "(default: %(default)s)")
    parser.add_argument("--sessions", default=",".join(map(str, defaults.sessions)),
                        help="comma-separated sessions to prepare (default: %(default)s)")
    parser.add_argument("--on-error", choices=ON_ERROR_CHOICES, default=defaults.on_error,
                        help="stop at the first bad file, or skip the utterances it concerns "
                             "and list them in the manifest (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete earlier shards in DATA_DIR first")
    parser.add_argument("--into-existing", action="store_true",
                        help="write into a non-empty DATA_DIR that holds no earlier preparation "
                             "(its other files are never touched)")
    parser.add_argument("--workers", type=int, default=defaults.workers,
                        help="processes writing shards at once; the output is the same "
                             "whatever the number (default: the usable cores, one for a "
                             "corpus too small to repay their start)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    synth = parser.add_argument_group("synthetic corpus (with --synthetic)")
    synth.add_argument("--utterances", type=int, default=synthetic.utterances,
                       help="labelled utterances over five sessions (IEMOCAP has ~10 000; "
                            "default: %(default)s)")
    synth.add_argument("--dialogs-per-session", type=int,
                       default=synthetic.dialogs_per_session,
                       help="dialogs in each session (default: %(default)s)")
    synth.add_argument("--mean-seconds", type=float, default=synthetic.mean_seconds,
                       help="mean utterance length (IEMOCAP: ~4.5; default: %(default)s)")
    synth.add_argument("--cue-confusion", type=float, default=synthetic.cue_confusion,
                       help="chance that a modality shows another class's cue "
                            "(default: %(default)s)")
    synth.add_argument("--seed", type=int, default=synthetic.seed,
                       help="the generator's seed (default: %(default)s)")
    return parser


def main(argv=None) -> int:
    from mer_tf.io.quiet import parse_quietly

    args = parse_quietly(build_parser(), argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from mer_tf.data import prepare as prep
    from mer_tf.io import locking, storage
    from mer_tf.synthetic.release import SyntheticConfig, ensure_release

    source = args.iemocap
    if args.synthetic:
        config = SyntheticConfig(seed=args.seed, utterances=args.utterances,
                                 dialogs_per_session=args.dialogs_per_session,
                                 mean_seconds=args.mean_seconds, cue_confusion=args.cue_confusion)
        source = ensure_release(storage.join(args.out, "synthetic_release"), config)
    sessions = tuple(int(s) for s in args.sessions.split(",") if s.strip())
    config = prep.PrepareConfig(
        source=source, out_dir=args.out, label_set=args.label_set, mocap_rate=args.mocap_rate,
        mocap_chunks=args.mocap_chunks, shard_size=args.shard_size, on_error=args.on_error,
        sessions=sessions, overwrite=args.overwrite, into_existing=args.into_existing,
        workers=args.workers)
    try:
        prep.prepare(config, progress=not args.quiet)
    except (DataError, ValueError, locking.Locked) as error:
        # --on-error skip helps with a bad file of the release, not with a wrong path
        concerns_utterances = isinstance(error, DataError) and error.utterance_ids
        hint = " (or --on-error skip to skip what it concerns)" if concerns_utterances else ""
        print(f"error: {error}{hint}", file=sys.stderr)
        return 2
    except OSError as error:  # a read-only or full --out, say
        print(f"error: {error.filename or args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001  tf.io.gfile's errors for the same
        import tensorflow as tf

        if not isinstance(error, tf.errors.OpError):
            raise
        print(f"error: {args.out}: {error.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
