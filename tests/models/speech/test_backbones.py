"""Every kind of speech backbone meets the one contract (`tests.harness`)."""

import os

import pytest

from mer_tf.config import SpeechConfig
from mer_tf.models.speech.kinds import load_speech_backbone
from tests.harness import run_speech_backbone_test
from tests.helpers import FIXTURES

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run


@pytest.fixture(scope="module")
def whisper(tmp_path_factory):
    from mer_tf.testing.speech_presets import save_tiny_whisper_preset

    return save_tiny_whisper_preset(str(tmp_path_factory.mktemp("whisper") / "tiny"), seconds=1)


@pytest.mark.parametrize("kind", ["tfhub", "hf", "whisper"])
def test_each_kind_meets_the_contract(kind, assets, whisper):
    handle = {"tfhub": assets["speech"], "whisper": whisper,
              "hf": os.path.join(FIXTURES, "hf_speech", "wav2vec2_base")}[kind]
    backbone = load_speech_backbone(SpeechConfig(model=handle))
    assert backbone.kind == kind
    states, _ = run_speech_backbone_test(backbone, seconds=1.0)
    assert states.shape[1] == (1 if kind == "tfhub" else backbone.num_states)
