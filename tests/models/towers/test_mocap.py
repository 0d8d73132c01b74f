"""The motion-capture tower's pieces: motion features (centring, velocity, per-utterance
scale), their masking, statistics pooling, training-split statistics, and the
reference that shows what the frames allow."""

import json

import numpy as np
import pytest

from mer_tf.config import MocapConfig
from mer_tf.data.corpus import Split
from mer_tf.evaluation import mocap_reference
from mer_tf.models.layers import MaskedStatisticsPooling, MotionFeatures, motion_features
from mer_tf.models.towers.mocap import motion_options
from tests.helpers import records

STREAMS = (("head", 6), ("hand", 18), ("rotated", 165))  # the synthetic widths


def _oscillation(frames=60, features=3, amplitude=5.0, hertz=1.0, rate=30.0, offset=100.0):
    t = np.arange(frames)[:, None] / rate
    phases = np.arange(features)[None, :]
    return (offset + amplitude * np.sin(2 * np.pi * hertz * t + phases)).astype("float32")


def test_velocity_is_the_step_of_the_centred_positions_and_missing_markers_read_zero():
    x = _oscillation(frames=8, features=2)
    x[3, 0] = np.nan  # one marker missing in frame 3
    mask = np.array([1] * 6 + [0, 0], "int32")  # two padded frames
    features, present = (np.asarray(v)[0] for v in motion_features(x[None], mask[None]))
    assert features.shape == present.shape == (8, 6)  # positions, velocities, accelerations
    kept = np.where(np.isnan(x[:6]), np.nan, x[:6])
    centred = kept - np.nanmean(kept, axis=0)
    np.testing.assert_allclose(features[:6, :2], np.nan_to_num(centred), atol=1e-4)
    assert features[3, 0] == 0 and present[3, 0] == 0  # the missing marker: its mean pose
    step = np.diff(centred, axis=0)
    np.testing.assert_allclose(features[1:6, 2:4], np.nan_to_num(step), atol=1e-4)
    # a velocity with either frame missing is 0 and not present; so is the first frame's
    assert features[3, 2] == features[4, 2] == 0 and present[3, 2] == present[4, 2] == 0
    assert present[0, 2:].sum() == 0
    np.testing.assert_allclose(features[2:6, 4:], np.nan_to_num(np.diff(step, axis=0)), atol=1e-4)
    assert present[:2, 4:].sum() == 0 and features[3:6, 4].tolist() == [0, 0, 0]
    assert not features[6:].any() and not present[6:].any()  # padding stays out


def test_marker_speed_is_the_length_of_each_markers_step():
    x = _oscillation(frames=6, features=6)  # two markers
    x[2, 3] = np.nan  # the second marker's x missing in frame 2
    mask = np.ones((1, 6), "int32")
    features, present = (np.asarray(v)[0]
                         for v in motion_features(x[None], mask, derivatives=1, magnitudes=True))
    assert features.shape == (6, 6 + 6 + 2)
    steps = features[:, 6:12].reshape(6, 2, 3)
    whole = present[:, 6:12].reshape(6, 2, 3).min(axis=-1)  # all three of its steps measured
    assert whole[:, 1].tolist() == [0, 1, 0, 0, 1, 1] and whole[1:, 0].all()
    np.testing.assert_allclose(features[:, 12:], np.linalg.norm(steps, axis=-1) * whole,
                               rtol=1e-5)
    assert (present[:, 12:] == whole).all()


def test_each_body_part_gets_its_log_quantity_of_motion():
    x = np.concatenate([_oscillation(features=3, amplitude=1.0),
                        _oscillation(features=6, amplitude=10.0)], axis=1)
    x[5:9, 3:6] = np.nan  # one marker of the second part missing for a while
    mask = np.ones((1, 60), "int32")
    features, present = (np.asarray(v)[0] for v in motion_features(
        x[None], mask, derivatives=1, magnitudes=True, groups=(3, 6)))
    assert features.shape == (60, 9 + 9 + 3 + 2)
    lengths, measured = features[:, 18:21], present[:, 18:21]
    for column, part in ((21, slice(0, 1)), (22, slice(1, 3))):
        mean = (lengths[:, part] * measured[:, part]).sum(1) / np.maximum(
            measured[:, part].sum(1), 1)
        expected = np.where(measured[:, part].sum(1) > 0, np.log(mean + 1e-3), 0.0)
        np.testing.assert_allclose(features[:, column], expected, rtol=1e-4, atol=1e-5)
    assert features[1:, 22].mean() > features[1:, 21].mean() + 2  # ten times the movement


def test_per_utterance_scale_keeps_the_rhythm_and_moves_the_size_into_its_log():
    slow, fast = _oscillation(hertz=1.0), _oscillation(hertz=3.0)
    mask = np.ones((1, 60), "int32")

    def scaled(x):
        return np.asarray(motion_features(x[None], mask, derivatives=1,
                                          per_utterance_scale=True)[0])[0]

    small, large = scaled(slow), scaled(_oscillation(hertz=1.0, amplitude=20.0))
    np.testing.assert_allclose(small[:, :6], large[:, :6], atol=1e-3)  # the same movement
    np.testing.assert_allclose(large[:, 6:] - small[:, 6:], np.log(4.0), atol=1e-3)  # 4x size
    speed = {h: np.abs(scaled(x)[:, 3:6]).mean() for h, x in ((1, slow), (3, fast))}
    assert speed[3] > 2.5 * speed[1]  # three times the rhythm, about three times the speed


def test_motion_layer_scales_by_training_variance_masks_empty_frames_and_round_trips():
    import keras

    x = _oscillation(frames=5, features=2)
    x[2] = np.nan  # no marker measured in frame 2
    mask = np.array([[1, 1, 1, 1, 0]], "int32")
    layer = MotionFeatures([4.0, 4.0, 1.0, 1.0], centre=True, derivatives=1)
    features, frame_mask = (np.asarray(v) for v in layer(x[None], mask))
    raw = np.asarray(motion_features(x[None], mask, derivatives=1)[0])
    np.testing.assert_allclose(features[..., :2], raw[..., :2] / 2.0, rtol=1e-4, atol=1e-6)
    assert frame_mask.tolist() == [[1, 1, 0, 1, 0]]
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(np.asarray(clone(x[None], mask)[0]), features)


def test_statistics_pooling_is_the_mean_and_spread_of_the_valid_steps():
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
    pooled = np.asarray(MaskedStatisticsPooling()(x, mask))
    assert pooled.shape == (2, 6)
    np.testing.assert_allclose(pooled[0, :3], x[0, :3].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(pooled[0, 3:], x[0, :3].std(axis=0), rtol=1e-3)
    np.testing.assert_allclose(pooled[1, 3:], x[1].std(axis=0), rtol=1e-3)


def _tower(corpus, split, **settings):
    from mer_tf.config import ModelConfig
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.models.towers.mocap import MocapTower

    config = MocapConfig(max_frames=24, **settings)
    statistics = MocapTower.statistics(config, corpus.facts, corpus, split)
    builder = ModelBuilder(ModelConfig(modalities=("mocap",), mocap=config), corpus.facts,
                           {"mocap": statistics})
    return builder, statistics


@pytest.mark.slow
def test_transformer_statistics_are_those_of_its_features_on_the_training_split(corpus, prepared):
    train = Split((1, 2, 3, 4), exclude_speakers=("Ses04F",))
    _, statistics = _tower(corpus, train)
    rows = [r for r in records(*prepared) if r["session"] <= 4 and r["speaker"] != "Ses04F"]
    values, present = [], []
    for r in rows:
        frames = np.concatenate([np.where(r[f"mocap/{s}/present"], r[f"mocap/{s}/values"],
                                          np.nan) for s, _ in STREAMS], axis=1)[:24]
        mask = np.ones((1, frames.shape[0]), "int32")
        v, p = motion_features(frames[None].astype("float32"), mask,
                               **motion_options(MocapConfig(max_frames=24), corpus.facts))
        values.append(np.asarray(v)[0]), present.append(np.asarray(p)[0] > 0)
    values, present = np.concatenate(values), np.concatenate(present)
    expected = np.array([values[present[:, i], i].var() if present[:, i].sum() > 1 else 1.0
                         for i in range(values.shape[1])])
    assert len(statistics["variance"]) == 4 * 189 + 2 * (189 // 3 + 3)  # + 3 body parts
    np.testing.assert_allclose(statistics["variance"], np.where(expected > 1e-12, expected, 1.0),
                               rtol=1e-3, atol=1e-6)
    _, everything = _tower(corpus, Split((1, 2, 3, 4, 5)))
    assert not np.allclose(statistics["variance"], everything["variance"])


@pytest.mark.slow
@pytest.mark.parametrize("settings", [{}, {"scale": "training", "block": "post-norm",
                                           "pool": "mean", "position": "sinusoidal"}])
def test_padding_and_missing_markers_do_not_reach_the_tower_vector(corpus, settings):
    builder, _ = _tower(corpus, Split((1, 2, 3, 4)), **settings)
    model = builder.model()
    rng = np.random.default_rng(1)
    frames = rng.normal(100, 5, (1, 24, 189)).astype("float32")
    mask = np.array([[1] * 15 + [0] * 9], "int32")
    frames[0, 4, :3] = np.nan  # a missing marker
    garbage = frames.copy()
    garbage[0, 15:] = rng.normal(0, 1e3, (9, 189))  # what padding holds must not matter
    out = model.predict({"mocap": frames, "mocap_mask": mask}, verbose=0)
    np.testing.assert_allclose(model.predict({"mocap": garbage, "mocap_mask": mask}, verbose=0),
                               out, rtol=1e-4, atol=1e-5)
    assert np.isfinite(out).all()


def test_movement_statistics_read_size_rhythm_and_ignore_missing_frames():
    streams = (("head", 3),)
    mask = np.ones(60, "int32")

    def stats(x, m=mask):
        return dict(zip(mocap_reference.STATISTICS, mocap_reference.movement_statistics(
            x, m, streams)))

    base = stats(_oscillation())
    assert stats(_oscillation(amplitude=20.0))["displacement"] == pytest.approx(
        base["displacement"] + np.log(4.0), abs=0.01)
    fast = stats(_oscillation(hertz=3.0))
    assert fast["speed_over_displacement"] > base["speed_over_displacement"] + 0.9  # ~log 3
    assert fast["velocity_sign_changes"] > 2 * base["velocity_sign_changes"]
    holed = _oscillation()
    holed[10:20] = np.nan
    padded = np.concatenate([_oscillation(), np.full((20, 3), 1e4, "float32")])
    assert stats(padded, np.r_[mask, np.zeros(20, "int32")]) == pytest.approx(base)
    assert all(np.isfinite(list(stats(holed).values())))


@pytest.mark.slow
def test_the_reference_runs_on_the_same_folds_and_chooses_on_validation(prepared, tmp_path):
    from experiments import mocap_reference as command

    out = tmp_path / "reference.json"
    assert command.main(["--data-dir", prepared[0], "--protocol", "loso", "--mocap-frames",
                         "24", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [f["fold"] for f in result["folds"]] == [f"fold{i}" for i in range(1, 6)]
    assert len(result["statistics"]) == 3 * len(mocap_reference.STATISTICS)
    for fold in result["folds"]:
        assert fold["C"] in mocap_reference.C_GRID
        best = fold["validation"]["ua"]
        assert 0 <= best <= 1 and 0 <= fold["test"]["ua"] <= 1
    uas = [f["test"]["ua"] for f in result["folds"]]
    assert result["test_ua_mean"] == pytest.approx(np.mean(uas))
