"""The benchmark page's table from benchmarks/results.json.

    python -m benchmarks.report [benchmarks/results.json] [--write docs/benchmarks.md]

Prints the table; `--write PAGE` puts it in PAGE between the two marker lines (BEGIN and
END below), so the page's figures are always the ones results.json holds.
"""

from __future__ import annotations

import json


def markdown(summary: dict) -> str:
    r = summary["results"]
    m = summary["machine"]
    gpu = ", ".join(m.get("gpu") or []) or "no GPU"
    lines = [f"Measured {summary['date']} on {m['cpu']} ({m['cpu_count']} cores, {gpu}), "
             f"TensorFlow {summary['versions'].get('tensorflow')}; "
             f"`make bench` took {summary['seconds'] / 60:.1f} min.", "",
             "| what | figure |", "| --- | --- |"]
    if summary.get("merged"):
        later = {}  # (date, cpu) -> benchmarks measured then, by `run_all --only … --merge`
        for name in summary["merged"]:
            if name in r:
                when = (r[name]["date"][:10], r[name]["machine"]["cpu"])
                later.setdefault(when, []).append(name)
        lines[0] += " Measured later on " + "; ".join(
            f"{date} on {cpu}: {', '.join(names)}" for (date, cpu), names in later.items()) + "."

    def row(what, figure):
        lines.append(f"| {what} | {figure} |")

    if "prepare" in r:
        f = r["prepare"]["figures"]
        runs = f["runs"]
        row("preparation, synthetic release "
            f"({f['release']['utterances']} utterances)",
            ", ".join(f"{x['sessions']} session(s): {x['utterances_per_second']} utt/s, "
                      f"peak {x['peak_rss_mib']:.0f} MiB" for x in runs))
        if "seconds_per_utterance_ratio_largest_vs_smallest" in f:
            row("preparation: time per utterance, largest / smallest corpus",
                f"{f['seconds_per_utterance_ratio_largest_vs_smallest']} (1.0 = linear); "
                f"peak memory ratio {f['peak_memory_ratio_largest_vs_smallest']}")
        if f.get("mocap_parse"):
            x = f["mocap_parse"]
            row(f"MOCAP text parse, a real-width file ({x['bytes'] / 1e6:.1f} MB, "
                f"{x['values_per_row']} values a row): numpy.loadtxt vs pyarrow",
                f"{x['loadtxt_mb_per_s']} vs {x['pyarrow_mb_per_s']} MB/s ({x['speedup']}x)")
        if f.get("workers"):
            x = f["workers"]
            row(f"preparation of {x['labelled_utterances_read']} utterances: one process vs "
                f"{x['workers']} workers",
                f"{x['one_process_seconds']} s vs {x['workers_seconds']} s ({x['speedup']}x)")
    if "corpus_scale" in r:
        f = r["corpus_scale"]["figures"]
        row(f"preparation at MSP-Podcast's scale ({f['segment_seconds']} s segments, one "
            "worker)", ", ".join(f"{x['segments']:,}: {x['ms_per_utterance']} ms/utt, peak "
                                 f"{x['peak_rss_mib']:.0f} MiB" for x in f["runs"]))
        row(f"preparation, {f['size_ratio']:g}x the segments: time per utterance, peak memory",
            f"{f['time_per_utterance_ratio_largest_vs_smallest']}x, "
            f"{f['peak_memory_ratio_largest_vs_smallest']}x (1.0 = flat)")
    if "pipeline" in r:
        f = r["pipeline"]["figures"]
        row("tf.data pipeline / model consumption (lowest over the 7 subsets)",
            f"{f['lowest_pipeline_vs_model']}x")
        for subset, x in f["subsets"].items():
            row(f"pipeline vs training step, {subset}",
                f"{x['pipeline_examples_per_second']} vs {x['model_examples_per_second']} "
                f"examples/s ({x['pipeline_vs_model']}x)")
    if "train_step" in r:
        f = r["train_step"]["figures"]
        u = f["utterances_per_second"]
        row(f"training, {f['size']} size on {f['device']}: paper config (Flatten head, "
            "float32, batch 5) vs default (pooled head, batch 16)",
            f"{u['paper']} vs {u['default']} utt/s ({f['default_vs_paper']}x)")
        if "deterministic" in u:
            row("training with --deterministic (op determinism) vs without",
                f"{u['deterministic']} vs {u['default']} utt/s "
                f"({f['deterministic_vs_default']}x)")
    if "features" in r:
        f = r["features"]["figures"]
        e = f["epoch_seconds"]
        row("epoch, end-to-end fine-tuning vs frozen towers with cached features",
            f"{e['end_to_end']} s vs {e['cached']} s ({f['speedup_cached_vs_end_to_end']}x "
            f"faster; cache built once in {f['cache_build_seconds']} s)")
        loso = f["loso_5_folds_cached"]
        row("5-fold LOSO with cached features, whole run",
            f"{loso['seconds']} s ({loso['epochs_per_fold']} epochs per fold)")
    if "inference" in r:
        for name, x in r["inference"]["figures"].items():
            lat = x["latency"]
            row(f"inference, {name.replace('_', ' ')} ({x['saved_model_mib']} MiB SavedModel): "
                "median / p95 latency of one utterance",
                ", ".join(f"{k}: {v['median_ms']} / {v['p95_ms']} ms" for k, v in lat.items()))
            row(f"inference, {name.replace('_', ' ')}: batch of 16",
                ", ".join(f"{k}: {v['batch16_utterances_per_second']} utt/s"
                          for k, v in lat.items()))
    if "memory" in r:
        f = r["memory"]["figures"]
        row("training peak memory, paper-size inputs, by training-set size",
            ", ".join(f"{x['training_utterances']} utt: {x['peak_rss_mib']:.0f} MiB "
                      "(the paper's in-memory audio alone: "
                      f"{x['paper_in_memory_audio_mib']:.0f} MiB)"
                      for x in f["runs"])
            + f"; corpus x{f['corpus_ratio']}, memory x{f['peak_memory_ratio']}")
    if "recording" in r:
        for mode, rows in r["recording"]["figures"].items():
            how = "turns from a TSV" if mode == "turns" else "voice activity detection"
            row(f"whole recording ({how}): audio s per s; peak memory (x the shortest)",
                ", ".join(f"{k}: {x['audio_seconds_per_second']} s/s; {x['peak_rss_mib']:.0f} "
                          f"MiB (x{x['peak_over_shortest']})" for k, x in rows.items()))
    if "model_size" in r:
        for size, variants in r["model_size"]["figures"].items():
            pooled, flatten = variants["speech_head_mean"], variants["speech_head_flatten"]
            row(f"parameters at {size} size (speech / text / mocap / fusion; total)",
                f"{pooled.get('speech', 0):,} / {pooled.get('text', 0):,} / "
                f"{pooled.get('mocap', 0):,} / {pooled.get('fusion', 0):,}; {pooled['total']:,} "
                f"(with the paper's Flatten head: {flatten['total']:,})")
            step = variants.get("training_step")
            if step:
                row(f"training step of each tower alone at {size} size, batch {step['batch']} "
                    f"on {step['device']} (share of their sum)",
                    ", ".join(f"{name}: {seconds * 1000:.0f} ms ({step['share'][name]:.0%})"
                              for name, seconds in step["seconds"].items()))
    if "speech_backbones" in r:
        f = r["speech_backbones"]["figures"]
        t = f["seconds_per_batch"]
        size = f"{f['size']} size, {f['input_seconds']:g} s x {f['batch']}"
        row(f"wav2vec2 {size}: forward, TF-Hub SavedModel vs Keras 3 (XLA off / on)",
            f"{t['tfhub_forward']} s vs {t['keras3_forward']} / {t['keras3_xla_forward']} s "
            f"(Keras 3 {f['keras3_vs_tfhub_forward']}x; XLA {f['xla_speedup_forward']}x)")
        row(f"wav2vec2 {size}: training step, TF-Hub SavedModel vs Keras 3 (XLA off / on)",
            f"{t['tfhub_step']} s vs {t['keras3_step']} / {t['keras3_xla_step']} s "
            f"(Keras 3 {f['keras3_vs_tfhub_step']}x; XLA {f['xla_speedup_step']}x)")
        row("wav2vec2 peak memory of a training step, each in its own process",
            ", ".join(f"{k}: {v:.0f} MiB" for k, v in f["peak_rss_mib"].items()))
        e = f["epoch"]
        row(f"speech-only epoch ({e['training_utterances']} utt of {e['input_seconds']:g} s), "
            "Keras 3 wav2vec2 fine-tuned end to end vs frozen on cached features",
            f"{e['epoch_seconds']['end_to_end']} s vs {e['epoch_seconds']['cached']} s "
            f"({e['speedup_cached_vs_end_to_end']}x; cache built once in "
            f"{e['cache_build_seconds']} s)")
    if "extraction" in r:
        for shape, f in r["extraction"]["figures"].items():
            rate = f["audio_seconds_per_second"]
            row(f"feature cache vs the backbone alone, {shape}, {f['utterances']} utt of "
                f"{f['shortest_seconds']}-{f['longest_seconds']} s: audio s per s",
                f"cache {rate['cache']} vs forward {rate['forward']} ({f['cache_vs_forward']}x;"
                f" padded to {f['input_seconds']:g} s, as before: {rate['padded']})")
    if "laptop_recipe" in r:
        f = r["laptop_recipe"]["figures"]
        s, estimate = f["seconds"], f["iemocap_four_class_estimate_minutes"]
        row(f"laptop recipe, {f['audio_minutes']} min of audio ({f['utterances']} utt): cache, "
            f"then LOSO ({f['epochs_per_fold']} epochs a fold); IEMOCAP 4-class estimate",
            f"{s['cache']} s + {s['loso_on_cache']} s; IEMOCAP: {estimate['cache']} min + "
            f"{estimate['loso_on_cache']} min")
    return "\n".join(lines)


BEGIN = "<!-- written by python -m benchmarks.report: begin -->"
END = "<!-- written by python -m benchmarks.report: end -->"


def write_page(page: str, table: str) -> None:
    """Replaces what lies between the markers of `page` with `table` (a temporary file,
    then a rename; a local page, so no TensorFlow file system is started for it)."""
    import os

    with open(page, encoding="utf-8") as f:
        text = f.read()
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise SystemExit(f"error: {page} needs one line {BEGIN!r} and one {END!r}")
    head, rest = text.split(BEGIN)
    tail = rest.split(END)[1]
    with open(page + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    os.replace(page + ".tmp", page)


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.report")
    parser.add_argument("results", nargs="?", default="benchmarks/results.json")
    parser.add_argument("--write", metavar="PAGE", help="put the table in PAGE (between its "
                                                        "markers) instead of printing it")
    args = parser.parse_args(argv)
    with open(args.results) as f:
        table = markdown(json.load(f))
    if args.write:
        write_page(args.write, table)
    else:
        print(table)


if __name__ == "__main__":
    main()
