"""Run an experiment as several workers on this machine (127.0.0.1), each with its own
TF_CONFIG: the multi-worker path on one machine, and a script to copy for several.

    python -m experiments.local_workers --workers 2 -- \\
        python -m experiments.concat --strategy multiworker --run-dir runs/concat-2w

Ports are chosen free; each worker logs to LOG_DIR/worker{i}.log; when one worker
fails, all are ended, and with --restarts N started again with the same TF_CONFIG,
so the run resumes from its last backup. The batch size is global (split across the
workers' replicas). On several machines, give each the TF_CONFIG this prints.
"""

import argparse
import sys


def build_parser():
    from mer_tf.commands.runner import new_parser

    parser = new_parser("python -m experiments.local_workers", __doc__)
    parser.usage = ("%(prog)s [--workers N] [--log-dir DIR] [--restarts N] [--timeout S] "
                    "-- COMMAND …")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes, one TF_CONFIG task each (default: %(default)s)")
    parser.add_argument("--log-dir", default="runs/local_workers",
                        help="each worker's log as worker{i}.log (default: %(default)s)")
    parser.add_argument("--restarts", type=int, default=0,
                        help="start every worker again this many times after a failure")
    parser.add_argument("--timeout", type=float, default=24 * 3600,
                        help="end every worker after this many seconds (default: a day)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the worker command, after --")
    return parser


def _launch(args) -> int:
    from mer_tf.commands import launch

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ValueError("give the worker command after --")

    print(f"{args.workers} workers, logs in {args.log_dir}; TF_CONFIG of worker 0 here: "
          f"{launch.tf_config(['PORT'] * args.workers, 0)}", file=sys.stderr)
    return launch.run(command, args.workers, args.log_dir, args.timeout, args.restarts)


def main(argv=None) -> int:
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _launch, argv)


if __name__ == "__main__":
    raise SystemExit(main())
