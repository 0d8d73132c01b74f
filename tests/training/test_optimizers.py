"""Pretrained backbones train at their own (warmed-up) rate; heads keep theirs."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from mer_tf.commands.runner import FAILED_EXIT_CODE
from mer_tf.config import ModelConfig, TextConfig, TrainConfig
from mer_tf.data.corpus import IEMOCAP_FACTS
from mer_tf.models.fusion import ModelBuilder
from mer_tf.models.towers.bert import load_text_preprocessor
from mer_tf.training.fold import compile_model
from mer_tf.training.optimizers import make_optimizer


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_backbone_variables_move_by_the_backbone_rate(assets, optimizer):
    """Adam's first step moves a variable by at most its rate (|m̂/√v̂| ≤ 1), RMSprop's by
    rate/√(1-ρ): the largest move of each variable says which rate it got."""
    keras.utils.set_random_seed(0)
    config = ModelConfig(modalities=("text",), text=TextConfig(preset=assets["text"],
                                                               sequence_length=16, dropout=0.0))
    builder = ModelBuilder(config, IEMOCAP_FACTS)
    model = builder.model()
    train = TrainConfig(optimizer=optimizer, learning_rate=1e-2, backbone_learning_rate=4e-4)
    backbone = builder.backbone_variables()
    assert backbone and len(backbone) == len(builder.towers["text"].backbone.trainable_weights)
    compile_model(model, make_optimizer(train, backbone, warmup_steps=4))
    tokens = load_text_preprocessor(assets["text"], 16)(
        tf.constant(["so great i love it", "i hate this", "okay fine", "i miss you"]))
    inputs = {k: v.numpy() for k, v in tokens.items()}
    head = builder.towers["text"].dense.kernel
    before = {id(v): np.array(v.numpy()) for v in [*backbone, head]}
    model.train_on_batch(inputs, np.array([0, 1, 2, 3]))

    def step(variable):  # Adam's |Δ| is below the rate only where |gradient| ~ epsilon
        return float(np.abs(variable.numpy() - before[id(variable)]).max())

    expected_backbone = 4e-4 * 1 / 4  # first of four warm-up steps
    # Embedding tables get sparse gradients whose repeated rows Adam sums unnormalised
    # (a token in every example moves ~2x): the bound holds for dense variables.
    largest = max(step(v) for v in backbone if "embedding" not in v.path)
    if optimizer == "adam":
        assert largest == pytest.approx(expected_backbone, rel=0.02)
        assert step(head) == pytest.approx(1e-2, rel=0.02)
    else:  # RMSprop's first step is rate / sqrt(1 - rho) for both
        assert largest / step(head) == pytest.approx(expected_backbone / 1e-2, rel=0.02)
    assert max(step(v) for v in backbone) < 10 * expected_backbone < step(head)


def test_warm_up_ramps_then_holds():
    optimizer = make_optimizer(TrainConfig(backbone_learning_rate=2e-5), [], warmup_steps=10)
    optimizer.build([])
    rates = []
    for iteration in (0, 4, 9, 10, 500):
        optimizer.iterations.assign(iteration)
        rates.append(float(optimizer.current_backbone_learning_rate()))
    np.testing.assert_allclose(rates, [2e-6, 1e-5, 2e-5, 2e-5, 2e-5], rtol=1e-6)


def test_defaults_never_give_a_named_backbone_the_demo_rate():
    """The policy lives in the presets, and building a config opens no corpus: the paths
    here need not exist."""
    from mer_tf.commands.flags import build_parser, flag_overrides
    from mer_tf.commands.runner import given_flags
    from mer_tf.config import presets

    assets = {"data_dir": "nowhere/demo", "speech": "nowhere/speech", "text": "nowhere/text"}

    def train(*argv):
        given = given_flags(build_parser("x", ""), list(argv))
        return presets.run_config("text", flag_overrides(given), data_dir=given.get("data_dir", ""),
                                  demo_assets=assets).train

    assert (train().learning_rate, train().backbone_learning_rate) == (3e-3, 3e-3)  # stand-ins
    named = train("--text-preset", "bert_base_en")  # e.g. a pretrained checkpoint
    assert (named.learning_rate, named.backbone_learning_rate) == (3e-3, 2e-5)
    assert train("--speech-model", "hf/wavlm").backbone_learning_rate == 2e-5
    paper = train("--data-dir", "nowhere/iemocap", "--learning-rate", "1e-3")
    assert (paper.learning_rate, paper.backbone_learning_rate) == (1e-3, 1e-5)
    assert train("--backbone-learning-rate", "3e-5").backbone_learning_rate == 3e-5
    assert train("--text-preset", "b", "--backbone-learning-rate", "3e-5"
                 ).backbone_learning_rate == 3e-5
    assert dataclasses.asdict(named)["backbone_warmup_epochs"] == 1.0


def test_failure_reasons_name_what_went_wrong():
    from mer_tf.evaluation.evaluate import failure_reasons

    names = ("ang", "exc", "neu", "sad")
    one_class = {"probabilities": np.tile([[0.1, 0.6, 0.2, 0.1]], (5, 1))}
    assert failure_reasons(one_class, {"val_loss": [1.3]}, names) == [
        "every test utterance is predicted as one class (exc)"]
    varied = {"probabilities": np.eye(4)[[0, 1, 2, 3, 0]]}
    assert failure_reasons(varied, {"val_loss": [np.nan, 1.2]}, names) == []
    assert failure_reasons(varied, {"val_loss": [np.nan]}, names) == [
        "no epoch gave a finite validation loss"]
    broken = {"probabilities": np.full((5, 4), np.nan)}
    assert failure_reasons(broken, {},
                           names)[0] == "the model's outputs are not finite (NaN or inf)"


@pytest.mark.slow
def test_a_run_that_learned_nothing_is_marked_and_exits_non_zero(prepared, assets, tmp_path):
    """A learning rate of 1e30 turns the weights to inf: TerminateOnNaN, NaN outputs."""
    import json

    from experiments import mocap
    from tests.helpers import run_args

    argv = run_args(prepared, assets, tmp_path / "run", "--optimizer", "sgd",
                    "--learning-rate", "1e30", "--no-export")
    with pytest.raises(SystemExit) as exit_:
        mocap.main(argv)
    assert exit_.value.code == FAILED_EXIT_CODE
    metrics = json.load(open(tmp_path / "run" / "summary.json"))
    reasons = metrics["failed_folds"]["session5"]
    assert "the model's outputs are not finite (NaN or inf)" in reasons
    assert metrics["folds"][0]["failed"] == reasons


def test_the_mocap_tower_trains_at_its_own_rate_and_the_head_at_the_runs():
    """Adam's first step moves each variable by about its rate: the mocap tower's
    variables by --mocap-learning-rate, the fusion head by --learning-rate."""
    from mer_tf.config import MocapConfig

    keras.utils.set_random_seed(0)
    config = ModelConfig(modalities=("mocap",), mocap=MocapConfig(max_frames=8, width=8,
                                                                  learning_rate=1e-4))
    builder = ModelBuilder(config, IEMOCAP_FACTS)
    model = builder.model()
    (own, rate), = builder.tower_rates()
    assert rate == 1e-4 and any(v is builder.towers["mocap"].dense.kernel for v in own)
    head = [v for v in model.trainable_weights if all(v is not w for w in own)]
    assert head  # the fusion layers and classifier
    compile_model(model, make_optimizer(TrainConfig(learning_rate=1e-2),
                                        tower_rates=builder.tower_rates()))
    frames = np.random.default_rng(0).normal(0, 5, (4, 8, 189)).astype("float32")
    before = {id(v): np.array(v.numpy()) for v in model.trainable_weights}
    model.train_on_batch({"mocap": frames, "mocap_mask": np.ones((4, 8), "int32")},
                         np.array([0, 1, 2, 3]))

    def largest(variables):
        return max(np.abs(v.numpy() - before[id(v)]).max() for v in variables)

    assert 0.5e-4 < largest(own) <= 1.01e-4
    assert 0.5e-2 < largest(head) <= 1.01e-2
    paper = ModelBuilder(dataclasses.replace(config, mocap=MocapConfig(learning_rate=0.0)),
                         IEMOCAP_FACTS)
    paper.model()
    assert paper.tower_rates() == []  # 0: the run's rate
    cnn = ModelBuilder(dataclasses.replace(config, mocap=MocapConfig(
        encoder="cnn", view="chunks", learning_rate=1e-4)), IEMOCAP_FACTS)
    cnn.model()
    assert cnn.tower_rates() == []  # the paper's CNN trains at the run's rate
