"""The reader finds exactly what the synthetic generator wrote."""

from collections import Counter

import numpy as np
import pytest

from mer_tf.data import mocap_files
from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.iemocap import index_release
from mer_tf.data.iemocap_files import split_utterance_id
from mer_tf.data.labels import get_label_set
from mer_tf.synthetic.release import dialog_ids


def _utterances(index):
    return [u for dialogs in index.values() for d in dialogs for u in d.utterances]


@pytest.mark.slow
def test_counts_ids_and_times_match_the_generator(release):
    root, truth = release
    index = index_release(root, ErrorPolicy("stop"))
    found = {u.utterance_id: u for u in _utterances(index)}
    assert sorted(found) == [t.utterance_id for t in truth]
    assert Counter(u.emotion for u in found.values()) == Counter(t.emotion for t in truth)
    for t in truth:
        u = found[t.utterance_id]
        assert (u.session, u.dialog, u.transcript) == (t.session, t.dialog, t.transcript)
        assert u.start == pytest.approx(t.start, abs=1e-4)
        assert u.end == pytest.approx(t.end, abs=1e-4)


@pytest.mark.slow
def test_label_sets_count_what_they_keep(release):
    root, truth = release
    index = index_release(root, ErrorPolicy("stop"))
    codes = Counter(u.emotion for u in _utterances(index))
    seed4, merged4 = get_label_set("seed4"), get_label_set("merged4")
    kept_seed4 = sum(n for code, n in codes.items() if seed4.class_of(code))
    kept_merged4 = sum(n for code, n in codes.items() if merged4.class_of(code))
    assert kept_seed4 == sum(codes[c] for c in ("ang", "exc", "neu", "sad"))
    assert kept_merged4 == kept_seed4 + codes["hap"]
    assert merged4.index_of("hap") == merged4.index_of("exc") == 1
    assert seed4.class_of("hap") is None


@pytest.mark.slow
def test_speaker_and_marker_wearer_are_distinct_fields(release):
    root, truth = release
    utterances = _utterances(index_release(root, ErrorPolicy("stop")))
    listeners = [u for u in utterances if not u.mocap_is_speaker]
    speakers = [u for u in utterances if u.mocap_is_speaker]
    assert listeners and speakers
    for u in listeners:
        assert u.utterance_id.rpartition("_")[2][0] != u.dialog[5]
        assert u.speaker == f"Ses{u.session:02d}{u.speaker_gender}"
    found = {u.utterance_id: u for u in utterances}
    for t in truth:
        u = found[t.utterance_id]
        assert u.speaker_gender == t.speaker_gender == t.utterance_id[-4]
        assert u.mocap_wearer == t.mocap_wearer
        assert u.mocap_is_speaker == (t.speaker_gender == t.mocap_wearer)


@pytest.mark.slow
def test_script01_1b_reads_its_mocap_from_script01_1(release):
    root, truth = release
    index = index_release(root, ErrorPolicy("stop"))
    assert "Ses05M_script01_1b" in dialog_ids(5, 4)
    dialog = next(d for d in index[5] if d.dialog_id == "Ses05M_script01_1b")
    assert dialog.utterances
    path = dialog.mocap_path("rotated")
    assert path.endswith("MOCAP_rotated/Ses05M_script01_1.txt")
    track = mocap_files.read_mocap(path)
    last = dialog.utterances[-1]
    assert track.times[-1] >= last.end


def test_utterance_ids_split_into_dialog_and_speaker():
    assert split_utterance_id("Ses05M_script01_1b_F012", "x") == ("Ses05M_script01_1b", "F")
    assert split_utterance_id("Ses01F_impro01_M000", "x") == ("Ses01F_impro01", "M")


def test_views_of_motion_capture():
    times = np.arange(240) / 120.0  # two seconds
    values = np.tile(np.arange(240, dtype=np.float32)[:, None], (1, 3))
    values[0:4, 1] = np.nan  # one value missing for the first bin
    frames, present = mocap_files.frames_view(times, values, 0.0, 2.0, 30.0)
    assert frames.shape == (60, 3) and present.shape == (60, 3)
    np.testing.assert_allclose(frames[1], [5.5, 5.5, 5.5])  # mean of frames 4..7
    assert not present[0, 1] and present[0, 0] and frames[0, 1] == 0
    chunks, chunk_present = mocap_files.chunks_view(values[:, :1], 200)
    reference = [c.mean() for c in np.array_split(values[:, 0], 200)]
    np.testing.assert_allclose(chunks[:, 0], reference, rtol=1e-6)
    assert chunk_present.all()
    few, few_present = mocap_files.chunks_view(values[:3, :1], 200)
    assert few_present.sum() == 3 and np.all(few[3:] == 0)


ROWS = "1 0.0000 1.0 2.0 NaN 4.0 5.0 6.0\n2 0.0083 1.5 2.5 3.5 4.5 5.5 6.5\n"


@pytest.mark.parametrize("header,columns", [
    # MOCAP_head: pose columns named on line 1, line 2 empty
    ("Frame# Time pitch roll yaw tra_x tra_y tra_z\n\n",
     ["pitch", "roll", "yaw", "tra_x", "tra_y", "tra_z"]),
    # markers of x, y, z on line 1, axis labels on line 2 (MOCAP_rotated's shape)
    ("Frame# Time LWR RWR\nX01 Y01 Z01 X02 Y02 Z02\n",
     ["LWR_X", "LWR_Y", "LWR_Z", "RWR_X", "RWR_Y", "RWR_Z"]),
    # names that do not fit the width, and units on line 2: generic names
    ("Frame# Time A B C D\nmm mm\n", ["v001", "v002", "v003", "v004", "v005", "v006"]),
])
def test_mocap_width_comes_from_the_rows(header, columns):
    track = mocap_files.parse_mocap_text(header + ROWS, "x.txt")
    assert list(track.columns) == columns and track.values.shape == (2, 6)
    assert np.isnan(track.values[0, 2]) and track.values[1, 5] == 6.5


def test_a_mocap_row_that_disagrees_is_named():
    text = "Frame# Time pitch\n\n" + ROWS + "3 0.0167 1.0 2.0\n"
    with pytest.raises(DataError) as error:
        mocap_files.parse_mocap_text(text, "x.txt")
    assert str(error.value) == ("x.txt:5: row has 4 columns, the first row has 8 "
                                "(frame, time and 6 values)")
