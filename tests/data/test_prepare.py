"""Preparation: schema round trip, manifest, idempotence, resume after a kill."""

import glob
import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest
import soundfile

from mer_tf.data import mocap_files
from mer_tf.data import prepare as prep
from mer_tf.data.corpus import read_manifest
from mer_tf.data.errors import DataError
from mer_tf.data.iemocap import MOCAP_STREAMS
from tests.helpers import records as _records


def _digests(directory):
    return {name: hashlib.sha256(open(os.path.join(directory, name), "rb").read()).hexdigest()
            for name in sorted(os.listdir(directory))
            if name.endswith(".tfrecord") or name == "manifest.json"}


def _every_file(directory):
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.mark.slow
def test_workers_write_the_bytes_one_process_writes(release, tmp_path, caplog):
    """Shards, their states, the index and the manifest: the same bytes from two worker
    processes as from one."""
    caplog.set_level(logging.DEBUG, logger="mer_tf.data")
    for workers in (1, 2):
        prep.prepare(prep.PrepareConfig(source=release[0], out_dir=str(tmp_path / str(workers)),
                                        shard_size=16, workers=workers), progress=False)
    one, two = _every_file(tmp_path / "1"), _every_file(tmp_path / "2")
    shards = len([n for n in one if n.endswith(".tfrecord")])
    assert shards > 2
    assert {"manifest.json", "utterances.json", ".state/settings.json"} < set(one)
    assert one == two
    # the workers wrote them: this process rewrites a shard only where a worker failed
    assert f"{shards} of {shards} shards written by worker processes" in caplog.text
    # the worker count is no setting: another one keeps every shard
    again = prep.prepare(prep.PrepareConfig(source=release[0], out_dir=str(tmp_path / "2"),
                                            shard_size=16, workers=1), progress=False)
    assert again["rebuilt"] == {} and _every_file(tmp_path / "2") == one


@pytest.mark.slow
def test_manifest_counts_equal_the_generator(prepared, release):
    data_dir, manifest = prepared
    _, truth = release
    in_set = [t for t in truth if t.emotion in ("ang", "exc", "neu", "sad")]
    assert manifest["utterances"] == len(in_set)
    assert manifest["class_counts"] == {c: sum(t.emotion == c for t in in_set)
                                        for c in ("ang", "exc", "neu", "sad")}
    assert manifest["excluded"] == dict(sorted(Counter(
        t.emotion for t in truth if t.emotion not in ("ang", "exc", "neu", "sad")).items()))
    for session, info in manifest["sessions"].items():
        assert info["utterances"] == sum(t.session == int(session) for t in in_set)
        assert info["mocap_on_listener"] == sum(
            t.session == int(session) and t.speaker_gender != t.mocap_wearer for t in in_set)
    assert manifest["mocap"]["streams"] == {"head": 6, "hand": 18, "rotated": 165}
    columns = manifest["mocap"]["columns"]
    assert columns["head"] == ["pitch", "roll", "yaw", "tra_x", "tra_y", "tra_z"]
    assert columns["rotated"][:4] == ["M01_X", "M01_Y", "M01_Z", "M02_X"]
    assert len(columns["hand"]) == 18
    for shard in manifest["shards"]:
        path = os.path.join(data_dir, shard["file"])
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() == shard["sha256"]
        assert shard["file"].startswith(f"session{shard['session']}-")
    assert manifest["skipped_count"] == 0


@pytest.mark.slow
def test_lines_without_an_utterance_id_are_counted_per_dialog(prepared, release):
    root, _ = release
    _, manifest = prepared
    found = {}
    for path in glob.glob(os.path.join(root, "Session*", "dialog", "transcriptions", "*.txt")):
        lines = open(path).read().splitlines()
        count = sum(line[:3] in ("M: ", "F: ") for line in lines)
        if count:
            found[os.path.basename(path)[:-4]] = count
    assert found  # the generator writes such lines, as the real release has
    notes = manifest["dialog_notes"]
    assert {d: n["transcript_lines_without_id"] for d, n in notes.items()
            if n.get("transcript_lines_without_id")} == found


@pytest.mark.slow
def test_schema_round_trip_against_the_source_files(prepared, release):
    data_dir, manifest = prepared
    root, truth = release
    records = _records(data_dir, manifest)
    by_id = {t.utterance_id: t for t in truth}
    assert len(records) == manifest["utterances"]
    assert len({r["utterance_id"] for r in records}) == len(records)
    r = next(r for r in records if not r["mocap_is_speaker"])
    t = by_id[r["utterance_id"]]
    assert (r["session"], r["dialog"], r["text"], r["label_name"], r["emotion"]) == (
        t.session, t.dialog, t.transcript, t.emotion, t.emotion)
    assert r["label"] == ["ang", "exc", "neu", "sad"].index(t.emotion)
    assert r["speaker"] == f"Ses{t.session:02d}{t.speaker_gender}" and r["label_set"] == "seed4"
    wav = os.path.join(root, f"Session{t.session}", "sentences", "wav", t.dialog,
                       f"{t.utterance_id}.wav")
    samples, rate = soundfile.read(wav, dtype="int16")
    np.testing.assert_array_equal(r["audio"], samples)
    assert r["audio/sample_rate"] == rate == 16000
    frames = r["mocap/num_frames"]
    assert frames == int(np.ceil(round((t.end - t.start) * 30, 6)))
    for stream in MOCAP_STREAMS:
        track = mocap_files.read_mocap(os.path.join(root, f"Session{t.session}", "dialog",
                                                 f"MOCAP_{stream}", f"{t.dialog}.txt"))
        times, values = mocap_files.slice_track(track, t.start, t.end)
        expected, present = mocap_files.frames_view(times, values, t.start, t.end, 30.0)
        np.testing.assert_allclose(r[f"mocap/{stream}/values"], expected, rtol=1e-6)
        np.testing.assert_array_equal(r[f"mocap/{stream}/present"], present)
    assert r["mocap/chunks/values"].shape == (200, 189)
    # NaN gaps are recorded as a mask, and stored values hold no NaN.
    all_present = np.concatenate([x[f"mocap/{s}/present"].ravel() for x in records
                                  for s in MOCAP_STREAMS])
    assert 0 < (~all_present).sum() < all_present.size
    assert not any(np.isnan(x["mocap/rotated/values"]).any() for x in records)


@pytest.mark.slow
def test_rerun_skips_finished_shards_and_is_byte_identical(prepared, release):
    data_dir, _ = prepared
    before = _digests(data_dir)
    mtimes = {n: os.stat(os.path.join(data_dir, n)).st_mtime_ns for n in before}
    prep.prepare(prep.PrepareConfig(source=release[0], out_dir=data_dir, shard_size=16),
                 progress=False)
    assert _digests(data_dir) == before
    assert all(os.stat(os.path.join(data_dir, n)).st_mtime_ns == m
               for n, m in mtimes.items() if n.endswith(".tfrecord"))


@pytest.mark.slow
def test_other_settings_in_the_same_folder_are_refused(prepared, release):
    data_dir, _ = prepared
    with pytest.raises(ValueError, match="mocap_rate"):
        prep.prepare(prep.PrepareConfig(source=release[0], out_dir=data_dir, shard_size=16,
                                        mocap_rate=60.0), progress=False)


@pytest.mark.slow
def test_killed_run_resumes_to_identical_output(prepared, release, tmp_path):
    reference_dir, _ = prepared
    out = tmp_path / "out"
    command = [sys.executable, "-m", "experiments.prepare", "--iemocap", release[0],
               "--out", str(out), "--shard-size", "16", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / ".state"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if state.exists() and any(p.suffix == ".json" and p.name != "settings.json"
                                  for p in state.iterdir()):
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = [p for p in state.iterdir() if p.name.endswith(".tfrecord.json")]
    total = len(read_manifest(reference_dir)["shards"])
    assert 1 <= len(finished) < total, "the run should have been killed part-way"
    assert not (out / "manifest.json").exists()
    done = {p.name[: -len(".json")]: p.stat().st_mtime_ns for p in finished}

    from experiments import prepare

    assert prepare.main(command[3:]) == 0  # the same command again, in this process
    assert _digests(str(out)) == _digests(reference_dir)
    assert not [n for n in os.listdir(out) if ".tmp-" in n]
    for name, mtime in done.items():  # finished shards were kept, not rewritten
        assert (out / ".state" / f"{name}.json").stat().st_mtime_ns == mtime


def test_a_folder_prepared_from_another_release_is_rebuilt_not_reused(tmp_path):
    """Release A then release B into one folder: B's manifest must describe B's shards."""
    from mer_tf.synthetic.release import SyntheticConfig, generate

    tiny = dict(utterances=16, dialogs_per_session=2, sessions=2, mean_seconds=0.6)
    releases = {seed: str(tmp_path / f"release{seed}") for seed in (1, 2)}
    for seed, root in releases.items():
        generate(root, SyntheticConfig(seed=seed, **tiny))

    def run(source, out):
        return prep.prepare(prep.PrepareConfig(source=source, out_dir=str(out), shard_size=4,
                                               sessions=(1, 2)), progress=False)

    run(releases[1], tmp_path / "shared")
    reused = run(releases[2], tmp_path / "shared")
    fresh = run(releases[2], tmp_path / "fresh")
    assert [s["sha256"] for s in reused["shards"]] == [s["sha256"] for s in fresh["shards"]]
    assert reused["class_counts"] == fresh["class_counts"]
    assert sorted(os.listdir(tmp_path / "shared")) == sorted(os.listdir(tmp_path / "fresh"))
    assert fresh["rebuilt"] == {}
    # every shard whose name release A's plan also had was rebuilt, saying why
    assert reused["rebuilt"] and set(reused["rebuilt"]) <= {s["file"] for s in reused["shards"]}
    assert all("source file(s) changed" in why for why in reused["rebuilt"].values())


def _rotated_text(rows=240, seed=0):
    """A MOCAP_rotated file of the release's width (frame, time, 55 markers x 3) with NaN
    gaps, values written with 3 decimals and with all 17 digits."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(-200, 200, (rows, 165))
    for marker in rng.integers(0, 55, 8):
        start = int(rng.integers(0, rows - 30))
        values[start:start + 30, 3 * marker:3 * marker + 3] = np.nan
    lines = [f"{frame + 1} {frame / 120:.4f} " + " ".join(
        f"{v:.3f}" if k % 2 else repr(float(v)) for k, v in enumerate(row)).replace("nan", "NaN")
        for frame, row in enumerate(values)]
    header = "Frame# Time " + " ".join(f"M{k:02d}" for k in range(1, 56)) + "\n" + " ".join(
        f"X{k:02d} Y{k:02d} Z{k:02d}" for k in range(1, 56)) + "\n"
    return header + "\n".join(lines) + "\n"


def test_mocap_rows_parse_to_the_bits_of_numpy_loadtxt():
    text = _rotated_text()
    assert mocap_files._single_space_table(text) is not None  # the fast parser reads it
    track = mocap_files.parse_mocap_text(text, "x.txt")
    table = np.loadtxt(text.splitlines()[2:], dtype=np.float64, ndmin=2)
    assert np.isnan(track.values).any() and track.values.shape == (240, 165)
    assert track.times.tobytes() == table[:, 1].tobytes()
    assert track.values.tobytes() == table[:, 2:].astype(np.float32).tobytes()
    assert track.columns[:4] == ("M01_X", "M01_Y", "M01_Z", "M02_X")
    lines = text.splitlines()
    row = lines[9]
    lines[9] = row.rsplit(" ", 1)[0]
    with pytest.raises(DataError) as error:
        mocap_files.parse_mocap_text("\n".join(lines), "x.txt")
    assert str(error.value) == ("x.txt:10: row has 166 columns, the first row has 167 "
                                "(frame, time and 165 values)")
    lines[9] = " ".join(["10", "1.5e", *row.split(" ")[2:]])
    with pytest.raises(DataError, match="^x.txt:10: value '1.5e' is not a number$"):
        mocap_files.parse_mocap_text("\n".join(lines), "x.txt")
    # what pyarrow reads and loadtxt refuses, loadtxt's error: MSVC's NaN, a byte order mark
    tokens = row.split(" ")
    lines[9] = " ".join([*tokens[:5], "-nan(ind)", *tokens[6:]])
    with pytest.raises(DataError, match=r"^x.txt:10: value '-nan\(ind\)' is not a number$"):
        mocap_files.parse_mocap_text("\n".join(lines), "x.txt")
    lines[9] = row
    lines[2] = "\ufeff" + lines[2]
    with pytest.raises(DataError, match=r"^x.txt:3: value '\\ufeff1' is not a number$"):
        mocap_files.parse_mocap_text("\n".join(lines), "x.txt")
