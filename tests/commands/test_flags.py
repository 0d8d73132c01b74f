"""Flags derived from the config fields: only those given override, each on its field."""

import pytest

from mer_tf.commands.flags import build_parser, flag_overrides, setting_fields
from mer_tf.commands.runner import given_flags
from mer_tf.config import (
    DataConfig,
    SpeechConfig,
    TrainConfig,
    check_choices,
)


def _given(*argv):
    parser = build_parser("x", "")
    return given_flags(parser, list(argv))


def test_only_the_flags_given_override_and_each_lands_on_its_field():
    given = _given("--speech-head", "flatten", "--folds", "4,5", "--no-export",
                   "--speech-feature-encoder", "trainable", "--freeze", "speech,text",
                   "--mixed-precision", "--learning-rate", "3e-4")
    assert set(given) == {"speech_head", "folds", "no_export", "speech_feature_encoder",
                          "freeze", "mixed_precision", "learning_rate"}
    overrides = flag_overrides(given)
    assert overrides["model"]["speech"] == {"head": "flatten", "freeze_feature_encoder": False,
                                            "freeze": True}
    assert overrides["model"]["text"] == {"freeze": True}
    assert overrides["data"] == {"folds": (4, 5)}
    assert overrides["train"] == {"export": False, "mixed_precision": "auto",
                                  "learning_rate": 3e-4}
    assert flag_overrides(_given()) == {"model": {}, "train": {}, "data": {}}
    with pytest.raises(ValueError, match="--freeze takes speech and/or text"):
        flag_overrides(_given("--freeze", "mocap"))


def test_every_declared_flag_parses_and_choices_are_enforced():
    flags = [f.metadata["flag"] for _, _, f in setting_fields()]
    assert len(flags) == len(set(flags)) > 30
    with pytest.raises(SystemExit):
        build_parser("x", "").parse_args(["--speech-head", "max"])
    with pytest.raises(ValueError, match="SpeechConfig.head must be one of mean, attention"):
        check_choices(SpeechConfig(head="max"))
    with pytest.raises(ValueError, match="TrainConfig.optimizer"):
        TrainConfig(optimizer="adagrad")
    with pytest.raises(ValueError, match="DataConfig.subset"):
        DataConfig("d", subset="some")
