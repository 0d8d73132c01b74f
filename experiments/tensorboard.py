"""TensorBoard on a run (or a folder of runs), without TensorFlow's start-up lines.

    python -m experiments.tensorboard runs/concat/TIMESTAMP [--port 6006]

Everything after the folder goes to TensorBoard as it is (`--port`, `--bind_all`, …).
"""

import argparse


def build_parser():
    from mer_tf.commands.runner import new_parser

    parser = new_parser("python -m experiments.tensorboard", __doc__)
    parser.add_argument("logdir", metavar="RUN_DIR", help="a run, an experiment or runs/")
    parser.add_argument("tensorboard_flags", nargs=argparse.REMAINDER,
                        help="passed to TensorBoard (e.g. --port 6007)")
    return parser


def _check(args) -> None:
    from mer_tf.io import storage

    if not storage.is_remote(args.logdir) and not storage.isdir(args.logdir):
        raise ValueError(f"{args.logdir}: no such folder")


def _serve(args) -> int:
    import sys

    from tensorboard import main as tensorboard_main

    sys.argv = ["tensorboard", "--logdir", args.logdir, *args.tensorboard_flags]
    tensorboard_main.run_main()
    return 0


def main(argv=None) -> int:
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _serve, argv, check=_check)


if __name__ == "__main__":
    raise SystemExit(main())
