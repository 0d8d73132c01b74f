"""Presets, the one path to a RunConfig, and configs through JSON."""

import dataclasses
import json

import pytest

from mer_tf.config import (
    MocapConfig,
    ModelConfig,
    RunConfig,
    from_dict,
    presets,
    to_dict,
)
from mer_tf.config.presets import settings_of


def test_presets_lay_over_the_defaults_and_overrides_over_presets():
    assert presets.merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": 4}) == {
        "a": {"b": 1, "c": 3}, "d": 4}
    demo = settings_of("demo")
    assert demo["model"]["mocap"]["max_frames"] == 96 and demo["train"]["batch_size"] == 16
    assert demo["model"]["mocap"]["width"] == MocapConfig().width  # not in the preset
    paper = presets.run_config("e", {"train": {"epochs": 3}}, run_dir="r", data_dir="d")
    assert (paper.train.epochs, paper.train.batch_size, paper.model.text.dropout) == (3, 5, 0.5)
    assert paper.data.data_dir == "d" and not paper.demo
    demo_run = presets.run_config("e", demo_assets={"data_dir": "demo", "speech": "s",
                                                    "text": "t"})
    assert demo_run.demo and demo_run.model.modality_dropout == 0.3
    assert (demo_run.data.data_dir, demo_run.model.speech.model) == ("demo", "s")
    assert demo_run.run_dir.startswith("runs/e/")  # the default run folder
    with pytest.raises(ValueError, match="needs demo_assets"):
        presets.run_config("e")
    with pytest.raises(ValueError, match="unknown preset"):
        presets.preset("huge")


def test_configs_round_trip_through_json():
    config = presets.run_config("concat", {"model": {"modalities": ["text", "speech"]},
                                           "data": {"folds": [4, 5], "protocol": "loso"}},
                                preset_name="demo", run_dir="runs/x", data_dir="data")
    assert config.model.modalities == ("speech", "text")  # canonical order
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.data.folds == (4, 5)
    assert from_dict(ModelConfig, to_dict(ModelConfig())) == ModelConfig()
    assert config.model.class_names == ()  # the corpus's, filled in when training opens it
    assert config.with_classes(("a", "b")).model.class_names == ("a", "b")
    named = dataclasses.replace(config, model=dataclasses.replace(config.model,
                                                                  class_names=("x",)))
    with pytest.raises(ValueError, match=r"the data's classes \['a'\] differ"):
        named.with_classes(("a",))


def test_a_setting_no_longer_known_is_refused_by_its_name(tmp_path):
    """A renamed or misspelt key of config.json never falls back to a default silently."""
    config = presets.run_config("e", data_dir="d", run_dir=str(tmp_path))
    stored = config.to_dict()
    stored["model"]["speech"]["handle"] = stored["model"]["speech"].pop("model")
    with pytest.raises(ValueError, match="unknown setting model.speech.handle"):
        RunConfig.from_dict(stored)
    config.save()
    text = open(tmp_path / "config.json").read().replace('"dropout"', '"drop_out"', 1)
    open(tmp_path / "config.json", "w").write(text)
    with pytest.raises(ValueError, match=r"config.json: unknown setting model\.\w+\.drop_out"):
        RunConfig.load(str(tmp_path))
