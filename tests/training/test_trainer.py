"""A run end to end: artefacts, TensorBoard contents, resume, strategies, feature cache."""

import csv
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from mer_tf.commands.experiment import FAILED_EXIT_CODE
from mer_tf.commands.flags import build_parser
from mer_tf.config import MODALITIES, ModelConfig
from mer_tf.io import faults
from tests.helpers import run_args, train


def _events(directory):
    """(tag, plugin, kind) of every summary value under `directory`."""
    found = set()
    for path in glob.glob(os.path.join(directory, "**", "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                plugin = value.metadata.plugin_data.plugin_name
                found.add((os.path.relpath(os.path.dirname(path), directory), value.tag,
                           plugin, kind))
    return found


@pytest.mark.slow
def test_a_run_leaves_every_artefact(trained_run, prepared):
    run = trained_run
    for name in ("config.json", "summary.json", "metrics.json", "history.csv",
                 "predictions.csv", "confusion_matrix.png", "curves.png",
                 "mocap_statistics.json", "checkpoints/best.weights.h5", "checkpoints/best.json",
                 "saved_model/saved_model.pb"):
        assert os.path.exists(os.path.join(run, name)), name
    for png in ("confusion_matrix.png", "curves.png"):
        assert open(os.path.join(run, png), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    config = json.load(open(os.path.join(run, "config.json")))
    assert config["experiment"] == "concat" and config["data"]["validation"] == "speaker"
    # the test backbone is in the published TF-Hub form: no `training` on its __call__
    assert config["backbones"]["speech"]["takes_training_argument"] is False
    assert config["backbones"]["speech"]["dropout_when_fine_tuning"] is False
    # the audio it reads: a fixed-length model's own, which input_seconds 0 leaves to it
    assert config["backbones"]["speech"]["input_seconds"] == 1.0
    assert config["model"]["speech"]["input_seconds"] == 0.0
    metrics = json.load(open(os.path.join(run, "summary.json")))
    fold = metrics["folds"][0]
    assert json.load(open(os.path.join(run, "metrics.json"))) == fold  # the fold's own file
    test = fold["test"]
    manifest = prepared[1]
    assert test["utterances"] == manifest["sessions"]["5"]["utterances"]
    matrix = np.array(test["confusion_matrix"])
    assert matrix.sum() == test["utterances"]
    assert test["wa"] == pytest.approx(np.trace(matrix) / matrix.sum())
    recalls = [matrix[i, i] / matrix[i].sum() for i in range(4) if matrix[i].sum()]
    assert test["ua"] == pytest.approx(np.mean(recalls))
    assert metrics["ua"] == test["ua"] and set(test) >= {"macro_f1", "per_class_recall"}
    rows = list(csv.DictReader(open(os.path.join(run, "predictions.csv"))))
    assert len(rows) == test["utterances"] and {r["session"] for r in rows} == {"5"}
    history = list(csv.DictReader(open(os.path.join(run, "history.csv"))))
    assert [int(r["epoch"]) for r in history] == [1, 2]  # counted from 1
    assert {"loss", "accuracy", "ua", "val_loss", "val_accuracy", "val_ua"} <= set(history[0])
    assert not os.path.exists(os.path.join(run, "backup"))  # removed once the fold finished


@pytest.mark.slow
def test_tensorboard_has_scalars_image_and_hparams(trained_run):
    events = _events(os.path.join(trained_run, "logs"))
    tags = {(where, tag) for where, tag, _, _ in events}
    for where in ("train", "validation"):
        for tag in ("epoch_loss", "epoch_accuracy", "epoch_ua"):
            assert (where, tag) in tags, (where, tag)
    assert ("train", "epoch_learning_rate") in tags
    assert any(where == "validation" and tag == "confusion_matrix" and plugin == "images"
               for where, tag, plugin, _ in events)
    assert any(plugin == "hparams" and where == "." for where, _, plugin, _ in events)
    # the test figures reach the hparams entry (beside it, at the best epoch), with the best
    # epoch's confusion matrices
    for tag in ("test_wa", "test_ua", "test_macro_f1", "test_confusion_matrix",
                "best_epoch_validation_confusion_matrix"):
        assert (".", tag) in tags, tag
    fold = json.load(open(os.path.join(trained_run, "metrics.json")))
    steps = {}
    for path in glob.glob(os.path.join(trained_run, "logs", "**", "events.out.tfevents.*"),
                          recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                steps.setdefault(value.tag, set()).add(event.step)
                if value.tag == "test_ua":
                    ua = tf.make_ndarray(value.tensor)
    assert steps["test_ua"] == {fold["best_epoch"]} and float(ua) == pytest.approx(
        fold["test"]["ua"])
    assert steps["best_validation_ua"] == {fold["best_epoch"]}
    assert min(steps["epoch_loss"]) == 1  # epochs from 1, as history.csv and best.json
    # The dashboard's columns are declared, the figures a run is judged by first: inferred,
    # they began with the last epoch's and left the test figures unchecked.
    assert _dashboard_metrics(os.path.join(trained_run, "logs"))[:6] == [
        "test_ua", "test_wa", "test_macro_f1", "best_validation_ua", "best_validation_wa",
        "best_validation_macro_f1"]
    # one trial per run folder: two concat runs of session5 are two trials, not one
    assert _trial_ids(os.path.join(trained_run, "logs")) == {f"{trained_run}/session5"}


def _hparams_data(directory):
    """Every hparams plugin record of the event files directly in `directory`."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    yield plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content)


def _dashboard_metrics(directory):
    """The metric tags of the hparams dashboard's declared experiment, in column order."""
    for data in _hparams_data(directory):
        if data.HasField("experiment"):
            return [m.name.tag for m in data.experiment.metric_infos]
    return []


def _trial_ids(directory):
    return {data.session_start_info.group_name for data in _hparams_data(directory)
            if data.HasField("session_start_info")}


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_epoch(prepared, assets, tmp_path, capsys):
    """A real SIGKILL (no clean-up at all), aimed right after the fourth epoch's weights
    are written and before its commit (`mer_tf/io/faults.py`): the same command again
    repeats that epoch, logs every epoch once and takes over the dead process's lock."""
    run_dir = tmp_path / "mocap"
    command = [sys.executable, "-m", "experiments.mocap",
               *run_args(prepared, assets, run_dir, "--no-export")]
    command[command.index("--epochs") + 1] = "6"
    command += ["--patience", "100"]
    env = {**os.environ, faults.ENVIRONMENT: "epoch:backup-written@4"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    history = run_dir / "history.csv"
    done = [int(r["epoch"]) for r in csv.DictReader(open(history))]
    assert done == [1, 2, 3]  # the fourth epoch was not committed
    assert (run_dir / "backup").exists() and (run_dir / ".lock").exists()  # a stale lock

    from experiments import mocap

    capsys.readouterr()
    train(mocap.main, command[3:])  # the same run again, in this process (3: learned nothing)
    stderr = capsys.readouterr().err
    epochs = [int(r["epoch"]) for r in csv.DictReader(open(history))]
    assert epochs == list(range(1, 7))
    # The second run's TensorBoard file starts where the killed one stopped.
    files = sorted(glob.glob(str(run_dir / "logs" / "train" / "events.out.tfevents.*")),
                   key=os.path.getmtime)
    assert len(files) == 2
    steps = [event.step for event in tf.compat.v1.train.summary_iterator(files[-1])
             for value in event.summary.value if value.tag == "epoch_loss"]
    assert min(steps) == len(done) + 1  # TensorBoard counts from 1 too
    log = json.load(open(run_dir / "checkpoints" / "best.json"))
    assert 1 <= log["epoch"] <= 6
    assert "resuming the run" in stderr and "taking over the lock" in stderr
    assert json.load(open(run_dir / "summary.json"))["folds"][0]["epochs_run"] == 6
    assert not (run_dir / ".lock").exists() and not (run_dir / "backup").exists()


MIRRORED = textwrap.dedent("""
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from experiments import speech
    from mer_tf.training.distribute import make_strategy
    print("replicas", make_strategy("mirrored").num_replicas_in_sync)
    speech.main(sys.argv[1:])
""")


@pytest.mark.slow
def test_training_under_mirrored_strategy_on_two_logical_cpus(prepared, assets, tmp_path):
    """MirroredStrategy with mixed precision, and the export of what it trained."""
    run_dir = tmp_path / "mirrored"
    args = run_args(prepared, assets, run_dir, "--strategy", "mirrored", "--mixed-precision",
                    "bfloat16")
    result = subprocess.run([sys.executable, "-c", MIRRORED, *args], capture_output=True,
                            text=True)
    assert result.returncode in (0, FAILED_EXIT_CODE), result.stderr[-3000:]  # 3: learned nothing
    assert "replicas 2" in result.stdout
    metrics = json.load(open(run_dir / "summary.json"))
    assert metrics["folds"][0]["test"]["utterances"] == prepared[1]["sessions"]["5"]["utterances"]
    assert (run_dir / "saved_model" / "saved_model.pb").exists()
    served = tf.saved_model.load(str(run_dir / "saved_model"))
    waveform = tf.constant(np.random.default_rng(0).normal(0, 0.1, (2, 9000)), tf.float32)
    probabilities = served.serve(waveform, tf.constant([9000, 5000]))["probabilities"]
    assert probabilities.dtype == tf.float32  # float32 serving after bfloat16 training
    np.testing.assert_allclose(probabilities.numpy().sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_frozen_towers_with_cached_features_and_loso(prepared, assets, tmp_path):
    from experiments import concat

    # the cache goes beside the data: a copy without the caches other tests made
    shutil.copytree(prepared[0], tmp_path / "data", ignore=shutil.ignore_patterns("feature_cache"))
    prepared = (str(tmp_path / "data"), prepared[1])
    frozen = ("--freeze", "speech,text", "--cache-features", "--no-export")
    train(concat.main, run_args(prepared, assets, tmp_path / "cached", *frozen,
                                "--protocol", "loso", "--folds", "4,5"))
    summary = json.load(open(tmp_path / "cached" / "summary.json"))
    caches = glob.glob(os.path.join(prepared[0], "feature_cache", "*", "*.tfrecord"))
    assert len(caches) == len(prepared[1]["shards"])  # one per shard, covering every session
    assert [f["fold"] for f in summary["folds"]] == ["fold4", "fold5"]
    assert summary["ua"] == pytest.approx(np.mean([f["test"]["ua"] for f in summary["folds"]]))
    assert summary["ua_std"] == pytest.approx(
        np.std([f["test"]["ua"] for f in summary["folds"]], ddof=1))
    for fold in ("fold4", "fold5"):
        assert (tmp_path / "cached" / fold / "metrics.json").exists()
    mtimes = {p: os.stat(p).st_mtime_ns for p in caches}
    # Another run's fold5 gets its model and cache as the trainer does (build_fold):
    # the cache is reused, not recomputed.
    from mer_tf.config import RunConfig
    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.training.fold import build_fold
    from mer_tf.training.splits import make_folds

    config = RunConfig.load(str(tmp_path / "cached"))
    corpus = PreparedCorpus.open(prepared[0])
    fold5 = next(f for f in make_folds(config.data, corpus) if f.name == "fold5")
    built = build_fold(config, fold5, corpus, tf.distribute.get_strategy(), progress=False)
    assert tuple(built.cached) == ("speech", "text") and built.feature_cache is not None
    assert all(os.stat(p).st_mtime_ns == m for p, m in mtimes.items())


@pytest.mark.slow
def test_group_commands_write_a_table_and_hparams(prepared, assets, tmp_path):
    from experiments import ablation, pairwise

    fast = ("--freeze", "speech,text", "--cache-features", "--no-export", "--epochs", "1")
    train(ablation.main, [*run_args(prepared, assets, tmp_path / "ablation", *fast),
                          "--optimizers", "sgd,rmsprop", "--targets", "both"])
    table = (tmp_path / "ablation" / "summary.md").read_text()
    assert "test CCC arousal/valence/dominance" in table  # --targets both: its figures too
    assert len(re.findall(r"-?\d\.\d{3}/-?\d\.\d{3}/-?\d\.\d{3}", table)) == 2
    assert "sgd" in table and "rmsprop" in table and "speech+text+mocap" in table
    rows = {line.split()[0]: line for line in table.splitlines()
            if line.split() and line.split()[0] in ("sgd", "rmsprop")}
    for row in rows.values():  # WA, UA and F1, each with its 95 % bootstrap interval
        assert len(re.findall(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", row)) == 3
    assert re.search(r"[+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", rows["rmsprop"])  # ΔUA
    configs = [json.load(open(tmp_path / "ablation" / o / "config.json"))
               for o in ("sgd", "rmsprop")]
    assert [c["train"]["optimizer"] for c in configs] == ["sgd", "rmsprop"]
    assert all(c["model"]["speech"]["freeze"] for c in configs)  # other flags shared by every run
    group_events = {tag for _, tag, plugin, _ in _events(str(tmp_path / "ablation"))
                    if plugin == "hparams"}
    assert group_events
    # pairwise goes through the same run_group; what differs is its list of runs.
    parser = build_parser("pairwise", "")
    pairwise._arguments(parser)
    pairs = pairwise._variants(parser.parse_args([]))
    everything = pairwise._variants(parser.parse_args(["--subsets", "all"]))
    assert {k: tuple(v["model"]["modalities"]) for k, v in pairs.items()} == {
        "speech+text": ("speech", "text"), "speech+mocap": ("speech", "mocap"),
        "text+mocap": ("text", "mocap")}
    assert len(everything) == 7
    assert tuple(everything["speech+text+mocap"]["model"]["modalities"]) == MODALITIES


@pytest.mark.slow
def test_cache_features_without_a_frozen_tower_is_refused(prepared, assets, tmp_path, capsys):
    from experiments import mocap

    with pytest.raises(SystemExit) as stopped:
        mocap.main(run_args(prepared, assets, tmp_path / "r", "--cache-features"))
    assert stopped.value.code == 2
    assert "needs a frozen pretrained tower" in capsys.readouterr().err


@pytest.mark.slow
def test_feature_cache_key_follows_the_weights_and_precision(prepared, assets, tmp_path):
    """A SavedModel replaced at the same path, or another compute dtype, is another cache."""
    import dataclasses

    import keras

    from mer_tf.config import SpeechConfig
    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.testing.wav2vec2_savedmodel import TINY, save_wav2vec2
    from mer_tf.training.feature_cache import FeatureCache

    path = str(tmp_path / "wav2vec2")
    tiny = dataclasses.replace(TINY, input_length=16000)

    def key():
        config = ModelConfig(modalities=("speech",), speech=SpeechConfig(model=path, freeze=True))
        corpus = PreparedCorpus(*prepared)
        return FeatureCache(corpus, ModelBuilder(config, corpus.facts), ("speech",)).key

    save_wav2vec2(path, dataclasses.replace(tiny, seed=0))
    first = key()
    assert key() == first  # same files, same key
    shutil.rmtree(path)
    save_wav2vec2(path, dataclasses.replace(tiny, seed=1))
    replaced = key()
    assert replaced != first
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        assert key() not in (first, replaced)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_metrics_cover_the_label_set_and_mark_absent_classes():
    from sklearn.metrics import f1_score

    from mer_tf.evaluation.metrics import classification_metrics, sample_std

    names = ("ang", "exc", "neu", "sad")
    labels, predicted = [0, 0, 1, 1], [0, 0, 1, 2]  # neu predicted, never true; sad absent
    metrics = classification_metrics(labels, predicted, names)
    assert metrics["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert metrics["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert metrics["ua"] == pytest.approx((1 + 0.5) / 2)
    assert metrics["per_class_recall"] == {"ang": 1.0, "exc": 0.5, "neu": None, "sad": None}
    assert metrics["absent_classes"] == ["neu", "sad"]
    assert "ddof=1" in metrics["averaging"]["std"]
    assert sample_std([0.5, 0.7]) == pytest.approx(0.1414213, rel=1e-6)
    json.dumps(metrics)  # absent classes are null in metrics.json


@pytest.mark.slow
def test_a_finished_run_is_reported_not_retrained_unless_overwritten(prepared, assets, tmp_path,
                                                                      capsys):
    from experiments import mocap

    argv = run_args(prepared, assets, tmp_path / "run", "--no-export")
    train(mocap.main, argv)
    first = json.load(open(tmp_path / "run" / "summary.json"))
    weights = tmp_path / "run" / "checkpoints" / "best.weights.h5"
    history = tmp_path / "run" / "history.csv"
    stamps = {p: os.stat(p).st_mtime_ns for p in (weights, history)}
    again = train(mocap.main, argv)  # the stored summary (None where it exits 3 again)
    assert again in (None, first)
    assert json.load(open(tmp_path / "run" / "summary.json")) == first
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps  # nothing retrained
    assert "holds a finished run: reported, not trained again" in capsys.readouterr().err
    train(mocap.main, [*argv, "--overwrite"])
    assert os.stat(history).st_mtime_ns != stamps[history]
    rows = list(csv.DictReader(open(history)))
    assert [int(r["epoch"]) for r in rows] == [1, 2]  # a fresh run, not appended to the old


# -- what every run reports (intervals, leakage) and comparing two runs --------------

@pytest.mark.slow
def test_compare_command_on_two_runs(trained_run, tmp_path, capsys):
    import shutil

    from experiments import compare

    other = tmp_path / "other"
    shutil.copytree(trained_run, other, ignore=shutil.ignore_patterns("saved_model", "logs"))
    os.remove(other / ".lock") if (other / ".lock").exists() else None
    predictions = (other / "predictions.csv").read_text().splitlines()
    flipped = [predictions[0]] + [",".join(row.split(",")[:4] + [row.split(",")[3]]
                                           + row.split(",")[5:]) for row in predictions[1:]]
    (other / "predictions.csv").write_text("\n".join(flipped) + "\n")  # every one right
    out = tmp_path / "compare.json"
    assert compare.main([trained_run, str(other), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["utterances"] == len(predictions) - 1
    assert result["wa"]["b"] == 1.0 and result["wa"]["delta"] >= 0
    assert "McNemar" in capsys.readouterr().out
    renamed = [predictions[0]] + ["x" + row for row in predictions[1:]]
    (other / "predictions.csv").write_text("\n".join(renamed) + "\n")
    assert compare.main([trained_run, str(other)]) == 2
    assert "share no test utterance" in capsys.readouterr().err
    # Another corpus whose utterance ids collide with these, their labels other ones.
    relabelled = [predictions[0]] + [",".join(row.split(",")[:3] + ["sad" if row.split(",")[3]
                                                                   != "sad" else "ang"]
                                              + row.split(",")[4:]) for row in predictions[1:]]
    (other / "predictions.csv").write_text("\n".join(relabelled) + "\n")
    config = json.loads((other / "config.json").read_text())
    assert compare.main([trained_run, str(other)]) == 2  # the same shards: another label set
    assert "though they read the same shards: prepared with another label set?" \
        in capsys.readouterr().err
    config["corpus"], config["data"]["data_dir"] = "0123456789abcdef", "/data/msp_improv"
    (other / "config.json").write_text(json.dumps(config))
    assert compare.main([trained_run, str(other)]) == 2
    err = capsys.readouterr().err
    assert "the runs read different corpora" in err and "/data/msp_improv, digest " \
        "0123456789abcdef" in err and "label set" not in err


@pytest.mark.slow
def test_every_run_reports_intervals_leakage_and_pooled_figures(trained_run):
    summary = json.load(open(os.path.join(trained_run, "summary.json")))
    fold = json.load(open(os.path.join(trained_run, "metrics.json")))
    assert set(fold["test"]["ci95"]) == {"wa", "ua", "macro_f1"}
    assert fold["test"]["bootstrap"]["resamples"] == 1000
    assert fold["leakage"]["fold"] == "session5" and "train_test" in fold["leakage"]
    shared = summary["leakage"]["test_utterances_sharing_a_transcript_with_training"]
    assert shared == fold["leakage"]["train_test"]["transcripts"] > 0
