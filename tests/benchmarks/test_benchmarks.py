"""Every benchmark runs at a tiny size and reports its figures, so none can rot.

The measuring functions run in this process on the test corpus and backbones,
mostly on the text tower alone (the same code as the full model, less time);
run_all (subprocesses, results.json, the README table) runs with `prepare`."""

import json

import pytest

from benchmarks import (
    extraction,
    features,
    inference,
    keras3_backbone,
    laptop_recipe,
    memory,
    model_size,
    pipeline,
    recording,
    run_all,
    speech_backbones,
    train_step,
)
from benchmarks.report import markdown
from tests.helpers import FIXTURES

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run


def _assets(prepared, assets, tmp_path):
    """The test backbones on a copy of the test corpus (benchmarks write feature caches)."""
    import shutil

    shutil.copytree(prepared[0], tmp_path / "data")
    return {**assets, "data_dir": str(tmp_path / "data")}


def test_run_all_writes_results_and_the_table(tmp_path):
    out = tmp_path / "results.json"
    earlier = {"date": "2026-01-01", "machine": {"cpu": "c", "cpu_count": 2}, "versions": {},
               "tiny": False, "seconds": 60, "results": {"other": {"figures": {"kept": 1}}}}
    out.write_text(json.dumps(earlier))
    summary = run_all.main(["--tiny", "--only", "prepare,corpus_scale", "--out", str(out),
                            "--merge"])
    assert json.loads(out.read_text()) == summary
    assert summary["results"]["other"] == earlier["results"]["other"]  # kept by --merge
    assert summary["merged"] == ["corpus_scale", "prepare"]
    assert "Measured later on" in markdown(summary)
    scale = summary["results"]["corpus_scale"]["figures"]  # MSP-Podcast's layout, two sizes
    assert [(r["segments"], r["utterances_written"]) for r in scale["runs"]] == [(200, 200),
                                                                                 (400, 400)]
    assert scale["size_ratio"] == 2 and scale["peak_memory_ratio_largest_vs_smallest"] > 0
    assert "preparation at MSP-Podcast's scale" in markdown(summary)
    figures = summary["results"]["prepare"]["figures"]
    assert [r["sessions"] for r in figures["runs"]] == [1, 5]
    assert figures["runs"][1]["utterances_written"] > figures["runs"][0]["utterances_written"]
    from mer_tf.data.prepare import usable_cores

    workers = figures["workers"]  # one process, then one per core, on the same five sessions
    assert (workers is None) == (usable_cores() == 1)
    assert workers is None or (workers["workers"] == usable_cores() and workers["speedup"] > 0)
    parse = figures["mocap_parse"]  # checked equal to loadtxt's parse before it is timed
    assert parse["values_per_row"] == 165 and parse["bytes"] > 0
    assert parse["loadtxt_mb_per_s"] > 0 and parse["pyarrow_mb_per_s"] > 0
    assert "preparation" in markdown(summary)


def test_training_pipeline_and_feature_benchmarks(prepared, assets, tmp_path):
    bench = _assets(prepared, assets, tmp_path)
    steps = train_step.measure(bench, bench["data_dir"], steps=2, repeats=1, size="demo",
                               modalities=("speech",))
    assert set(steps["utterances_per_second"]) == {"paper", "default", "deterministic"}
    assert steps["default_vs_paper"] > 0 and steps["deterministic_vs_default"] > 0
    flow = pipeline.measure(bench, batches=2, repeats=1, batch_size=4, subsets=["text+mocap"])
    row = flow["subsets"]["text+mocap"]
    assert row["pipeline_examples_per_second"] > 0 and row["pipeline_vs_model"] > 0
    cached = features.measure(bench, repeats=1, loso_epochs=1, batch_size=4, loso_folds="5",
                              modalities=("text",))
    assert set(cached["epoch_seconds"]) == {"end_to_end", "cached"}
    assert cached["loso_5_folds_cached"]["seconds"] > 0


def test_inference_and_memory_benchmarks(prepared, assets, tmp_path):
    bench = _assets(prepared, assets, tmp_path)
    served = inference.measure(bench, calls=2, root=str(tmp_path),
                               speech_models={"test": assets["speech"]})
    latency = served["test"]["latency"]
    assert set(latency) == {"4s", "10s", "15s"}
    assert all(v["median_ms"] > 0 and v["p95_ms"] >= v["median_ms"] for v in latency.values())
    peaks = memory.measure(bench, session_sets=("1", "12"), modalities=("mocap",))
    runs = peaks["runs"]
    assert runs[0]["training_utterances"] < runs[1]["training_utterances"]
    assert all(r["peak_rss_mib"] > 0 for r in runs)


def test_recording_benchmark_memory_stays_flat_with_length(prepared, assets, tmp_path):
    bench = _assets(prepared, assets, tmp_path)
    model = recording.export_model(bench, str(tmp_path / "model"))
    rows = recording.measure(model, str(tmp_path), minutes=(0.25, 1.5), modes=("turns",))
    short, long = rows["turns"]["0.25min"], rows["turns"]["1.5min"]
    assert short["rows"] == short["turns_planted"] and long["rows"] == long["turns_planted"] > 15
    assert long["audio_seconds_per_second"] > 0
    assert long["peak_over_shortest"] < 1.2  # six times the audio, not six times the memory


def test_model_size_counts_and_tower_step_shares(assets):
    counts = model_size.counts(assets, frames=24, text_length=16)
    pooled, flatten = counts["speech_head_mean"], counts["speech_head_flatten"]
    assert sum(pooled[k] for k in ("speech", "text", "mocap", "fusion")) == pooled["total"]
    assert flatten["speech"] > pooled["speech"] and flatten["text"] == pooled["text"]
    step = model_size.step_seconds(assets, frames=24, text_length=16, repeats=1)
    assert set(step["seconds"]) == {"speech", "text", "mocap"}
    assert all(seconds > 0 for seconds in step["seconds"].values())
    assert abs(sum(step["share"].values()) - 1) < 0.01
    summary = {"date": "d", "machine": {"cpu": "c", "cpu_count": 2}, "versions": {},
               "seconds": 1,
               "results": {"model_size": {"figures": {"test": {**counts, "training_step": step}}}}}
    assert "training step of each tower alone at test size" in markdown(summary)


def test_speech_backbone_benchmark_compares_keras3_and_tf_hub(prepared, assets, tmp_path):
    bench = _assets(prepared, assets, tmp_path)
    # XLA here: test_keras3_backbone_benchmark_on_this_backend compiles the same model
    result = speech_backbones.measure(str(tmp_path), "tiny", 1.0, batch=1, repeats=1,
                                      epoch_utterances=20, memory_variants=("keras3",),
                                      data_dir=bench["data_dir"], variants=("tfhub", "keras3"))
    assert set(result["seconds_per_batch"]) == {f"{v}_{p}" for v in ("tfhub", "keras3")
                                                for p in ("forward", "step")}
    assert all(v > 0 for v in result["seconds_per_batch"].values())
    assert result["keras3_vs_tfhub_step"] > 0 and result["xla_speedup_forward"] is None
    assert result["peak_rss_mib"]["keras3"] > 0
    epoch = result["epoch"]
    assert epoch["training_utterances"] > 0 and epoch["speedup_cached_vs_end_to_end"] > 0


def test_keras3_backbone_benchmark_on_this_backend():
    import os

    checkpoint = os.path.join(FIXTURES, "hf_speech",
                              "wav2vec2_base")
    result = keras3_backbone.measure(checkpoint, 0.25, [2], ["float32", "mixed_bfloat16"], 1)
    assert result["backend"] == "tensorflow" and len(result["runs"]) == 2
    assert all(r["finite"] and r["step_ms"] > 0 and r["forward_ms"] > 0 for r in result["runs"])


def test_extraction_benchmark_compares_the_cache_with_the_backbone_alone(prepared, assets,
                                                                          tmp_path):
    bench = _assets(prepared, assets, tmp_path)
    result = extraction.measure_shape(str(tmp_path), bench["data_dir"], "tiny", batch=4,
                                      repeats=1, input_seconds=2.0)
    assert result["utterances"] == prepared[1]["utterances"]
    assert result["shortest_seconds"] < result["longest_seconds"] < 2.0
    assert all(v > 0 for v in result["audio_seconds_per_second"].values())
    assert result["cache_vs_forward"] > 0 and result["cache_vs_padded"] > 0
    summary = {"date": "d", "machine": {"cpu": "c", "cpu_count": 2}, "versions": {},
               "seconds": 1, "results": {"extraction": {"figures": {"tiny": result}}}}
    assert "feature cache vs the backbone alone, tiny" in markdown(summary)


def test_laptop_recipe_benchmark_times_the_cache_and_the_training_apart(release, prepared,
                                                                        assets, tmp_path):
    bench = {**_assets(prepared, assets, tmp_path), "release": release[0]}
    result = laptop_recipe.measure(str(tmp_path), 0, 0.0, epochs=1, batch=8, shape="tiny",
                                   assets=bench, folds="5", text_length=32)
    seconds = result["seconds"]
    assert seconds["cache_and_loso"] > 0 and seconds["loso_on_cache"] > 0  # (2nd: no rebuild)
    assert seconds["loso_fixed"] > 0 and seconds["loso_per_epoch"] >= 0
    assert result["utterances"] == prepared[1]["utterances"] and result["audio_minutes"] > 0
    estimate = result["iemocap_four_class_estimate_minutes"]
    # one epoch a fold: no per-epoch share to scale, so the estimate is the fixed cost (a
    # fast machine trains the tiny run in under 3 s: 0.0 minutes at one decimal before)
    assert estimate["cache"] > 0
    assert estimate["loso_on_cache"] == pytest.approx(seconds["loso_fixed"] / 60, abs=0.01)
    summary = {"date": "d", "machine": {"cpu": "c", "cpu_count": 2}, "versions": {},
               "seconds": 1, "results": {"laptop_recipe": {"figures": result}}}
    assert "IEMOCAP 4-class estimate" in markdown(summary)
