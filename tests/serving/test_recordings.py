"""Whole recordings: turns from SubRip, WebVTT, IEMOCAP and TSV files; speech found by voice
activity detection; audio read in blocks; a row per turn from the trained model, long turns
in windows, short ones skipped; the CSV, JSONL and timeline the command writes."""

import json
import os

import numpy as np
import pytest
import soundfile

from mer_tf.data.errors import DataError
from mer_tf.serving.recording import Recording, SpeechSettings, find_speech
from mer_tf.serving.turns import Turn, read_turns
from mer_tf.synthetic.conversation import make_conversation, write_srt, write_tsv, write_vtt

MINUTES_3 = 180.0


@pytest.fixture(scope="module")
def conversation(tmp_path_factory):
    """A three-minute stereo recording at 22.05 kHz, its planted turns and their transcripts
    in three formats."""
    folder = tmp_path_factory.mktemp("conversation")
    wav = str(folder / "call.wav")
    turns = make_conversation(wav, MINUTES_3, rate=22050, channels=2)
    files = {}
    for name, writer in (("srt", write_srt), ("vtt", write_vtt), ("tsv", write_tsv)):
        files[name] = str(folder / f"call.{name}")
        writer(turns, files[name])
    return wav, turns, files


@pytest.mark.parametrize("kind", ["srt", "vtt", "tsv"])
def test_each_transcript_format_gives_the_planted_turns(conversation, kind):
    _, planted, files = conversation
    turns = read_turns(files[kind], MINUTES_3)
    assert len(planted) >= 30
    assert [(t.start, t.end, t.speaker, t.text) for t in turns] == [
        (p.start, p.end, p.speaker, p.text) for p in planted]
    lines = open(files[kind], encoding="utf-8").read().splitlines()
    for turn in turns:  # each turn knows the line of its times
        held = lines[turn.line - 1]
        assert ("-->" in held) if kind != "tsv" else held.startswith(f"{turn.start:.3f}\t")


def test_an_iemocap_transcription_gives_its_labelled_lines_with_speakers(tmp_path):
    path = tmp_path / "Ses01F_impro01.txt"
    path.write_text("Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.\n"
                    "M: [LAUGHTER]\n"
                    "Ses01F_impro01_M000 [007.5712-010.4750]: Do you have your forms?\n")
    turns = read_turns(str(path), 20.0)
    assert [(t.start, t.end, t.speaker, t.text, t.line) for t in turns] == [
        (6.2901, 8.2357, "Ses01F", "Excuse me.", 1),
        (7.5712, 10.475, "Ses01M", "Do you have your forms?", 3)]


@pytest.mark.parametrize("kind,text,line,says", [
    ("srt", "1\n00:00:01,000 --> 00:00:02,000\nfine\n\n2\n00:00:05,000 --> 00:00:04,000\n"
            "backwards\n", 6, "not after its start"),
    ("vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfine\n\n00:00:08.000 --> 00:00:31.000\n"
            "too long\n", 6, "beyond the recording"),
    ("tsv", "start\tend\ttext\n1.0\t2.0\tfine\n3.0\t3.0\tempty\n", 3, "not after its start"),
    ("tsv", "1.0\t2.0\tfine\nsoon\t4.0\tword\n", 2, "must be seconds"),
    ("tsv", "1.0\t2.0\ta\tb\tc\n", 1, "5 fields"),
    # a three-field row under a four-column header read its speaker as the transcript
    ("tsv", "start\tend\tspeaker\ttext\n1.0\t2.0\tBen\tHello.\n3.0\t4.0\tAnna\n", 3,
     "3 fields where line 1 has 4 (start, end, speaker, text)"),
    ("tsv", "\n1.0\t2.0\tHello.\n3.0\t4.0\tAnna\tYes.\n", 3, "4 fields where line 2 has 3"),
])
def test_bad_turns_name_the_file_and_line(tmp_path, kind, text, line, says):
    path = tmp_path / f"turns.{kind}"
    path.write_text(text)
    with pytest.raises(DataError) as error:
        read_turns(str(path), 30.0)
    assert error.value.path == str(path) and error.value.line == line and says in str(error.value)
    assert f"{path}:{line}:" in str(error.value)


def test_a_turn_ending_just_past_the_recording_is_cut_and_other_formats_are_refused(tmp_path):
    path = tmp_path / "turns.tsv"
    path.write_text("29.0\t30.3\tlast words\n")
    assert read_turns(str(path), 30.0)[0].end == 30.0  # rounded cue times
    other = tmp_path / "turns.doc"
    other.write_text("x")
    with pytest.raises(DataError, match="unknown turns format .doc"):
        read_turns(str(other), 30.0)


def test_voice_activity_detection_finds_the_planted_speech_within_half_a_second(conversation):
    wav, planted, _ = conversation
    with Recording(wav) as recording:
        found = find_speech(recording)
        assert recording.notes() == ["2 channels averaged to mono",
                                     "resampled from 22050 Hz to 16000 Hz"]
    assert len(found) == len(planted)
    for (start, end), turn in zip(found, planted):
        assert abs(start - turn.start) < 0.5 and abs(end - turn.end) < 0.5


def test_long_speech_is_cut_into_equal_parts_no_longer_than_the_cap(tmp_path):
    wav = str(tmp_path / "monologue.wav")
    turns = make_conversation(wav, 20.0, sentence=(12.0, 12.5), pause=(1.0, 1.5))
    with Recording(wav) as recording:
        found = find_speech(recording, SpeechSettings(max_segment=5.0))
    assert len(turns) == 1 and len(found) == 3
    lengths = [b - a for a, b in found]
    assert max(lengths) <= 5.0 and max(lengths) - min(lengths) < 1e-6
    assert abs(found[0][0] - turns[0].start) < 0.5 and abs(found[-1][1] - turns[0].end) < 0.5


def test_spans_read_from_the_file_equal_the_whole_file_read_at_once(conversation):
    from mer_tf.data.audio import read_audio

    wav, _, _ = conversation
    whole = read_audio(wav)[0].astype(np.float32) / 32768.0
    with Recording(wav) as recording:
        blocks = np.concatenate(list(recording.blocks(seconds=7.3)))
        span = recording.read(60.0, 63.0)
    assert abs(blocks.size - whole.size) <= 2
    middle = slice(1000, whole.size - 1000)  # the resampler's edges aside
    np.testing.assert_allclose(blocks[middle], whole[middle], atol=2e-3)
    np.testing.assert_allclose(span[200:-200], whole[960000 + 200:1008000 - 200], atol=2e-3)


def test_nan_samples_in_a_recording_are_refused_naming_the_file_and_time(tmp_path):
    path = str(tmp_path / "damaged.wav")
    samples = np.zeros(48000, np.float32)
    samples[40000:] = np.nan
    soundfile.write(path, samples, 16000, subtype="FLOAT")
    with Recording(path) as recording, pytest.raises(DataError) as error:
        list(recording.blocks(seconds=1.0))
    assert error.value.path == path and "from 2.50 s" in str(error.value)


# -- with the trained model -----------------------------------------------------------------

@pytest.fixture(scope="module")
def recognizer(trained_run):
    from mer_tf.serving.recognizer import EmotionRecognizer

    return EmotionRecognizer.from_run(trained_run)


@pytest.mark.slow
def test_a_row_per_turn_with_the_planted_times(recognizer, conversation):
    """From the WebVTT file here; the command's test below reads the SubRip and the TSV
    (each format's turns equal the planted ones: the first test of this file)."""
    wav, planted, files = conversation
    rows = recognizer.predict_recording(wav, files["vtt"])
    assert [(r.start, r.end, r.speaker, r.text) for r in rows] == [
        (p.start, p.end, p.speaker, p.text) for p in planted]
    window = recognizer.info["waveform_length"] / recognizer.info["sample_rate"]  # 1 s here
    for row in rows:
        assert row.label in recognizer.label_names
        assert sum(row.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert "2 channels averaged to mono" in row.notes
        count = int(np.ceil(round((row.end - row.start) * 16000) / (window * 16000)))
        assert any(f"read in {count} windows" in n for n in row.notes) == (count > 1)


@pytest.mark.slow
def test_windows_are_averaged_and_a_turn_shorter_than_a_frame_is_skipped(recognizer, conversation):
    from mer_tf.serving.timeline import SKIPPED

    wav, planted, _ = conversation
    turn = planted[0]
    tiny = Turn(turn.start, turn.start + 0.02, "Anna", "oh")
    rows = recognizer.predict_recording(wav, [turn, tiny])
    assert rows[1].label == SKIPPED and rows[1].probabilities == {}
    assert any("shorter than one frame" in n for n in rows[1].notes)
    # the turn's probabilities are the mean of its windows', each predicted alone
    with Recording(wav) as recording:
        from mer_tf.serving.timeline import _windows

        spans = _windows(turn, 16000, recognizer.info["waveform_length"])
        items = [{"waveform": recording.read(*span), "sample_rate": 16000,
                  "transcript": turn.text} for span in spans]
    assert len(spans) > 1 and spans[-1][1] == turn.end
    alone, _ = recognizer.score_many(items)
    got = np.array([rows[0].probabilities[n] for n in recognizer.label_names])
    np.testing.assert_allclose(got, alone.mean(axis=0), atol=1e-5)


@pytest.mark.slow
def test_without_turns_speech_is_found_and_predicted_from_speech_alone(recognizer, conversation):
    wav, planted, _ = conversation
    rows = recognizer.predict_recording(wav)
    assert len(rows) == len(planted)
    for row, turn in zip(rows, planted):
        assert abs(row.start - turn.start) < 0.5 and abs(row.end - turn.end) < 0.5
        assert row.text is None and row.label in recognizer.label_names
        assert any("voice activity detection" in n for n in row.notes)
        assert any(n.startswith("no text") for n in row.notes)


@pytest.mark.slow
def test_the_command_writes_rows_and_a_timeline_and_hedges_below_the_threshold(
        trained_run, conversation, tmp_path, capsys):
    from experiments import predict

    wav, planted, files = conversation
    out, plot = str(tmp_path / "rows.csv"), str(tmp_path / "timeline.png")
    assert predict.main(["--run", trained_run, "--recording", wav, "--turns", files["srt"],
                         "--out", out, "--plot", plot]) == 0
    import csv

    rows = list(csv.DictReader(open(out)))
    assert len(rows) == len(planted) and rows[0]["speaker"] == planted[0].speaker
    tops = sorted(max(float(r[k]) for k in r if k.startswith("p_")) for r in rows)
    threshold = (tops[4] + tops[5]) / 2
    assert os.path.getsize(plot) > 20000 and f"{len(planted)} turns" in capsys.readouterr().out
    hedged = str(tmp_path / "rows.jsonl")
    assert predict.main(["--run", trained_run, "--recording", wav, "--turns", files["tsv"],
                         "--out", hedged, "--min-confidence", str(threshold)]) == 0
    lines = [json.loads(line) for line in open(hedged)]
    for line in lines:  # uncertain below the threshold, never above
        assert (line["label"] == "uncertain") == (max(line["probabilities"].values()) < threshold)
    assert sum(line["label"] == "uncertain" for line in lines) == 5
    bad = tmp_path / "bad.srt"
    bad.write_text("1\n00:00:01,000 --> 00:00:00,500\nbackwards\n")
    assert predict.main(["--run", trained_run, "--recording", wav, "--turns", str(bad),
                         "--out", str(tmp_path / "x.csv")]) == 2
    assert f"{bad}:2: turn ends at 0.5 s" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x.csv")


@pytest.mark.slow
def test_a_whole_iemocap_dialog_with_its_transcription_and_motion_capture(recognizer, release):
    """The release's own files: the stereo dialog WAV, its transcription as the turns (lines
    naming no utterance skipped) and the dialog's MOCAP files, read once for every turn."""
    root, truth = release
    dialog = truth[0].dialog
    folder = os.path.join(root, f"Session{truth[0].session}", "dialog")
    mocap = {s: os.path.join(folder, f"MOCAP_{s}", f"{dialog}.txt")
             for s in ("head", "hand", "rotated")}
    rows = recognizer.predict_recording(os.path.join(folder, "wav", f"{dialog}.wav"),
                                        os.path.join(folder, "transcriptions", f"{dialog}.txt"),
                                        mocap_files=mocap)
    spoken = {t.transcript: t for t in truth if t.dialog == dialog}
    assert len(rows) >= len(spoken) and {r.speaker for r in rows} <= {"Ses01F", "Ses01M"}
    for row in rows:
        assert row.label in recognizer.label_names
        assert not any("no mocap" in n or "no text" in n for n in row.notes)
        assert "2 channels averaged to mono" in row.notes
    labelled = [r for r in rows if r.text in spoken]
    assert len(labelled) == len(spoken)
    for row in labelled:  # the planted times, to the transcription's precision
        assert abs(row.start - spoken[row.text].start) < 1e-3


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a filesystem with no space left: a 64 KiB tmpfs filled to the last
    block (root can mount one, as CI and these machines are). Elsewhere the same folder on
    the ordinary disk, with every write of `mer_tf.io.storage` failing as tf.io.gfile fails on
    a full disk."""
    import subprocess

    import tensorflow as tf

    folder = tmp_path / "full"
    folder.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                                  str(folder)], capture_output=True).returncode == 0
    except FileNotFoundError:  # no mount command
        mounted = False
    if mounted:
        filler = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError:  # ENOSPC: full
            pass
        os.close(filler)
        try:
            yield folder
        finally:  # lazily: a file still open there must not keep the mount alive
            subprocess.run(["umount", "-l", str(folder)], check=True)
        return
    from mer_tf.io import storage

    real_open = storage.open_file

    def open_on_full_disk(path, mode="r"):
        if "w" in mode and str(path).startswith(str(folder)):
            real_open(path, mode).close()  # the temporary exists, as on a real disk
            raise tf.errors.ResourceExhaustedError(None, None, f"{path}; No space left on "
                                                               "device")
        return real_open(path, mode)

    patch = pytest.MonkeyPatch()
    patch.setattr(storage, "open_file", open_on_full_disk)
    try:
        yield folder
    finally:
        patch.undo()


@pytest.mark.slow
def test_a_full_disk_keeps_the_rows_computed_and_leaves_no_part_of_a_file(
        trained_run, conversation, full_disk, tmp_path, capsys):
    """The rows took minutes to compute: on a full disk they go to standard output (one
    line says so, exit 2) and no temporary or partial file stays; a timeline that finds no
    room leaves the rows written and says where they are."""
    from experiments import predict

    wav, planted, files = conversation
    for out in ("rows.csv", "rows.jsonl"):
        assert predict.main(["--run", trained_run, "--recording", wav, "--turns", files["srt"],
                             "--out", str(full_disk / out)]) == 2
        captured = capsys.readouterr()
        errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
        assert errors == [f"error: the disk is full: {full_disk / out} was not written (no "
                          f"part of it is left); the {len(planted)} rows predicted in "
                          + errors[0].split(" predicted in ")[1]]
        rows = [json.loads(line) for line in captured.out.splitlines()]
        assert [round(r["start"], 2) for r in rows] == [round(t.start, 2) for t in planted]
        assert set(os.listdir(full_disk)) <= {"filler"}  # no temporary, no part of a file
    out = str(tmp_path / "rows.csv")
    assert predict.main(["--run", trained_run, "--recording", wav, "--turns", files["srt"],
                         "--out", out, "--plot", str(full_disk / "timeline.png")]) == 2
    assert (f"the timeline {full_disk / 'timeline.png'} was not written (no part of it is "
            f"left); the {len(planted)} rows are in {out}") in capsys.readouterr().err
    assert os.path.getsize(out) > 0 and set(os.listdir(full_disk)) <= {"filler"}
    assert predict.main(["--run", trained_run, "--recording", wav, "--out", "rows.txt"]) == 2
    assert "--out rows.txt: give a .csv or .jsonl file" in capsys.readouterr().err


def test_overlapping_turns_are_noted_and_their_shared_time_counts_once(tmp_path):
    """Two SubRip cues that overlap by a second: the later one says so, and the share of
    speaking time divides the 5 s spoken (not the 6 s of the cues added up)."""
    from mer_tf.serving.timeline import TurnPrediction, overlap_notes, summary

    path = tmp_path / "call.srt"
    path.write_text("1\n00:00:00,000 --> 00:00:03,000\n[Anna]: No.\n\n"
                    "2\n00:00:02,000 --> 00:00:05,000\n[Ben]: Yes.\n")
    turns = read_turns(str(path), 10.0)
    assert overlap_notes(turns) == {1: "overlaps the turn at 0.00-3.00 s (Anna) by 1.00 s: "
                                       "both were read from that audio, and its time counts "
                                       "once in the shares"}
    rows = [TurnPrediction(t.start, t.end, t.speaker, t.text, label, {}, [])
            for t, label in zip(turns, ("ang", "neu"))]
    assert summary(rows) == {"neu": 0.5, "ang": 0.5}  # 2.5 s each of 5 s
    assert summary(rows[:1]) == {"ang": 1.0}


@pytest.mark.parametrize("subtype,says", [("PCM_U8", "8-bit PCM audio"),
                                          ("ULAW", "8-bit mu-law audio"), ("PCM_16", None)])
def test_eight_bit_audio_is_read_and_said_to_be_eight_bit(tmp_path, subtype, says):
    from mer_tf.data.audio import read_audio

    path = str(tmp_path / "clip.wav")
    tone = 0.5 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)
    soundfile.write(path, tone, 16000, subtype=subtype)
    samples, _, found = read_audio(path)
    assert np.corrcoef(samples.astype(float), tone)[0, 1] > 0.99  # decoded correctly
    with Recording(path) as recording:
        notes = [n for n in recording.notes() if "8-bit" in n]
    assert [n.split(":")[0] for n in notes] == ([says] if says else [])
