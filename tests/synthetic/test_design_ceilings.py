"""The best CCC a model can reach on the synthetic corpus: the formula checked against a
simulation of the same model of ratings and cues (each modality shows the true cue or
another alike, independently; ratings the class's mean plus Gaussian spread)."""

import numpy as np
import pytest

from mer_tf.evaluation.dimensions import concordance
from mer_tf.synthetic.design import (
    CUE_CLASSES,
    VAD_OF_CUE,
    VAD_SPREAD,
    SyntheticConfig,
    dimension_ceilings,
    modality_accuracies,
)


def test_the_ccc_ceiling_is_what_the_best_use_of_the_shown_cues_reaches():
    config = SyntheticConfig(cue_confusion=0.25)
    ceilings = dimension_ceilings(config)
    accuracy = modality_accuracies(config)
    rng = np.random.default_rng(0)
    n, k = 200_000, len(CUE_CLASSES)
    classes = rng.integers(0, k, n)
    means = np.array([VAD_OF_CUE[c] for c in CUE_CLASSES])
    ratings = means[classes] + rng.normal(0, VAD_SPREAD, (n, 3))  # V, A, D
    shown = {}
    for modality in ("speech", "text", "mocap"):
        wrong = (classes + rng.integers(1, k, n)) % k  # any other class alike
        shown[modality] = np.where(rng.random(n) < accuracy[modality], classes, wrong)
    for subset in [("speech",), ("mocap",), ("speech", "text", "mocap")]:
        key = sum(shown[m] * k ** i for i, m in enumerate(subset))
        predicted = np.zeros_like(ratings)
        for value in np.unique(key):  # the best a model can do: the mean given the cues
            predicted[key == value] = ratings[key == value].mean(axis=0)
        for column, name in ((1, "arousal"), (0, "valence"), (2, "dominance")):
            y, m = ratings[:, column], predicted[:, column]
            r = np.corrcoef(y, m)[0, 1]
            assert ceilings[subset][name] == pytest.approx(r, abs=0.01)
            # reachable: the conditional mean stretched to the ratings' mean and spread
            stretched = y.mean() + (m - m.mean()) * y.std() / m.std()
            assert concordance(y, stretched) == pytest.approx(ceilings[subset][name], abs=0.01)
            assert concordance(y, m) < concordance(y, stretched)  # unstretched, it shrinks
    perfect = dimension_ceilings(SyntheticConfig(cue_confusion=0.0))  # cues never lie
    between = means.var(axis=0)  # classes equally likely: the ratings' spread by class
    for column, name in ((1, "arousal"), (0, "valence"), (2, "dominance")):
        expected = np.sqrt(between[column] / (between[column] + VAD_SPREAD ** 2))
        assert perfect[("speech",)][name] == pytest.approx(expected)
