"""Two workers on 127.0.0.1, each its own process with its own TF_CONFIG: identical
weights, each training utterance once per epoch across the workers, the chief alone
writing the run folder, metrics equal to a single-worker evaluation of the same weights,
a barrier that waits for the slowest worker; and LOSO folds one after another on both,
with a worker killed mid-fold, after which starting the workers again skips the finished
fold and resumes from the last backup, in step."""

import glob
import json
import os
import re
import signal
import sys
import time

import pytest

from mer_tf.commands import launch
from mer_tf.commands.experiment import FAILED_EXIT_CODE
from tests.helpers import run_args

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run

FAST = {"MER_TF_HEARTBEAT_SECONDS": "3", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _command(prepared, assets, run_dir, *extra, experiment="concat"):
    return [sys.executable, "-m", f"experiments.{experiment}", "--strategy", "multiworker",
            *run_args(prepared, assets, run_dir, *extra)]


def _log(log_dir, index):
    return open(os.path.join(log_dir, f"worker{index}.log")).read()


def test_two_workers_train_in_step_and_only_the_chief_writes(prepared, assets, tmp_path):
    from mer_tf.evaluation.evaluate import evaluate
    from mer_tf.training.runs import load_run

    run_dir, logs = tmp_path / "run", str(tmp_path / "logs")
    code = launch.run(_command(prepared, assets, run_dir), 2, logs, timeout=400, env=FAST)
    # 3: the fold learned nothing usable in two epochs on 60 utterances; the run is complete
    assert code in (0, FAILED_EXIT_CODE), _log(logs, 0)[-3000:] + _log(logs, 1)[-3000:]
    digests = [re.findall(r"session5 weights sha256 (\w+)", _log(logs, i)) for i in (0, 1)]
    assert len(digests[0]) == 1 and digests[0] == digests[1]
    own = re.search(r"writing to the temporary folder (\S+)", _log(logs, 1)).group(1)
    assert not os.path.exists(own)  # the other worker's folder is gone
    assert "temporary folder" not in _log(logs, 0)
    events = glob.glob(str(run_dir / "**" / "events.out.tfevents.*"), recursive=True)
    writers = {os.path.basename(e).split(".")[-3] for e in events}  # ….<host>.<pid>.<n>.v2
    assert events and len(writers) == 1  # TensorBoard files of one process: the chief's
    assert (run_dir / "saved_model" / "saved_model.pb").exists()
    assert not (run_dir / "backup").exists()
    summary = json.load(open(run_dir / "summary.json"))
    assert summary["folds"][0]["weights_sha256"] == digests[0][0]
    run = load_run(str(run_dir))  # the same weights, in one process
    from mer_tf.training.splits import make_folds

    fold = make_folds(run.config.data, run.corpus)[0]
    single = evaluate(run.model, run.corpus, fold.test_split(), run.builder.readers(), 8,
                      run.label_names)["metrics"]
    written = summary["folds"][0]["test"]
    for key in ("wa", "ua", "macro_f1"):
        assert single[key] == pytest.approx(written[key], abs=1e-9)


def test_each_training_utterance_once_per_epoch_across_workers_and_the_barrier_waits(
        prepared, assets, tmp_path):
    logs = str(tmp_path / "logs")
    command = [sys.executable, "-m", "tests.multiworker_batches", prepared[0], assets["speech"],
               assets["text"], str(tmp_path)]
    assert launch.run(command, 2, logs, timeout=300, env=FAST) == 0, _log(logs, 0)[-3000:]
    seen = [json.load(open(tmp_path / f"ids{i}.json")) for i in (0, 1)]
    expected = json.load(open(tmp_path / "expected.json"))
    assert len(seen[0]["steps"]) == len(seen[1]["steps"]) == expected["steps"]
    for step0, step1 in zip(seen[0]["steps"], seen[1]["steps"]):
        assert not set(step0) & set(step1)  # no utterance twice in a global step
    everything = [u for worker in seen for step in worker["steps"] for u in step]
    assert sorted(everything) == sorted(expected["ids"])  # each once per epoch
    assert json.load(open(tmp_path / "barrier1.json"))["waited"] > 1.5  # for the late chief


def test_loso_folds_on_both_workers_and_a_killed_worker_resumes(prepared, assets, tmp_path):
    run_dir, logs = tmp_path / "run", str(tmp_path / "logs")
    command = _command(prepared, assets, run_dir, "--protocol", "loso", "--folds", "4,5",
                       "--patience", "2", "--no-export", experiment="mocap")  # small: time
    ports = launch.free_ports(2)
    processes = launch.start(command, ports, logs, FAST)
    try:
        history = run_dir / "fold5" / "history.csv"
        deadline = time.monotonic() + 300
        while not (history.exists() and len(history.read_text().splitlines()) >= 2):
            assert time.monotonic() < deadline and processes[0].poll() is None, _log(logs, 0)
            time.sleep(0.05)
        os.killpg(processes[1].pid, signal.SIGKILL)  # during fold5's second epoch
        codes = launch.wait(processes, timeout=120)
        assert codes[0] != 0 and codes[1] != 0  # the chief stops: it cannot go on alone
    finally:
        launch.stop(processes)
    assert (run_dir / "fold5" / "backup").exists() and not (run_dir / "summary.json").exists()
    finished = os.stat(run_dir / "fold4" / "metrics.json").st_mtime_ns
    processes = launch.start(command, ports, logs, FAST, attempt=1)  # the same TF_CONFIG
    try:
        codes = launch.wait(processes, timeout=300)
        assert set(codes) <= {0, FAILED_EXIT_CODE}, _log(logs, 0)[-3000:]
    finally:
        launch.stop(processes)
    restarted = [_log(logs, index).split("--- attempt 1")[1] for index in (0, 1)]
    for log in restarted:
        assert "fold4 finished already" in log and "resumed from the backup" in log
    # in step after the restart: both workers end with the best checkpoint's weights
    digests = [re.findall(r"fold5 weights sha256 (\w+)", log) for log in restarted]
    assert len(digests[0]) == 1 and digests[0] == digests[1]
    assert os.stat(run_dir / "fold4" / "metrics.json").st_mtime_ns == finished
    epochs = [line.split(",")[0] for line in history.read_text().splitlines()[1:]]
    assert epochs == ["1", "2"]  # each epoch once, none lost
    summary = json.load(open(run_dir / "summary.json"))
    assert [f["fold"] for f in summary["folds"]] == ["fold4", "fold5"]
    assert summary["folds"][1]["weights_sha256"] == digests[0][0]
    assert not (run_dir / "fold5" / "backup").exists()
