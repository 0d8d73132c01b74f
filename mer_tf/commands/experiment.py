"""What an experiment command does with its parsed flags (`mer_tf.commands.flags` declares them):
one RunConfig from the preset and the flags given, then one run (`run_single`), one per
seed (`run_seeds`) or a group side by side (`run_group`), with one-line errors.

The experiments in `experiments/` are a few lines each: they name their
modalities and call `run_single` or `run_group` from here.
"""

from __future__ import annotations

import sys

from mer_tf.commands.flags import build_parser, flag_overrides
from mer_tf.commands.runner import FAILED_EXIT_CODE, parse, reported_as_one_line
from mer_tf.config import MODALITIES, RunConfig
from mer_tf.config.presets import default_run_dir
from mer_tf.evaluation.dimensions import DIMENSIONS
from mer_tf.layout import RunLayout

__all__ = ["FAILED_EXIT_CODE", "run_group", "run_seeds", "run_single"]


def corpus_and_folds(args):
    """The prepared corpus of `--data-dir` (the demo corpus without it), checked against its
    manifest at `--verify-data` as training checks it (`PreparedCorpus.verify`), and the
    folds that `--protocol`, `--validation`, `--subset` and `--text-overlap` make of it:
    what the commands that read folds without training (audit, mocap_reference) share."""
    from mer_tf.config import DataConfig
    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.training.splits import make_folds

    combine_data_dirs(args)
    if args.data_dir is None:
        from mer_tf.synthetic import demo

        args.data_dir = demo.ensure_demo_data()
    corpus = PreparedCorpus.open(args.data_dir)
    corpus.verify(args.verify_data, progress=True)  # every session: the folds read them all
    data = DataConfig(args.data_dir, protocol=args.protocol, validation=args.validation,
                      subset=args.subset, text_overlap=args.text_overlap,
                      speaker_folds=args.speaker_folds)
    return corpus, make_folds(data, corpus)


def make_run_config(args, experiment: str, overrides: dict | None = None,
                    run_dir: str | None = None) -> RunConfig:
    """`presets.run_config` from `--preset`, the flags given, then `overrides` (a group
    command's variant); without --data-dir, the demo's assets (built on first use) and
    its banner."""
    from mer_tf.config import presets

    combine_data_dirs(args)
    assets = None
    if not args.data_dir:
        from mer_tf.synthetic import demo

        assets = demo.demo_assets(progress=not args.quiet)
    config = presets.run_config(
        experiment, presets.merge(flag_overrides(args.given), overrides or {}),
        data_dir=args.data_dir or "", preset_name=args.preset, demo_assets=assets,
        run_dir=run_dir or args.run_dir or default_run_dir(experiment, args.runs_root))
    if assets and not args.quiet:
        from mer_tf.synthetic import demo

        print(demo.banner(experiment), file=sys.stderr)
    return config


def combine_data_dirs(args) -> None:
    """`--data-dir` given more than once: the folders combined into one (made beside the
    first, or kept when it combines the same shards; `mer_tf.data.combine`), which
    `args.data_dir` then names."""
    if isinstance(args.data_dir, list) and len(args.data_dir) > 1:
        from mer_tf.data.combine import combine, combined_name

        out = combined_name(args.data_dir)
        made = combine(args.data_dir, out)["combined"].get("shards", {})
        how = ", ".join(f"{n} shards {way}" for way, n in sorted(made.items()))
        print(f"training on {' and '.join(args.data_dir)} combined as {out} ({how})",
              file=sys.stderr)
        args.data_dir = out
    elif isinstance(args.data_dir, list):
        args.data_dir = args.data_dir[0]


def _check_data_dir(args) -> None:
    from mer_tf.io import storage

    for data_dir in args.data_dir if isinstance(args.data_dir, list) else [args.data_dir]:
        if data_dir is not None and not storage.is_remote(data_dir):
            from mer_tf.data.corpus import check_prepared

            check_prepared(data_dir)


def parse_run_flags(experiment: str, description: str, argv=None, extra_arguments=None):
    """The experiment's flags, the data folder checked before TensorFlow starts."""
    parser = build_parser(f"python -m experiments.{experiment}", description)
    if extra_arguments:
        extra_arguments(parser)
    return parse(parser, argv, check=_check_data_dir)


def run_single(experiment: str, modalities, description: str, argv=None) -> dict:
    """Entry point of speech/text/mocap/concat: one model, one run."""
    args = parse_run_flags(experiment, description, argv)
    from mer_tf.training.trainer import run_experiment

    with reported_as_one_line(args.verbose):
        if args.seeds:
            return run_seeds(args, experiment, modalities)
        config = make_run_config(args, experiment, {"model": {"modalities": list(modalities)}})
        summary = run_experiment(config, progress=not args.quiet, overwrite=args.overwrite)
    print(f"\nrun folder: {config.run_dir}", file=sys.stderr)
    if not args.quiet:
        from mer_tf.commands.next_steps import next_steps

        print(next_steps(config), file=sys.stderr)
    _exit_if_failed({experiment: summary})
    return summary


def run_seeds(args, experiment: str, modalities) -> dict:
    """`--seeds 0,1,2`: the same run once per seed, in RUN_DIR/seedN, then the spread."""
    from mer_tf.evaluation.summary import format_table, seeds_summary
    from mer_tf.io import storage
    from mer_tf.training.trainer import run_experiment

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds takes comma-separated integers, not {args.seeds!r}") from None
    base = args.run_dir or default_run_dir(experiment, args.runs_root)
    summaries = {}
    for seed in seeds:
        config = make_run_config(args, experiment, {"model": {"modalities": list(modalities)},
                                                    "train": {"seed": seed}},
                                 run_dir=RunLayout(base).seed(seed).root)
        summaries[seed] = run_experiment(config, progress=not args.quiet,
                                         overwrite=args.overwrite)
    report = seeds_summary(experiment, summaries)
    storage.write_json_atomic(RunLayout(base).seeds_summary, report)
    rows = [[f"seed {seed}", *(f"{s[k]:.3f}" for k in ("wa", "ua", "macro_f1"))]
            for seed, s in summaries.items()]
    for name, block in (("over seeds", report["over_seeds"]),
                        ("over seeds x folds", report.get("over_seeds_and_folds"))):
        if block:
            rows.append([name, *(f"{block[k]['mean']:.3f} ± {block[k]['sd']:.3f}"
                                 for k in ("wa", "ua", "macro_f1"))])
    print(f"\n{experiment}, seeds {', '.join(map(str, seeds))} ({base})\n"
          + format_table(["", "test WA", "test UA", "test F1"], rows), file=sys.stderr)
    _exit_if_failed({f"seed{seed}": s for seed, s in summaries.items()})
    return report


def _exit_if_failed(summaries: dict) -> None:
    """A run whose fold learned nothing usable exits non-zero, after writing everything."""
    failed = {name: s["failed_folds"] for name, s in summaries.items() if s.get("failed_folds")}
    if failed:
        for name, folds in failed.items():
            for fold, reasons in folds.items():
                print(f"FAILED {name} {fold}: {'; '.join(reasons)}", file=sys.stderr)
        raise SystemExit(FAILED_EXIT_CODE)


def run_group(experiment: str, variants, description: str, argv=None,
              extra_arguments=None) -> dict:
    """Entry point of pairwise/ablation: several runs side by side, then one table.

    `variants(args)` returns {name: overrides}, nested like a preset
    ({"model": {"modalities": [...]}, "train": {"optimizer": "sgd"}}): any field can vary.
    """
    args = parse_run_flags(experiment, description, argv, extra_arguments)
    with reported_as_one_line(args.verbose):
        return _run_group(args, experiment, variants)


def _run_group(args, experiment: str, variants) -> dict:
    from mer_tf.evaluation.compare import delta_cell
    from mer_tf.evaluation.summary import format_table, run_hparams
    from mer_tf.io import storage
    from mer_tf.training.callbacks import write_hparams_config
    from mer_tf.training.splits import Fold
    from mer_tf.training.trainer import run_experiment

    if args.seeds:
        raise ValueError(f"--seeds repeats one run; run {experiment} once per --seed instead")
    group_dir = args.run_dir or default_run_dir(experiment, args.runs_root)
    rows, summaries = [], {}
    for name, overrides in variants(args).items():
        config = make_run_config(args, experiment, overrides,
                                 run_dir=storage.join(group_dir, name))
        if not summaries:
            write_hparams_config(group_dir, run_hparams(config, Fold("-", (), ())))
        summary = run_experiment(config, progress=not args.quiet, overwrite=args.overwrite)
        summaries[name] = summary
        if not rows:
            first = config.run_dir
        rows.append([name, "+".join(summary["modalities"]), config.train.optimizer,
                     _cell(summary, "wa"), _cell(summary, "ua"), _cell(summary, "macro_f1"),
                     "-" if config.run_dir == first else delta_cell(first, config.run_dir)])
        if config.demo:  # how far each model is from what the demo corpus allows
            rows[-1].append(f"{demo_ceiling(summary['modalities']):.3f}")
    header = ["run", "modalities", "optimizer", "test WA", "test UA", "test F1",
              "ΔUA vs the first row [95% CI]"]
    if len(rows[0]) > len(header):
        header.append("best possible UA")
    if any("ccc_arousal" in s for s in summaries.values()):  # --targets both
        header.append("test CCC arousal/valence/dominance")
        for row, summary in zip(rows, summaries.values()):
            row.append("/".join(f"{summary[f'ccc_{d}']:.3f}" for d in DIMENSIONS)
                       if "ccc_arousal" in summary else "-")
        if "best possible UA" in header:  # the demo corpus: its ceilings
            from mer_tf.synthetic import demo
            from mer_tf.synthetic.design import dimension_ceilings

            header.append("best possible CCC")
            for row, summary in zip(rows, summaries.values()):
                best = dimension_ceilings(demo.DEMO_CORPUS)[tuple(
                    m for m in MODALITIES if m in summary["modalities"])]
                row.append("/".join(f"{best[d]:.3f}" for d in DIMENSIONS))
    table = format_table(header, rows)
    storage.write_json_atomic(RunLayout(group_dir).group_summary,
                         {"experiment": experiment, "runs": summaries})
    storage.write_text_atomic(RunLayout(group_dir).group_table, table + "\n")
    print(f"\n{experiment} ({group_dir})\n{table}", file=sys.stderr)
    _exit_if_failed(summaries)
    return summaries


def demo_ceiling(modalities) -> float:
    """The best UA any model can reach on the demo corpus with these modalities."""
    from mer_tf.synthetic import demo
    from mer_tf.synthetic.design import accuracy_ceilings

    order = tuple(m for m in MODALITIES if m in modalities)
    return accuracy_ceilings(demo.DEMO_CORPUS)[order]


def _cell(summary: dict, key: str) -> str:
    """The figure (± sd over folds) with its 95 % bootstrap interval: the pooled one of a
    LOSO run, the test set's of a single fold."""
    folds = summary.get("folds") or [{}]
    ci = (summary.get("pooled") or folds[0].get("test", {})).get("ci95", {}).get(key)
    interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    if summary.get("failed_folds"):
        return f"{summary[key]:.3f}{interval} (FAILED)"
    if summary.get(f"{key}_std"):
        return f"{summary[key]:.3f} ± {summary[key + '_std']:.3f}{interval}"
    return f"{summary[key]:.3f}{interval}"


ALL_SUBSETS = {
    "speech": ("speech",), "text": ("text",), "mocap": ("mocap",),
    "speech+text": ("speech", "text"), "speech+mocap": ("speech", "mocap"),
    "text+mocap": ("text", "mocap"), "speech+text+mocap": MODALITIES,
}
