"""A trained run across corpora (`experiments.evaluate`): classes matched by name, its own
test split scored as the run scored it, another corpus scored whole."""

import json
import os

import pytest

from mer_tf.training.transfer import match_classes


def test_classes_are_matched_by_name_and_what_is_missing_is_said():
    matched = match_classes(("ang", "exc", "neu", "sad"), ("neu", "ang", "fru"))
    assert matched == {"shared": ["neu", "ang"], "corpus_only": ["fru"],
                       "model_only": ["exc", "sad"], "to_model": {0: 2, 1: 0}, "renamed": {}}
    # other corpora's names for the same four, through the cross-corpus label set
    across = match_classes(("ang", "exc", "neu", "sad"), ("anger", "fear", "joy", "neutral"))
    assert across == {"shared": ["anger", "joy", "neutral"], "corpus_only": ["fear"],
                      "model_only": ["sad"], "to_model": {0: 0, 2: 1, 3: 2},
                      "renamed": {"anger": "ang", "joy": "exc", "neutral": "neu"}}
    # a name two of the model's classes could be (merged4's hap and exc) is not guessed
    assert match_classes(("exc", "hap"), ("happy", "exc"))["corpus_only"] == ["happy"]
    with pytest.raises(ValueError, match="no class in common: the model knows ang, exc"):
        match_classes(("ang", "exc"), ("fear", "calm"))


@pytest.mark.slow
def test_the_run_on_its_own_test_split_gives_its_own_figures(trained_run, prepared, capsys):
    from experiments import evaluate
    from mer_tf.training.transfer import evaluate_on

    report = evaluate_on(trained_run, prepared[0], "test")
    own = json.load(open(os.path.join(trained_run, "metrics.json")))["test"]
    assert report["own_corpus"] and report["metrics"]["utterances"] == own["utterances"]
    for key in ("wa", "ua", "macro_f1"):
        assert report["metrics"][key] == pytest.approx(own[key], abs=1e-12)
    assert report["metrics"]["confusion_matrix"] == own["confusion_matrix"]
    assert evaluate.main(["--run", trained_run, "--data-dir", prepared[0]]) == 2
    assert "--split all would score its training utterances" in capsys.readouterr().err


@pytest.mark.slow
def test_another_corpus_is_scored_whole_with_intervals(trained_run, tmp_path, capsys):
    from experiments import evaluate
    from mer_tf.data import prepare as prep
    from mer_tf.synthetic.release import SyntheticConfig, generate

    root = str(tmp_path / "other" / "IEMOCAP_full_release")
    truth = generate(root, SyntheticConfig(seed=11, utterances=40, dialogs_per_session=2,
                                           mean_seconds=1.0))
    out = str(tmp_path / "other_prepared")
    manifest = prep.prepare(prep.PrepareConfig(source=root, out_dir=out), progress=False)
    path = tmp_path / "report.json"
    assert evaluate.main(["--run", trained_run, "--data-dir", out, "--json", str(path)]) == 0
    report = json.load(open(path))
    in_set = {u.utterance_id for u in truth if u.emotion in ("ang", "exc", "neu", "sad")}
    assert {p["utterance_id"] for p in report["predictions"]} == in_set
    assert report["metrics"]["utterances"] == manifest["utterances"] == len(in_set)
    assert not report["own_corpus"] and report["classes"]["shared"] == ["ang", "exc", "neu",
                                                                        "sad"]
    right = sum(p["label"] == p["predicted"] for p in report["predictions"])
    assert report["metrics"]["wa"] == pytest.approx(right / len(in_set))
    low, high = report["metrics"]["ci95"]["ua"]
    assert low <= report["metrics"]["ua"] <= high
    own = json.load(open(os.path.join(trained_run, "metrics.json")))["test"]
    drop = report["against_own_test"]
    assert drop["own_test_utterances"] == own["utterances"]
    assert drop["ua"]["delta"] == pytest.approx(report["metrics"]["ua"] - own["ua"])
    assert drop["ua"]["ci95"][0] <= drop["ua"]["delta"] <= drop["ua"]["ci95"][1]
    printed = capsys.readouterr().out
    assert f"on {out} (all: {len(in_set)} utterances)" in printed and "confusion" in printed
    assert "minus the run's own test figures" in printed
