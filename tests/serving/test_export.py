"""The exported SavedModel serves raw inputs without mer_tf, agrees with the
trained model, and `experiments.predict` handles files and bad input."""

import csv
import io
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile
import soxr

from mer_tf.data.errors import DataError
from mer_tf.serving.recognizer import EmotionRecognizer
from tests.helpers import REPO, records

STREAMS = ("head", "hand", "rotated")

SERVE = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # registers the tokenizer's ops
    model = tf.saved_model.load(sys.argv[1])
    data = np.load(sys.argv[2], allow_pickle=False)
    raw = model.serve(tf.constant(data["waveform"]), tf.constant(data["waveform_length"]),
                      tf.constant([t.encode() for t in data["transcript"]]),
                      tf.constant(data["mocap"]), tf.constant(data["mocap_mask"]))
    wavs = [open(path, "rb").read() for path in data["wav_paths"]]
    wav = model.signatures["serve_wav"](wav=tf.constant(wavs),
                                        transcript=tf.constant(
                                            [t.encode() for t in data["transcript"]]),
                                        mocap=tf.constant(data["mocap"]),
                                        mocap_mask=tf.constant(data["mocap_mask"]))
    np.savez(sys.argv[3], probabilities=raw["probabilities"].numpy(),
             wav_probabilities=wav["probabilities"].numpy(),
             labels=np.array([x.decode() for x in raw["label"].numpy()]),
             names=np.array([x.decode() for x in model.metadata()["label_names"].numpy()]),
             mer_tf_imported=np.array("mer_tf" in sys.modules))
""")


def _write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _predictions(run):
    return {r["utterance_id"]: r for r in csv.DictReader(open(os.path.join(run,
                                                                           "predictions.csv")))}


def _wav_bytes(samples_int16):
    buffer = io.BytesIO()
    soundfile.write(buffer, samples_int16, 16000, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


@pytest.mark.slow
def test_saved_model_serves_raw_inputs_in_a_fresh_process(trained_run, prepared, tmp_path):
    data_dir, manifest = prepared
    tests = [r for r in records(data_dir, manifest) if r["session"] == 5][:6]
    frames = max(r["mocap/num_frames"] for r in tests)
    longest = max(r["audio"].size for r in tests)
    mocap = np.zeros((len(tests), frames, 189), np.float32)
    mask = np.zeros((len(tests), frames), np.int32)
    waveform = np.zeros((len(tests), longest), np.float32)
    for i, r in enumerate(tests):
        n = r["mocap/num_frames"]
        values = np.concatenate([np.where(r[f"mocap/{s}/present"], r[f"mocap/{s}/values"], np.nan)
                                 for s in STREAMS], axis=1)
        mocap[i, :n], mask[i, :n] = values, 1
        waveform[i, :r["audio"].size] = r["audio"] / 32768.0
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, waveform=waveform,
             waveform_length=np.array([r["audio"].size for r in tests], np.int32),
             transcript=np.array([r["text"] for r in tests]), mocap=mocap, mocap_mask=mask,
             wav_paths=np.array([_write(tmp_path / f"{i}.wav", _wav_bytes(r["audio"]))
                                 for i, r in enumerate(tests)]))
    out = tmp_path / "out.npz"
    result = subprocess.run([sys.executable, "-c", SERVE, os.path.join(trained_run, "saved_model"),
                             str(inputs), str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(out)
    assert not served["mer_tf_imported"]
    keras_side = _predictions(trained_run)
    expected = np.array([[float(keras_side[r["utterance_id"]][f"p_{c}"])
                          for c in ("ang", "exc", "neu", "sad")] for r in tests])
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    np.testing.assert_allclose(served["wav_probabilities"], expected, atol=1e-5)
    assert list(served["labels"]) == [
        keras_side[r["utterance_id"]]["predicted"] for r in tests]
    assert list(served["names"]) == ["ang", "exc", "neu", "sad"]


def _release_items(release, trained_run, count=5):
    """Test utterances the model reads whole (no longer than its 1 s input), as the run's
    evaluation and a prediction read them alike: evaluation reads the first second of a
    longer one, as training does, and a prediction all of it, in windows."""
    root, truth = release
    predicted = _predictions(trained_run)
    items = []
    for t in [t for t in truth if t.utterance_id in predicted
              and soundfile.info(os.path.join(root, f"Session{t.session}", "sentences", "wav",
                                              t.dialog, f"{t.utterance_id}.wav")).frames
              <= 16000][:count]:
        session = os.path.join(root, f"Session{t.session}")
        mocap_name = "Ses05M_script01_1" if t.dialog == "Ses05M_script01_1b" else t.dialog
        items.append({
            "id": t.utterance_id,
            "wav": os.path.join(session, "sentences", "wav", t.dialog, f"{t.utterance_id}.wav"),
            "transcript": t.transcript,
            "mocap": {s: os.path.join(session, "dialog", f"MOCAP_{s}", f"{mocap_name}.txt")
                      for s in STREAMS},
            "start": t.start, "end": t.end,
        })
    return items, predicted


@pytest.mark.slow
def test_predict_command_agrees_with_the_runs_own_evaluation(trained_run, release, tmp_path,
                                                            capsys):
    """In this process: the command's code (`predict.main`); its exit status as a command
    is checked in test_jsonl_errors_name_the_line_and_leave_no_partial_output."""
    from experiments import predict

    items, predicted = _release_items(release, trained_run)
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    out = tmp_path / "predictions.jsonl"
    assert predict.main(["--run", trained_run, "--jsonl", str(jsonl), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [i["id"] for i in items]
    for line in lines:
        assert line["label"] == predicted[line["id"]]["predicted"]
        assert line["probabilities"][line["label"]] == pytest.approx(
            float(predicted[line["id"]][f"p_{line['label']}"]), abs=1e-5)
    one = items[0]
    capsys.readouterr()
    assert predict.main(["--run", trained_run, "--wav", one["wav"], "--transcript",
                         one["transcript"], "--start", str(one["start"]), "--end",
                         str(one["end"]),
                         *[f"--mocap-{s}={one['mocap'][s]}" for s in STREAMS]]) == 0
    assert f"predicted emotion: {predicted[one['id']]['predicted']}" in capsys.readouterr().out


@pytest.mark.slow
def test_the_model_serves_probabilities_calibrated_on_validation(trained_run, release):
    import tensorflow as tf

    metrics = json.load(open(os.path.join(trained_run, "metrics.json")))
    block = metrics["calibration"]
    assert block["method"] == "temperature scaling" and block["fitted_on"] == "validation"
    for split in ("validation", "test"):
        assert {"ece_before", "ece_after", "nll_before", "nll_after"} <= set(block[split])
    # fitted to minimise validation NLL: never worse there than the network's own softmax
    assert block["validation"]["nll_after"] <= block["validation"]["nll_before"] + 1e-6
    assert [row["min_confidence"] for row in block["validation"]["coverage"]] == [
        0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert os.path.getsize(os.path.join(trained_run, "reliability.png")) > 1000
    served = tf.saved_model.load(os.path.join(trained_run, "saved_model")).metadata()
    assert float(served["temperature"].numpy()) == pytest.approx(block["temperature"])
    assert b"validation" in served["calibration"].numpy() or block["temperature"] == 1.0


@pytest.mark.slow
def test_min_confidence_answers_uncertain_below_the_threshold_and_never_above(trained_run,
                                                                              release):
    items, _ = _release_items(release, trained_run)
    recognizer = EmotionRecognizer.from_run(trained_run)
    loaded = [recognizer.load_files(i["wav"], i["transcript"], i["mocap"], i["start"],
                                    i["end"]) for i in items]
    sure = recognizer.predict_many(loaded)
    tops = sorted(max(p.probabilities.values()) for p in sure)
    recognizer.min_confidence = (tops[1] + tops[2]) / 2  # two below, three above
    hedged = recognizer.predict_many(loaded)
    for before, after in zip(sure, hedged):
        top = max(before.probabilities.values())
        assert after.probabilities == before.probabilities
        assert (after.label == "uncertain") == (top < recognizer.min_confidence)
        if after.label != "uncertain":
            assert after.label == before.label
        else:
            assert any("below --min-confidence" in note for note in after.notes)
    assert sum(p.label == "uncertain" for p in hedged) == 2


@pytest.fixture(scope="module")
def recognizer(trained_run):
    return EmotionRecognizer.from_run(trained_run)


def _item(release, trained_run):
    items, _ = _release_items(release, trained_run, 1)
    return items[0]


@pytest.mark.slow
def test_bad_waveforms(recognizer, release, trained_run, tmp_path):
    item = _item(release, trained_run)
    loaded = recognizer.load_files(item["wav"], item["transcript"], item["mocap"], item["start"],
                                   item["end"])
    with pytest.raises(ValueError, match="empty waveform"):
        recognizer.predict(**{**loaded, "waveform": np.zeros(0, np.float32)})
    silent = recognizer.predict(**{**loaded, "waveform": np.zeros(16000, np.float32)})
    assert any("silent waveform" in note for note in silent.notes)
    original, _ = soundfile.read(item["wav"], dtype="float32")
    wav = tmp_path / "fast.wav"
    soundfile.write(wav, soxr.resample(original, 16000, 22050), 22050, subtype="PCM_16")
    resampled = recognizer.predict_files(str(wav), item["transcript"], item["mocap"],
                                         item["start"], item["end"])
    assert "resampled from 22050 Hz to 16000 Hz" in resampled.notes
    reference = recognizer.predict_files(item["wav"], item["transcript"], item["mocap"],
                                         item["start"], item["end"])
    assert not [n for n in reference.notes if "silent" in n or "resampled" in n]
    assert abs(sum(resampled.probabilities.values()) - 1) < 1e-5


@pytest.mark.slow
def test_long_transcript_missing_modality_and_bad_mocap(recognizer, release, trained_run,
                                                         tmp_path, capsys):
    item = _item(release, trained_run)
    long_text = " ".join(["wonderful"] * 40)
    prediction = recognizer.predict_files(item["wav"], long_text, item["mocap"], item["start"],
                                          item["end"])
    assert any("truncated to the model's 16" in note for note in prediction.notes)
    no_text = recognizer.predict_files(item["wav"], None, item["mocap"], item["start"],
                                       item["end"])
    assert any("no text: predicted from speech + mocap" in n for n in no_text.notes)
    broken = tmp_path / "rotated.txt"
    lines = open(item["mocap"]["rotated"]).read().splitlines()
    lines[5] = " ".join(lines[5].split()[:-3])
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"rotated.txt:6: row has 164 columns"):
        recognizer.predict_files(item["wav"], item["transcript"],
                                 {**item["mocap"], "rotated": str(broken)}, item["start"],
                                 item["end"])
    with pytest.raises(ValueError, match=r"mocap must be \[frames, 189\]"):
        recognizer.predict(waveform=np.ones(100), transcript="hi", mocap=np.zeros((5, 10)))
    from experiments import predict

    capsys.readouterr()
    assert predict.main(["--run", trained_run, "--wav", item["wav"]]) == 0
    printed = capsys.readouterr()
    assert "no text or mocap: predicted from speech" in printed.out + printed.err


@pytest.mark.slow
def test_a_model_trained_with_modality_dropout_predicts_without_mocap(recognizer, release,
                                                                     trained_run):
    """Audio and a transcript only, the common case: the missing modality's vector is
    zeroed, as modality dropout did in training, and the notes say so. (A model trained
    without it refuses: tests/test_registry.py.)"""
    import tensorflow as tf

    run = trained_run
    item = _item(release, run)
    partial = recognizer.predict_files(item["wav"], item["transcript"])
    assert any("no mocap: predicted from speech + text" in n for n in partial.notes)
    assert abs(sum(partial.probabilities.values()) - 1) < 1e-5
    # the values standing in for the missing modality do not matter: it is gated out
    served = tf.saved_model.load(os.path.join(run, "saved_model"))
    rng = np.random.default_rng(0)
    wave, text = tf.constant(rng.normal(0, 0.1, (1, 16000)).astype("float32")), tf.constant(["hi"])
    outputs = [served.serve_partial(wave, tf.constant([16000]), text,
                                    tf.constant(rng.normal(0, s, (1, 8, 189)).astype("float32")),
                                    tf.ones((1, 8), tf.int32), tf.constant([[1, 1, 0]]))
               for s in (1.0, 50.0)]
    np.testing.assert_allclose(outputs[0]["probabilities"], outputs[1]["probabilities"], atol=1e-6)
    only_text = recognizer.predict(transcript=item["transcript"])
    assert any("no speech or mocap: predicted from text" in n for n in only_text.notes)
    with pytest.raises(ValueError, match="nothing is left to predict from"):
        recognizer.predict()


@pytest.mark.slow
def test_a_wav_served_without_motion_capture_is_what_the_recognizer_answers(
        recognizer, release, trained_run, tmp_path):
    """`serve_wav_partial` with motion capture marked absent gives what `serve_partial` and
    the recognizer give for the same audio and text, also from a 22.05 kHz stereo copy
    (resampled in the graph); zeros marked present (what the README once showed) are
    another input, a speaker who never moves."""
    import soundfile
    import tensorflow as tf

    item = _item(release, trained_run)
    served = tf.saved_model.load(os.path.join(trained_run, "saved_model"))
    frames = int(served.metadata()["mocap_frames"])
    absent = dict(mocap=tf.zeros([1, frames, 189]), mocap_mask=tf.zeros([1, frames], tf.int32),
                  modality_present=tf.constant([[1, 1, 0]], tf.int32))
    text = tf.constant([item["transcript"]])
    from_wav = served.serve_wav_partial(wav=tf.stack([tf.io.read_file(item["wav"])]),
                                        transcript=text, **absent)["probabilities"].numpy()[0]
    samples, _ = soundfile.read(item["wav"], dtype="float32")
    from_samples = served.serve_partial(
        waveform=tf.constant(samples[None]), waveform_length=tf.constant([len(samples)]),
        transcript=text, **absent)["probabilities"].numpy()[0]
    np.testing.assert_allclose(from_wav, from_samples, atol=1e-5)
    answer = recognizer.predict_files(item["wav"], item["transcript"])
    np.testing.assert_allclose(
        from_wav, [answer.probabilities[n] for n in recognizer.label_names], atol=1e-5)
    still = served.serve_wav(wav=tf.stack([tf.io.read_file(item["wav"])]), transcript=text,
                             mocap=absent["mocap"], mocap_mask=tf.ones([1, frames], tf.int32))
    assert np.abs(still["probabilities"].numpy()[0] - from_wav).max() > 1e-3
    # The same WAV at 22.05 kHz in stereo: resampled inside the graph, it gets what the
    # recognizer (soxr) answers for that file, and what the 16 kHz file gets.
    from mer_tf.data.audio import resample

    other = tmp_path / "22k.wav"
    louder = resample(samples, 16000, 22050)
    soundfile.write(other, np.stack([louder, louder], axis=1), 22050, subtype="PCM_16")
    from_22k = served.serve_wav_partial(wav=tf.stack([tf.io.read_file(str(other))]),
                                        transcript=text, **absent)["probabilities"].numpy()[0]
    answer = recognizer.predict_files(str(other), item["transcript"])
    np.testing.assert_allclose(
        from_22k, [answer.probabilities[n] for n in recognizer.label_names], atol=0.02)
    np.testing.assert_allclose(from_22k, from_wav, atol=0.02)


@pytest.mark.slow
def test_an_utterance_window_the_mocap_does_not_cover_is_refused(recognizer, release,
                                                                 trained_run):
    item = _item(release, trained_run)
    with pytest.raises(ValueError, match=r"--end 4 s is not after --start 5 s"):
        recognizer.predict_files(item["wav"], item["transcript"], item["mocap"], 5.0, 4.0)
    with pytest.raises(DataError, match=r"covers 0.00-\d+\.\d\d s; the utterance "
                                        r"\[5000, 5004\) s lies outside it"):
        recognizer.predict_files(item["wav"], item["transcript"], item["mocap"], 5000.0, 5004.0)


@pytest.mark.slow
@pytest.mark.parametrize("data,reason", [
    (b"", "the file is empty (0 bytes)"),
    (b"ID3\x04 not audio at all", "not a RIFF/WAVE file (it starts with b'ID3\\x04'"),
    (None, "truncated: 30 bytes where its header declares"),  # cut inside its header
])
def test_an_undecodable_wav_is_described(recognizer, release, trained_run, tmp_path, data,
                                         reason):
    item = _item(release, trained_run)
    if data is None:
        data = open(item["wav"], "rb").read()[:30]
    path = _write(tmp_path / "bad.wav", data)
    with pytest.raises(DataError) as error:
        recognizer.predict_files(path, item["transcript"], item["mocap"], item["start"],
                                 item["end"])
    assert reason in str(error.value) and str(error.value).startswith(path)
    assert "object at 0x" not in str(error.value)


@pytest.mark.slow
def test_jsonl_errors_name_the_line_and_leave_no_partial_output(trained_run, release, tmp_path,
                                                                capsys):
    from experiments import predict

    item = _item(release, trained_run)
    good = json.dumps({"id": "u", "wav": item["wav"], "transcript": item["transcript"],
                       "mocap": item["mocap"], "start": item["start"], "end": item["end"]})
    out = tmp_path / "predictions.jsonl"
    cases = {
        "not_object.jsonl": ([good] * 3 + ['["a", "list"]'], r":4: expected a JSON object"),
        "late_bad.jsonl": ([good] * 20 + [good.replace(item["wav"], str(tmp_path / "no.wav"))],
                           r":21: .*no.wav: missing WAV file"),
    }
    for in_process, (name, (lines, message)) in enumerate(cases.items()):
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        argv = ["--run", trained_run, "--jsonl", str(path), "--out", str(out)]
        if in_process:  # the same code as the command's, without starting TensorFlow again
            code, stderr = predict.main(argv), capsys.readouterr().err
        else:  # the command's exit status
            result = subprocess.run([sys.executable, "-m", "experiments.predict", *argv],
                                    capture_output=True, text=True)
            code, stderr = result.returncode, result.stderr
        assert code == 2, stderr
        assert re.search(re.escape(str(path)) + message, stderr), stderr
        assert not out.exists() and not list(tmp_path.glob("predictions.jsonl*"))
    (tmp_path / "ok.jsonl").write_text(good + "\n")
    assert predict.main(["--run", trained_run, "--jsonl", str(tmp_path / "ok.jsonl"),
                         "--out", str(out)]) == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["u"]


@pytest.mark.slow
def test_paths_that_are_no_file_and_odd_encodings_get_one_line(trained_run, release, tmp_path,
                                                               capsys):
    """A folder as --wav, --transcript-file or in a JSONL line, a symlink loop, NaN samples
    and a transcript in another encoding: each an exit 2 naming the file (and line)."""
    from experiments import predict

    item = _item(release, trained_run)
    base = ["--run", trained_run, "--mocap-head", item["mocap"]["head"], "--mocap-hand",
            item["mocap"]["hand"], "--mocap-rotated", item["mocap"]["rotated"],
            "--start", str(item["start"]), "--end", str(item["end"])]
    loop = tmp_path / "loop.wav"
    os.symlink(loop, loop)
    nan = tmp_path / "nan.wav"
    samples = np.full(8000, 0.1, np.float32)
    samples[100] = np.nan
    soundfile.write(nan, samples, 16000, subtype="FLOAT")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9".encode("latin-1"))
    cases = [
        (["--wav", str(tmp_path), "--transcript", "hi"], f"{tmp_path}: a folder, not a WAV file"),
        (["--wav", str(loop), "--transcript", "hi"], f"{loop}: a symbolic link that leads to no"),
        (["--wav", str(nan), "--transcript", "hi"], f"{nan}: 1 of 8000 samples are NaN"),
        (["--wav", item["wav"], "--transcript-file", str(tmp_path)],
         f"{tmp_path}: a folder, not a text file"),
        (["--wav", item["wav"], "--transcript-file", str(latin1)],
         f"{latin1}: not UTF-8 text (byte b'\\xe9' at offset 3)"),
    ]
    for argv, message in cases:
        assert _exit_code(predict.main, [*base, *argv]) == 2
        assert f"error: {message}" in capsys.readouterr().err
    utf16 = tmp_path / "utf16.txt"
    utf16.write_text(item["transcript"], encoding="utf-16")
    assert predict.main([*base, "--wav", item["wav"], "--transcript-file", str(utf16)]) == 0
    lines = tmp_path / "dir.jsonl"
    lines.write_text(json.dumps({"id": "a", "wav": item["wav"], "transcript": "x"}) + "\n"
                     + json.dumps({"id": "b", "wav": str(tmp_path), "transcript": "x"}) + "\n")
    assert predict.main(["--run", trained_run, "--jsonl", str(lines)]) == 2
    assert f"{lines}:2: {tmp_path}: a folder, not a WAV file" in capsys.readouterr().err


def _exit_code(main, argv):
    """What a command's `main` ends with: its return value, or the code it exits with
    (a path refused before TensorFlow starts)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def test_a_missing_file_or_folder_is_one_line_before_tensorflow_starts(tmp_path):
    """A wrong --wav, --run or --data-dir is said at once: the process never imported
    TensorFlow (35 s on a cold laptop), and exits 2 with one line."""
    script = (
        "import sys\n"
        "from experiments import concat, predict\n"
        "codes = []\n"
        "for main, argv in ((predict.main, ['--run', sys.argv[1], '--wav', sys.argv[2]]),\n"
        "                   (predict.main, ['--run', sys.argv[2], '--wav', sys.argv[3]]),\n"
        "                   (concat.main, ['--data-dir', sys.argv[2]])):\n"
        "    try:\n"
        "        codes.append(main(argv))\n"
        "    except SystemExit as exit_:\n"
        "        codes.append(exit_.code)\n"
        "print(codes, 'tensorflow' in sys.modules)\n")
    wav = tmp_path / "turn.wav"
    wav.write_bytes(b"RIFF")
    missing = str(tmp_path / "nowhere")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path), missing, str(wav)],
                          capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert done.stdout.strip() == "[2, 2, 2] False", done.stderr
    assert done.stderr.splitlines() == [
        f"error: {missing}: missing WAV file",
        f"error: {missing}: no such run folder",
        f"error: {missing}: does not exist (a --data-dir is a folder made by python -m "
        "experiments.prepare)"]


def _readme_python_blocks():
    """(file, block) for every Python block of the README and of the docs pages."""
    root = REPO
    pages = ["README.md"] + sorted(os.path.join("docs", n) for n in
                                   os.listdir(os.path.join(root, "docs")) if n.endswith(".md"))
    return [(page, block) for page in pages
            for block in re.findall(r"```python\n(.*?)```", open(os.path.join(root, page)).read(),
                                    re.S)]


@pytest.mark.slow
def test_every_python_block_of_the_readme_and_the_docs_runs(trained_run, release, capsys,
                                                             tmp_path):
    """The README's and the docs' Python, executed as written: only the paths of their
    placeholders (a run folder, a WAV and MOCAP files, their times, a recording and its
    SubRip) are filled in by the test."""
    from mer_tf.synthetic.conversation import make_conversation, write_srt

    item = _item(release, trained_run)
    call = str(tmp_path / "call.wav")
    write_srt(make_conversation(call, 20.0), str(tmp_path / "call.srt"))
    places = {"runs/concat/20261126-120000": trained_run, "turn.wav": item["wav"],
              "head.txt": item["mocap"]["head"], "hand.txt": item["mocap"]["hand"],
              "rotated.txt": item["mocap"]["rotated"],
              "start=12.3, end=15.9": f"start={item['start']}, end={item['end']}",
              "call.wav": call, "call.srt": call[:-4] + ".srt"}
    blocks = _readme_python_blocks()
    assert {page for page, _ in blocks} >= {"README.md", os.path.join("docs", "serving.md")}
    for page, block in blocks:
        for placeholder, value in places.items():
            block = block.replace(placeholder, value)
        exec(compile(block, page, "exec"), {})
    out = capsys.readouterr().out
    assert "serve_inputs" not in out and "b'waveform'" in out  # metadata() printed its names


@pytest.mark.slow
def test_inputs_handled_are_said_and_an_empty_transcript_is_none(recognizer, release,
                                                                  trained_run, tmp_path):
    item = _item(release, trained_run)
    mono, rate = soundfile.read(item["wav"], dtype="float32")
    stereo = tmp_path / "stereo.flac"
    soundfile.write(stereo, np.stack([mono, mono], axis=1), rate, format="FLAC")
    args = (item["mocap"], item["start"], item["end"])
    prediction = recognizer.predict_files(str(stereo), item["transcript"], *args)
    assert "2 channels averaged to mono" in prediction.notes
    assert "read FLAC audio" in prediction.notes
    reference = recognizer.predict_files(item["wav"], item["transcript"], *args)
    assert prediction.probabilities == pytest.approx(reference.probabilities, abs=1e-4)
    empty = recognizer.predict_files(item["wav"], "  ", *args)
    omitted = recognizer.predict_files(item["wav"], None, *args)
    assert "empty transcript: treated as no transcript" in empty.notes
    assert any(n.startswith("no text:") for n in empty.notes)
    assert empty.probabilities == pytest.approx(omitted.probabilities, abs=1e-6)


@pytest.mark.slow
def test_predict_on_an_experiment_folder_names_the_runs_inside_and_the_latest(
        trained_run, release, capsys):
    from experiments import predict

    item = _item(release, trained_run)
    experiment = os.path.dirname(trained_run)
    assert predict.main(["--run", experiment, "--wav", item["wav"]]) == 2
    latest = os.path.join(experiment, os.path.basename(trained_run))
    assert capsys.readouterr().err.strip() == (
        f"error: {experiment} is an experiment's folder, not a run: it holds 1 run(s) "
        f"({os.path.basename(trained_run)}); the latest is {latest}: --run {latest}")


@pytest.mark.slow
def test_audio_longer_than_the_input_is_read_in_windows_as_a_recording_turn_is(
        recognizer, release, trained_run, tmp_path):
    """One rule for a single file and a recording's turns: 2.5 s through a 1 s input are
    three windows (0-1, 1-2 and 1.5-2.5 s) whose probabilities are averaged, not the first
    second alone."""
    rate = int(recognizer.info["sample_rate"])
    length = int(recognizer.info["waveform_length"])
    assert length == rate  # the test backbone reads 1 s
    rng = np.random.default_rng(3)
    long = (0.1 * rng.standard_normal(int(2.5 * rate))).astype(np.float32)
    path = str(tmp_path / "long.wav")
    soundfile.write(path, long, rate, subtype="FLOAT")
    answer = recognizer.predict_files(path, "I can't believe you did that")
    assert "2.5 s read in 3 windows of the model's 1 s input; their probabilities averaged" \
        in answer.notes
    parts = [recognizer.predict(long[a:b], rate, "I can't believe you did that")
             for a, b in ((0, rate), (rate, 2 * rate), (int(1.5 * rate), int(2.5 * rate)))]
    expected = np.mean([[p.probabilities[n] for n in recognizer.label_names] for p in parts], 0)
    np.testing.assert_allclose([answer.probabilities[n] for n in recognizer.label_names],
                               expected, atol=1e-5)
    first = recognizer.predict(long[:rate], rate, "I can't believe you did that")
    assert answer.probabilities != first.probabilities


@pytest.mark.slow
def test_the_python_api_prints_no_tensorflow_chatter(trained_run):
    """The README's prediction in a fresh process: no start-up line of TensorFlow's."""
    from mer_tf.io.quiet import _NOISE

    script = ("from mer_tf.serving.recognizer import EmotionRecognizer\n"
              f"recognizer = EmotionRecognizer.from_run({trained_run!r})\n"
              "print(recognizer.label_names)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=180,
                            env={k: v for k, v in os.environ.items()
                                 if k not in ("TF_CPP_MIN_LOG_LEVEL", "MER_TF_VERBOSE")})
    assert result.returncode == 0, result.stderr
    assert "ang" in result.stdout
    noise = [line for line in result.stderr.splitlines() if _NOISE.match(line)
             or "oneDNN" in line or "cuda" in line.lower()]
    assert not noise, result.stderr
