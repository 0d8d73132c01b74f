"""Every kind of bad input gets a message naming file and line, and `--on-error`
decides between stopping and skipping; nothing half-written stays behind."""

import os
import shutil

import numpy as np
import pytest
import soundfile
import soxr

from mer_tf.data import prepare as prep
from mer_tf.data.corpus import read_manifest
from mer_tf.data.errors import DataError
from tests.helpers import records

IDS_OF_DIALOG = "Ses01F_impro01"


@pytest.fixture
def session1(release, tmp_path):
    """A copy of Session1 alone, to break."""
    root = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(os.path.join(release[0], "Session1"), root / "Session1")
    return root


def _prepare(root, out, on_error="stop", sessions=(1,)):
    return prep.prepare(prep.PrepareConfig(source=str(root), out_dir=str(out), on_error=on_error,
                                           sessions=sessions, shard_size=8), progress=False)


def _eval_file(root, dialog=IDS_OF_DIALOG):
    return root / "Session1" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"


def _first_in_set_id(root, dialog=IDS_OF_DIALOG):
    for line in _eval_file(root, dialog).read_text().splitlines():
        parts = line.split("\t")
        if line.startswith("[") and parts[2] in ("ang", "exc", "neu", "sad"):
            return parts[1]
    raise AssertionError("no in-set utterance")


def _assert_nothing_half_written(out):
    if not out.exists():  # refused before it wrote a shard: nothing left behind at all
        return
    names = os.listdir(out)
    assert not [n for n in names if ".tmp-" in n]
    if (out / ".state").exists():
        assert not [n for n in os.listdir(out / ".state") if ".tmp-" in n]
    assert "manifest.json" not in names


@pytest.mark.slow
def test_malformed_evaluation_line(session1, tmp_path):
    path = _eval_file(session1)
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith("["))
    uid = lines[number].split("\t")[1]
    lines[number] = lines[number].replace("\t[", "\t(")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as error:
        _prepare(session1, tmp_path / "stop")
    assert str(error.value).startswith(f"{path}:{number + 1}: malformed evaluation line")
    manifest = _prepare(session1, tmp_path / "skip", on_error="skip")
    assert manifest["skipped"][0]["line"] == number + 1
    assert manifest["skipped"][0]["utterance_ids"] == [uid]


@pytest.mark.slow
def test_missing_sentence_wav_is_cut_from_the_dialog_wav(session1, tmp_path, release):
    uid = _first_in_set_id(session1)
    wav = session1 / "Session1" / "sentences" / "wav" / IDS_OF_DIALOG / f"{uid}.wav"
    original, _ = soundfile.read(wav, dtype="float32")
    wav.unlink()
    out = tmp_path / "out"
    manifest = _prepare(session1, out)
    assert manifest["audio_from_dialog"] == [uid]
    record = next(r for r in records(str(out), manifest) if r["utterance_id"] == uid)
    cut = record["audio"].astype(np.float32) / 32768
    assert abs(cut.size - original.size) <= 1
    n = min(cut.size, original.size)
    assert np.corrcoef(cut[:n], original[:n])[0, 1] > 0.99  # same speech, downmixed


@pytest.mark.slow
def test_missing_wav_with_no_dialog_wav(session1, tmp_path):
    uid = _first_in_set_id(session1)
    wav = session1 / "Session1" / "sentences" / "wav" / IDS_OF_DIALOG / f"{uid}.wav"
    wav.unlink()
    (session1 / "Session1" / "dialog" / "wav" / f"{IDS_OF_DIALOG}.wav").unlink()
    with pytest.raises(DataError, match="missing sentence WAV") as error:
        _prepare(session1, tmp_path / "stop")
    assert error.value.path == str(wav)
    _assert_nothing_half_written(tmp_path / "stop")
    manifest = _prepare(session1, tmp_path / "skip", on_error="skip")
    assert [r["utterance_ids"] for r in manifest["skipped"]] == [[uid]]


@pytest.mark.slow
def test_unreadable_wav(session1, tmp_path):
    uid = _first_in_set_id(session1)
    wav = session1 / "Session1" / "sentences" / "wav" / IDS_OF_DIALOG / f"{uid}.wav"
    wav.write_bytes(b"RIFF\x00\x00not really a wav file")
    with pytest.raises(DataError, match="unreadable WAV") as error:
        _prepare(session1, tmp_path / "stop")
    assert error.value.path == str(wav)
    full = _prepare(session1, tmp_path / "skip", on_error="skip")
    assert full["skipped_count"] == 1 and full["skipped"][0]["path"] == str(wav)


@pytest.mark.slow
def test_wav_at_another_rate_is_resampled_and_said(session1, tmp_path, capsys):
    uid = _first_in_set_id(session1)
    wav = session1 / "Session1" / "sentences" / "wav" / IDS_OF_DIALOG / f"{uid}.wav"
    original, _ = soundfile.read(wav, dtype="float32")
    soundfile.write(wav, soxr.resample(original, 16000, 22050), 22050, subtype="PCM_16")
    out = tmp_path / "out"
    manifest = prep.prepare(prep.PrepareConfig(source=str(session1), out_dir=str(out),
                                               sessions=(1,), shard_size=8), progress=True)
    assert manifest["resampled"] == [[str(wav), 22050]]
    assert f"resampled {wav} from 22050 Hz" in capsys.readouterr().err
    record = next(r for r in records(str(out), manifest) if r["utterance_id"] == uid)
    assert abs(record["audio"].size - original.size) <= 2


@pytest.mark.slow
def test_mocap_row_with_wrong_column_count(session1, tmp_path):
    path = session1 / "Session1" / "dialog" / "MOCAP_rotated" / f"{IDS_OF_DIALOG}.txt"
    lines = path.read_text().splitlines()
    lines[9] = " ".join(lines[9].split()[:-1])
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "stop"
    with pytest.raises(DataError) as error:
        _prepare(session1, out)
    assert str(error.value) == (f"{path}:10: row has 166 columns, the first row has 167 "
                                "(frame, time and 165 values)")
    _assert_nothing_half_written(out)
    assert not out.exists()  # the shard was dropped, and nothing else was written
    manifest = _prepare(session1, tmp_path / "skip", on_error="skip")
    skipped = manifest["skipped"][0]
    assert skipped["line"] == 10 and len(skipped["utterance_ids"]) >= 1
    assert all(u.startswith(IDS_OF_DIALOG) for u in skipped["utterance_ids"])


@pytest.mark.slow
def test_mocap_header_with_other_column_count_than_other_dialogs(session1, tmp_path):
    path = session1 / "Session1" / "dialog" / "MOCAP_hand" / "Ses01M_impro01.txt"
    lines = path.read_text().splitlines()
    lines[0] += " EXTRA"
    lines[1] += " X Y Z"
    lines[2:] = [row + " 0.0 0.0 0.0" for row in lines[2:]]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="rows have 21 value columns; the other dialogs' "
                                        "MOCAP_hand files have 18") as error:
        _prepare(session1, tmp_path / "stop")
    assert (error.value.path, error.value.line) == (str(path), 3)


@pytest.mark.slow
def test_transcription_lines_without_an_id_are_counted_not_errors(session1, tmp_path):
    """Real transcriptions hold lines such as `M: sorry` that name no utterance."""
    path = session1 / "Session1" / "dialog" / "transcriptions" / f"{IDS_OF_DIALOG}.txt"
    lines = path.read_text().splitlines()
    before = sum(line[:3] in ("M: ", "F: ") for line in lines)
    lines[1:1] = ["M: sorry", "F: [LAUGHTER]", "M: [GARBAGE]:"]
    path.write_text("\n".join(lines) + "\n")
    manifest = _prepare(session1, tmp_path / "stop")  # --on-error stop: no error
    assert manifest["skipped_count"] == 0
    notes = manifest["dialog_notes"][IDS_OF_DIALOG]
    assert notes["transcript_lines_without_id"] == before + 3


@pytest.mark.slow
def test_mocap_header_lines_say_nothing_the_reader_needs(session1, tmp_path):
    """The width comes from the rows: line 2 may be empty, hold units, or disagree."""
    folder = session1 / "Session1" / "dialog"
    expected = {}
    for stream, line_2 in (("rotated", ""), ("hand", "mm deg"), ("head", "X Y Z X Y Z X Y Z")):
        path = folder / f"MOCAP_{stream}" / f"{IDS_OF_DIALOG}.txt"
        lines = path.read_text().splitlines()
        lines[1] = line_2
        path.write_text("\n".join(lines) + "\n")
        expected[stream] = len(lines[2].split()) - 2
    manifest = _prepare(session1, tmp_path / "out")
    assert manifest["mocap"]["streams"] == expected == {"head": 6, "hand": 18, "rotated": 165}
    assert manifest["skipped_count"] == 0


@pytest.mark.slow
def test_transcript_without_label(session1, tmp_path):
    path = session1 / "Session1" / "dialog" / "transcriptions" / f"{IDS_OF_DIALOG}.txt"
    lines = path.read_text().splitlines()
    lines.insert(2, f"{IDS_OF_DIALOG}_F999 [099.0000-100.0000]: Nobody labelled me.")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as error:
        _prepare(session1, tmp_path / "stop")
    assert str(error.value).startswith(f"{path}:3: transcript of {IDS_OF_DIALOG}_F999 has no label")
    manifest = _prepare(session1, tmp_path / "skip", on_error="skip")
    assert manifest["skipped"][0]["utterance_ids"] == [f"{IDS_OF_DIALOG}_F999"]
    # Overlap lines with XX ids are ignored by design, not reported.
    assert manifest["skipped_count"] == 1


@pytest.mark.slow
def test_empty_session_folder(session1, tmp_path):
    (session1 / "Session3").mkdir()
    with pytest.raises(DataError, match="empty session folder") as error:
        _prepare(session1, tmp_path / "stop", sessions=(1, 3))
    assert error.value.path == str(session1 / "Session3")
    manifest = _prepare(session1, tmp_path / "skip", on_error="skip", sessions=(1, 3))
    assert list(manifest["sessions"]) == ["1"] and manifest["utterances"] > 0


def test_a_path_that_is_not_a_release(tmp_path, capsys):
    from experiments import prepare

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    assert prepare.main(["--iemocap", str(tmp_path / "photos"), "--out",
                         str(tmp_path / "out"), "--quiet"]) == 2  # the command's exit status
    assert f"{tmp_path / 'photos'}: not an IEMOCAP release" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.slow
def test_skipped_utterances_come_back_once_the_file_is_fixed(session1, tmp_path):
    """--on-error skip, fix the file, run with stop: the shard is rebuilt, nothing missing."""
    path = _eval_file(session1)
    good = path.read_text()
    lines = good.splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith("[") and
                  line.split("\t")[2] in ("ang", "exc", "neu", "sad"))
    lines[number] = lines[number].replace("\t[", "\t(")
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    skipped = _prepare(session1, out, on_error="skip")
    assert skipped["skipped_count"] >= 1  # the bad line, and its transcript left unlabelled
    path.write_text(good)
    fixed = _prepare(session1, out, on_error="stop")
    assert fixed["skipped_count"] == 0 and fixed["on_error"] == "stop"
    assert fixed["utterances"] == skipped["utterances"] + 1
    assert all("on_error 'skip' -> 'stop'" in why for why in fixed["rebuilt"].values())
    assert fixed["utterances"] == _prepare(session1, tmp_path / "fresh")["utterances"]


@pytest.mark.slow
def test_degraded_inputs_are_counted_per_dialog(session1, tmp_path):
    dialog_dir = session1 / "Session1" / "dialog"
    sentences = session1 / "Session1" / "sentences" / "wav" / IDS_OF_DIALOG
    transcript = dialog_dir / "transcriptions" / f"{IDS_OF_DIALOG}.txt"
    ids = [line.split("\t")[1] for line in _eval_file(session1).read_text().splitlines()
           if line.startswith("[") and line.split("\t")[2] in ("ang", "exc", "neu", "sad")]
    assert len(ids) >= 2
    short, cut = ids[0], ids[-1]
    soundfile.write(sentences / f"{short}.wav", np.zeros(300, "int16"), 16000)  # < 400 samples
    lines = transcript.read_text().splitlines()
    lines = [line.split("]:")[0] + "]: " if line.startswith(short) else line for line in lines]
    transcript.write_text("\n".join(lines) + "\n")
    # the last utterance's sentence WAV is missing and the dialog WAV ends inside it
    os.remove(sentences / f"{cut}.wav")
    wav = dialog_dir / "wav" / f"{IDS_OF_DIALOG}.wav"
    samples, rate = soundfile.read(wav, dtype="int16")
    end = float(next(line for line in _eval_file(session1).read_text().splitlines()
                     if f"\t{cut}\t" in line).split("-")[1].split("]")[0])
    soundfile.write(wav, samples[: int((end - 0.2) * rate)], rate)
    # the motion capture stops before the last utterance ends
    for stream in ("head",):
        mocap = dialog_dir / f"MOCAP_{stream}" / f"{IDS_OF_DIALOG}.txt"
        rows = mocap.read_text().splitlines()
        kept = [r for r in rows[2:] if float(r.split()[1]) < end - 0.5]
        mocap.write_text("\n".join(rows[:2] + kept) + "\n")
    manifest = _prepare(session1, tmp_path / "out")
    notes = manifest["dialog_notes"][IDS_OF_DIALOG]
    assert notes["audio_shorter_than_one_frame"] == 1
    assert notes["empty_transcripts"] == 1
    assert notes["audio_cut_short"] == 1
    assert notes["mocap_not_covering"] >= 1
    assert manifest["skipped_count"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["../elsewhere.tfrecord", "/etc/passwd", "gs://other/x.tfrecord",
                                  "sub/dir.tfrecord"])
def test_a_manifest_naming_files_outside_the_data_folder_is_refused(prepared, tmp_path, name):
    import json

    manifest = json.load(open(os.path.join(prepared[0], "manifest.json")))
    manifest["shards"][0]["file"] = name
    os.makedirs(tmp_path / "data")
    with open(tmp_path / "data" / "manifest.json", "w") as f:
        json.dump(manifest, f)
    with pytest.raises(DataError, match="is not a file name inside the data folder"):
        read_manifest(str(tmp_path / "data"))


@pytest.mark.slow
def test_text_files_mended_are_said_per_dialog(session1, tmp_path):
    """A UTF-8 byte-order mark is stripped (it was refused), a byte that is not UTF-8 and
    an utterance transcribed twice are kept but counted in the manifest, never silent."""
    folder = session1 / "Session1" / "dialog"
    evaluation = folder / "EmoEvaluation" / f"{IDS_OF_DIALOG}.txt"
    evaluation.write_bytes(b"\xef\xbb\xbf" + evaluation.read_bytes())
    path = folder / "transcriptions" / f"{IDS_OF_DIALOG}.txt"
    lines = path.read_bytes().splitlines()
    uid = _first_in_set_id(session1).encode()
    first = next(i for i, line in enumerate(lines) if line.startswith(uid + b" "))
    lines[first] = lines[first] + b" caf\xe9"
    lines.append(lines[first].split(b":")[0] + b": Said again.")
    path.write_bytes(b"\n".join(lines) + b"\n")
    manifest = _prepare(session1, tmp_path / "out")
    assert manifest["skipped_count"] == 0
    notes = manifest["dialog_notes"][IDS_OF_DIALOG]
    assert notes["utf8_bom"] == 1 and notes["lines_with_undecodable_bytes"] == 1
    assert notes["transcribed_twice"] == 1
    text = next(r["text"] for r in records(str(tmp_path / "out"), manifest)
                if r["utterance_id"] == uid.decode())
    assert text == "Said again."


@pytest.mark.slow
def test_a_missing_session_folder_is_said_and_recorded(session1, tmp_path, caplog):
    manifest = _prepare(session1, tmp_path / "out", sessions=(1, 2, 3, 4, 5))
    assert list(manifest["sessions"]) == ["1"] and manifest["sessions_missing"] == [2, 3, 4, 5]
    assert "no Session2, Session3, Session4, Session5 folder" in caplog.text
    from mer_tf.data.manifest import summary_table

    assert "WARNING: no folder for session(s) 2, 3, 4, 5" in summary_table(manifest)


@pytest.mark.slow
def test_nan_samples_in_a_float_wav_are_refused(session1, tmp_path):
    uid = _first_in_set_id(session1)
    wav = session1 / "Session1" / "sentences" / "wav" / IDS_OF_DIALOG / f"{uid}.wav"
    samples, rate = soundfile.read(wav, dtype="float32")
    samples[:] = np.nan  # all of them: once called "silent"
    soundfile.write(wav, samples, rate, subtype="FLOAT")
    with pytest.raises(DataError, match=f"{len(samples)} of {len(samples)} samples are NaN") \
            as error:
        _prepare(session1, tmp_path / "stop")
    assert error.value.path == str(wav)
