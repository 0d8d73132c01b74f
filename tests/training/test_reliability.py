"""Nothing lost, nothing silently wrong: kills aimed at every window of a run, the data a
run reads checked against its manifest, locks, and preparation that only ever removes
what it wrote."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from mer_tf.data import prepare as prep
from mer_tf.data.errors import DataError
from mer_tf.io import faults, locking
from tests.helpers import run_args, train


def _killed_at(point, main, argv, times=1):
    """Runs `main(argv)` with a kill armed at `point`; True if it was killed there."""
    faults.arm(point, times)
    try:
        train(main, argv)
    except faults.Killed:
        return True
    finally:
        faults.disarm()
    return False


def _history(run_dir):
    return list(csv.DictReader(open(os.path.join(run_dir, "history.csv"))))


@pytest.mark.slow
def test_a_run_killed_in_every_window_ends_as_one_uninterrupted_run(prepared, assets, tmp_path,
                                                                    capsys):
    """One run, killed in turn at each point between its writes, finishes with every epoch
    in its history once, the best checkpoint that history names, and its export, without
    training any epoch twice after training finished."""
    from experiments import mocap

    run_dir = tmp_path / "run"
    argv = run_args(prepared, assets, run_dir, "--monitor", "val_ua", "--patience", "100")
    argv[argv.index("--epochs") + 1] = "4"
    assert _killed_at("epoch:backup-written", mocap.main, argv, times=2)  # epoch 2, before commit
    assert [int(r["epoch"]) for r in _history(run_dir)] == [1]  # only what was committed
    assert _killed_at("epoch:committed", mocap.main, argv)  # epoch 2 again: committed, not applied
    assert [int(r["epoch"]) for r in _history(run_dir)] == [1]
    assert _killed_at("epoch:applied", mocap.main, argv)  # the start applied epoch 2, then 3 ran
    assert [int(r["epoch"]) for r in _history(run_dir)] == [1, 2, 3]
    # Keras wrote its metadata in place: an empty file is what a kill then leaves. Ours is
    # written atomically, but a damaged newest commit must still only cost one epoch.
    newest = sorted((run_dir / "backup").glob("commit-*.json"))[-1]
    newest.write_text("")
    capsys.readouterr()
    assert _killed_at("fold:trained", mocap.main, argv)  # after the last epoch, before evaluation
    err = capsys.readouterr().err
    assert f"{newest} is damaged" in err and "resumed from the backup: 2 epoch(s) done" in err
    history = _history(run_dir)
    assert [int(r["epoch"]) for r in history] == [1, 2, 3, 4]
    assert (run_dir / "backup").exists()  # kept until the fold is finished
    events = sorted((run_dir / "logs" / "train").glob("events.out.tfevents.*"))
    for point in ("fold:evaluated", "fold:exported", "run:folds-done"):
        assert _killed_at(point, mocap.main, argv)
        assert "training finished in an earlier run" in capsys.readouterr().err \
            or point == "run:folds-done"
        assert _history(run_dir) == history  # no epoch trained again
    assert not (run_dir / "summary.json").exists() and (run_dir / "metrics.json").exists()
    train(mocap.main, argv)
    summary = json.load(open(run_dir / "summary.json"))
    assert _history(run_dir) == history
    assert sorted((run_dir / "logs" / "train").glob("events.out.tfevents.*")) == events
    assert not (run_dir / "backup").exists()
    assert (run_dir / "saved_model" / "saved_model.pb").exists()
    # The best checkpoint is the best epoch of the history, and holds that epoch's weights.
    values = [float(r["val_ua"]) for r in history]
    best = json.load(open(run_dir / "checkpoints" / "best.json"))
    assert best["epoch"] == values.index(max(values)) + 1 == summary["folds"][0]["best_epoch"]
    from mer_tf.evaluation.evaluate import evaluate
    from mer_tf.training.runs import load_run
    from mer_tf.training.splits import make_folds

    run = load_run(str(run_dir))
    fold = make_folds(run.config.data, run.corpus)[0]
    again = evaluate(run.model, run.corpus, fold.validation_split(), run.builder.readers(), 8,
                     run.label_names)["metrics"]
    assert again["ua"] == pytest.approx(values[best["epoch"] - 1], abs=1e-6)
    from mer_tf.serving.recognizer import EmotionRecognizer

    assert EmotionRecognizer.from_run(str(run_dir)).modalities == ("mocap",)


# -- the data a run reads --------------------------------------------------------------

def _outcome(run_dir, checkpoint_file=False):
    """What a finished run left that must not depend on where it was killed: its history,
    predictions and figures, with the sha256 of the best weights' values (less the folder
    and the seconds taken); `checkpoint_file`: the best checkpoint's bytes too (a fresh
    process only: Keras numbers a second model's layers on from the first's, which
    renames the groups in the file)."""
    import hashlib

    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    for key in ("seconds", "directory"):
        metrics.pop(key)
    outcome = {"history": open(os.path.join(run_dir, "history.csv")).read(),
               "predictions": open(os.path.join(run_dir, "predictions.csv")).read(),
               "metrics": metrics}
    if checkpoint_file:
        best = open(os.path.join(run_dir, "checkpoints", "best.weights.h5"), "rb").read()
        outcome["best_file_sha256"] = hashlib.sha256(best).hexdigest()
    return outcome


# Two chains of kills, each process killed at the first time it reaches its point, that
# between them stop a 2-epoch run at every write of every epoch: a process resumed after
# a kill at `epoch:committed` applies that commit, so the next `epoch:applied` it reaches
# is the following epoch's.
KILL_CHAINS = {
    "a": [("epoch:backup-written", 1), ("epoch:committed", 1), ("epoch:applied", 2)],
    "b": [("epoch:applied", 1), ("epoch:backup-written", 2), ("epoch:committed", 2)],
}


@pytest.mark.slow
def test_a_deterministic_run_killed_at_every_epoch_point_resumes_to_the_same_bits(
        prepared, assets, tmp_path):
    """Killed at each write of each epoch of a 2-epoch run and resumed, a --deterministic
    run ends with the uninterrupted run's history, weights, predictions and metrics to the
    bit: each epoch's shuffle and the transformer's dropout continue where the commit left
    them instead of replaying epoch 1's."""
    from experiments import mocap

    def argv(run_dir):
        return run_args(prepared, assets, run_dir, "--deterministic", "--monitor", "val_ua",
                        "--patience", "100", "--no-export")  # two epochs

    train(mocap.main, argv(tmp_path / "whole"))
    expected = _outcome(tmp_path / "whole")
    for name, kills in KILL_CHAINS.items():
        run_dir = tmp_path / name
        for point, epoch in kills:
            assert _killed_at(point, mocap.main, argv(run_dir))
            applied = epoch - (point != "epoch:applied")  # a commit is applied next start
            history = _history(run_dir) if (run_dir / "history.csv").exists() else []
            assert [int(r["epoch"]) for r in history] == list(range(1, applied + 1))
        train(mocap.main, argv(run_dir))
        assert _outcome(run_dir) == expected, f"chain {name}: {kills}"


@pytest.mark.slow
def test_a_run_killed_by_sigkill_after_its_first_commit_resumes_to_the_same_bits(
        prepared, assets, tmp_path):
    """The user's case: a real SIGKILL after epoch 1's commit, then the same command in a
    fresh process, where nothing of the killed process's generators survives: epoch 2
    differed (loss 1.39 against 1.57 on the demo) before the commit held the random state
    and each epoch had its own shuffle."""
    def run(run_dir, kill_at=None):
        args = run_args(prepared, assets, run_dir, "--deterministic", "--no-export")
        env = {**os.environ, faults.ENVIRONMENT: kill_at} if kill_at else os.environ
        return subprocess.run([sys.executable, "-m", "experiments.mocap", *args], env=env,
                              capture_output=True, text=True, timeout=600).returncode

    assert run(tmp_path / "whole") in (0, 3)
    assert run(tmp_path / "killed", "epoch:applied@1") == -9
    assert [int(r["epoch"]) for r in _history(tmp_path / "killed")] == [1]
    assert run(tmp_path / "killed") in (0, 3)
    assert _outcome(tmp_path / "killed", True) == _outcome(tmp_path / "whole", True)


@pytest.mark.slow
def test_the_random_state_holds_every_dropout_of_the_model(corpus, assets):
    """Put back, the committed state replays the same draws in every tower and in modality
    dropout; without it the draws differ (the test would see no dropout otherwise)."""
    import numpy as np

    from mer_tf.config import MocapConfig, ModelConfig, SpeechConfig, TextConfig
    from mer_tf.data.corpus import Split
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.training.progress import random_state, set_random_state

    config = ModelConfig(speech=SpeechConfig(model=assets["speech"]),
                         text=TextConfig(preset=assets["text"], sequence_length=16),
                         mocap=MocapConfig(max_frames=24, width=16, heads=2, intermediate=32),
                         modality_dropout=0.5)
    builder = ModelBuilder(config, corpus.facts)
    model = builder.model()
    inputs, _ = next(iter(corpus.dataset(Split((1,)), builder.readers(), 8, training=False)))
    saved = random_state(model)
    first = np.asarray(model(inputs, training=True))
    second = np.asarray(model(inputs, training=True))
    set_random_state(model, saved)
    again = np.asarray(model(inputs, training=True))
    assert not np.array_equal(first, second)  # the model draws
    np.testing.assert_array_equal(first, again)
    counts = {layer.name: len(layer._seed_generators) for layer in model._flatten_layers()}
    assert counts["modality_dropout"] == 1 and len(saved["keras_seed_generators"]) >= 3
@pytest.fixture
def copy_of_prepared(prepared, tmp_path):
    out = tmp_path / "data"
    shutil.copytree(prepared[0], out, ignore=shutil.ignore_patterns("feature_cache", ".lock"))
    return out


def _verify(data_dir, level="checksum"):
    from mer_tf.data.corpus import PreparedCorpus

    PreparedCorpus.open(str(data_dir)).verify(level)


@pytest.mark.slow
def test_swapped_shards_are_refused_naming_the_file(copy_of_prepared):
    one = sorted(copy_of_prepared.glob("session1-*.tfrecord"))[0]
    five = sorted(copy_of_prepared.glob("session5-*.tfrecord"))[0]
    swap = copy_of_prepared / "swap"
    os.rename(one, swap)
    os.rename(five, one)
    os.rename(swap, five)
    with pytest.raises(DataError, match="holds records of session 5, but .* session 1") as error:
        _verify(copy_of_prepared)
    assert error.value.path == str(one)


@pytest.mark.slow
def test_a_flipped_bit_a_truncated_shard_and_an_edited_count_are_refused(copy_of_prepared):
    shard = sorted(copy_of_prepared.glob("session2-*.tfrecord"))[0]
    data = bytearray(shard.read_bytes())
    pristine = bytes(data)
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    with pytest.raises(DataError) as error:
        _verify(copy_of_prepared)
    # the file, where the damage starts and the advice; none of TensorFlow's internals
    assert re.fullmatch(rf"{re.escape(str(shard))}: not a readable TFRecord file: the record "
                        r"at byte [\d,]+ is damaged, so the file changed since preparation; "
                        r"prepare the data again", str(error.value))
    _verify(copy_of_prepared, "size")  # sizes alone cannot see a flipped bit
    shard.write_bytes(pristine[:-100])
    with pytest.raises(DataError, match="is cut short|bytes where") as error:
        _verify(copy_of_prepared)
    assert error.value.path == str(shard) and "{{" not in str(error.value)
    with pytest.raises(DataError, match="bytes where"):
        _verify(copy_of_prepared, "size")
    shard.write_bytes(pristine)
    manifest_path = copy_of_prepared / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sessions"]["3"]["utterances"] += 2
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="session 3: its shards hold") as error:
        _verify(copy_of_prepared, "size")
    assert error.value.path == str(manifest_path)


@pytest.mark.slow
def test_training_checks_its_shards_before_the_first_epoch(copy_of_prepared, prepared, assets,
                                                           tmp_path, capsys):
    from experiments import mocap

    shard = sorted(copy_of_prepared.glob("session1-*.tfrecord"))[0]
    shard.write_bytes(shard.read_bytes()[:-10])
    argv = run_args((str(copy_of_prepared), prepared[1]), assets, tmp_path / "run")
    with pytest.raises(SystemExit) as exit_:
        mocap.main(argv)
    assert exit_.value.code == 2
    assert f"error: {shard}: " in capsys.readouterr().err
    assert not (tmp_path / "run" / "history.csv").exists()  # refused before any epoch


@pytest.mark.slow
def test_a_preparation_that_fails_after_changing_a_shard_leaves_no_stale_manifest(
        release, tmp_path):
    out = tmp_path / "data"
    prep.prepare(prep.PrepareConfig(source=release[0], out_dir=str(out), shard_size=16,
                                    sessions=(1, 2)), progress=False)
    # the release changes (a file fixed, say); the rebuild is killed after its first shard
    first = sorted((tmp_path / "data").glob("session1-*.tfrecord"))[0]
    faults.arm("prepare:shard-written")
    config = prep.PrepareConfig(source=release[0], out_dir=str(out), shard_size=16,
                                sessions=(1, 2), mocap_chunks=100, overwrite=True)
    with pytest.raises(faults.Killed):
        prep.prepare(config, progress=False)
    faults.disarm()
    assert first.exists() and not (out / "manifest.json").exists()
    assert not (out / "utterances.json").exists()  # nor an index of the shards before
    from mer_tf.data.corpus import PreparedCorpus

    with pytest.raises(DataError, match="began here but did not finish"):
        PreparedCorpus.open(str(out))


# -- preparation never removes what it did not write ----------------------------------

@pytest.mark.slow
def test_preparation_refuses_a_foreign_folder_and_never_removes_other_files(release, tmp_path,
                                                                           capsys):
    from experiments import prepare

    out = tmp_path / "mine"
    out.mkdir()
    (out / "other.tfrecord").write_text("x")
    (out / "results.tmp-final.csv").write_text("y")
    argv = ["--iemocap", release[0], "--out", str(out), "--sessions", "1,2", "--quiet",
            "--shard-size", "16"]
    assert prepare.main(argv) == 2
    err = capsys.readouterr().err
    assert "holds no preparation of ours" in err and "--into-existing" in err
    assert "--on-error" not in err  # a wrong folder is no bad file to skip
    assert sorted(os.listdir(out)) == ["other.tfrecord", "results.tmp-final.csv"]
    assert prepare.main([*argv, "--into-existing"]) == 0
    # another plan into the same folder (one session fewer): our orphan shards go, theirs stay
    assert prepare.main([*argv[:4], "--sessions", "1", "--quiet", "--shard-size", "16",
                         "--overwrite"]) == 0
    names = os.listdir(out)
    assert {"other.tfrecord", "results.tmp-final.csv"} <= set(names)
    assert not [n for n in names if n.startswith("session2")]
    assert (out / "other.tfrecord").read_text() == "x"


@pytest.mark.slow
def test_orphans_of_an_earlier_plan_are_ours_alone(release, tmp_path):
    out = tmp_path / "data"
    prep.prepare(prep.PrepareConfig(source=release[0], out_dir=str(out), shard_size=16,
                                    sessions=(1, 2)), progress=False)
    (out / "session2-00009-of-00010.tfrecord").write_text("a user's file with our kind of name")
    (out / "notes.tmp-draft").write_text("z")
    prep.prepare(prep.PrepareConfig(source=release[0], out_dir=str(out), shard_size=16,
                                    sessions=(1,), overwrite=True), progress=False)
    names = set(os.listdir(out))
    assert {"session2-00009-of-00010.tfrecord", "notes.tmp-draft"} <= names
    assert not {n for n in names if n.startswith("session2-00000")}


# -- locks -------------------------------------------------------------------------------

def _write_lock(folder, pid):
    import socket

    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                              "since": "earlier", "command": "python -m x"}))


@pytest.mark.slow
def test_a_folder_in_use_is_refused_naming_its_owner(release, prepared, assets, tmp_path,
                                                     capsys):
    from experiments import mocap, prepare

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_lock(tmp_path / "out", sleeper.pid)
        assert prepare.main(["--iemocap", release[0], "--out", str(tmp_path / "out"),
                             "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"process {sleeper.pid} on" in err and "is in use" in err
        assert os.listdir(tmp_path / "out") == [".lock"]  # nothing written, the lock kept
        _write_lock(tmp_path / "run", sleeper.pid)
        with pytest.raises(SystemExit) as exit_:
            mocap.main(run_args(prepared, assets, tmp_path / "run"))
        assert exit_.value.code == 2 and f"process {sleeper.pid}" in capsys.readouterr().err
        assert os.listdir(tmp_path / "run") == [".lock"]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_lock(tmp_path / "folder", dead.pid)
    with locking.locked(str(tmp_path / "folder"), "a test"):
        owner = json.load(open(tmp_path / "folder" / ".lock"))
        assert owner["pid"] == os.getpid()
        with pytest.raises(locking.Locked, match=f"process {os.getpid()}"):
            with locking.locked(str(tmp_path / "folder"), "a second holder"):
                pass
    assert "no longer running" in capsys.readouterr().err
    assert os.listdir(tmp_path / "folder") == []  # released, no temporary left


# -- a run folder moved ------------------------------------------------------------------

@pytest.mark.slow
def test_a_moved_run_folder_is_the_same_run(prepared, assets, tmp_path, capsys):
    from experiments import mocap

    argv = run_args(prepared, assets, tmp_path / "here", "--no-export")
    faults.arm("fold:trained")
    with pytest.raises(faults.Killed):
        train(mocap.main, argv)
    faults.disarm()
    shutil.move(tmp_path / "here", tmp_path / "there")
    capsys.readouterr()
    moved = run_args(prepared, assets, tmp_path / "there", "--no-export")
    train(mocap.main, moved)
    err = capsys.readouterr().err
    assert "the run folder moved since the run began" in err
    assert "training finished in an earlier run" in err
    assert json.load(open(tmp_path / "there" / "config.json"))["run_dir"] == str(
        tmp_path / "there")
    with pytest.raises(SystemExit) as exit_:
        mocap.main([*moved, "--seed", "5"])
    assert exit_.value.code == 2
    assert "another configuration (train.seed 0 -> 5)" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated index", "deleted shard", "edited count"])
def test_the_audit_checks_the_corpus_as_training_does(copy_of_prepared, damage, capsys):
    """A damaged corpus is one line naming the file and exit 2, never a traceback or an
    audit of what is left (a deleted shard or an edited count passed before)."""
    from experiments import audit

    assert audit.main(["--data-dir", str(copy_of_prepared)]) == 0
    capsys.readouterr()
    if damage == "truncated index":
        target = copy_of_prepared / "utterances.json"
        target.write_bytes(target.read_bytes()[:200])
    elif damage == "deleted shard":
        target = sorted(copy_of_prepared.glob("session3-*.tfrecord"))[0]
        target.unlink()
    else:
        target = copy_of_prepared / "manifest.json"
        manifest = json.loads(target.read_text())
        manifest["sessions"]["4"]["classes"]["ang"] += 1
        manifest["sessions"]["4"]["utterances"] += 1
        manifest["utterances"] += 1
        target.write_text(json.dumps(manifest))
    assert audit.main(["--data-dir", str(copy_of_prepared)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"error: {target}")
