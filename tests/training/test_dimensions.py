"""Arousal, valence and dominance beside the classes (`--targets both`): the pipeline's
targets on [0, 1] and masked, the head and its loss trained, the figures in metrics.json,
and the SavedModel serving them."""

import json

import numpy as np
import pytest

from tests.helpers import run_args, train

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run


def test_targets_are_each_corpus_scale_on_unit_and_fillers_are_nan(prepared):
    from mer_tf.data.corpus import PreparedCorpus, Split

    corpus = PreparedCorpus(*prepared)
    scales = corpus.dimension_scales()
    assert set(scales.values()) == {(1.0, 5.0)}  # IEMOCAP's [V, A, D] are rated 1-5
    rows = {r["utterance_id"]: r for r in corpus.rows(Split((5,)))}
    seen = 0
    for _, labels, meta in corpus.dataset(Split((5,)), (), 16, training=False,
                                          with_metadata=True, pad_final_batch=True,
                                          num_examples=len(rows), dimensions=scales):
        for uid, dims, valid in zip(meta["utterance_id"].numpy(),
                                    labels["dimensions"].numpy(), meta["valid"].numpy()):
            if not valid:  # a filler: masked, never a rating
                assert np.isnan(dims).all()
                continue
            row = rows[uid.decode()]
            expected = [(row[k] - 1) / 4 for k in ("arousal", "valence", "dominance")]
            np.testing.assert_allclose(dims, expected, rtol=1e-6)
            seen += 1
    assert seen == len(rows)


def test_both_heads_train_are_scored_and_served(prepared, assets, tmp_path, capsys):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the exported tokenizer's ops)

    from experiments import speech

    runs = tmp_path / "both"
    train(speech.main, run_args(prepared, assets, runs, "--targets", "both", "--protocol",
                                "loso", "--folds", "4,5", "--monitor", "val_ccc",
                                "--dimension-weight", "0.5"))
    summary = json.load(open(runs / "summary.json"))
    pooled = summary["pooled"]["dimensions"]  # every fold's test utterances together
    assert pooled["arousal"]["utterances"] == summary["pooled"]["utterances"]
    folds = [f["test"]["dimensions"]["valence"]["ccc"] for f in summary["folds"]]
    assert summary["ccc_valence"] == pytest.approx(np.mean(folds))
    from mer_tf.evaluation.compare import compare_runs, comparison_table
    from mer_tf.evaluation.summary import summary_table

    compared = compare_runs(str(runs), str(runs))  # a run against itself, on CCC too
    assert compared["dimensions"]["arousal"]["delta"] == 0
    assert compared["dimensions"]["arousal"]["utterances"] == summary["pooled"]["utterances"]
    assert "CCC dominance" in comparison_table(compared)
    from mer_tf.training.transfer import evaluate_on, report_text

    report = evaluate_on(str(runs), prepared[0], "test")  # each fold on its own test session
    assert report["dimensions"]["valence"]["ccc"] == pytest.approx(
        pooled["valence"]["ccc"], abs=1e-5)
    assert "valence: CCC" in report_text(report)

    table = summary_table(summary)
    assert "test CCC arousal [95% CI]" in table
    assert f"{summary['ccc_dominance']:.3f} ± " in table.split("test CCC arousal")[1]
    run = runs / "fold5"
    metrics = json.load(open(run / "metrics.json"))
    test = metrics["test"]["dimensions"]
    for name in ("arousal", "valence", "dominance"):
        assert test[name]["utterances"] == metrics["test"]["utterances"]
        low, high = test[name]["ci95"]["ccc"]
        assert -1 <= low <= test[name]["ccc"] <= high <= 1
    assert test["mean_ccc"] == pytest.approx(np.mean([test[d]["ccc"] for d in (
        "arousal", "valence", "dominance")]))
    assert (run / "dimensions.png").stat().st_size > 10_000  # three scatters
    history = open(run / "history.csv").read().splitlines()[0].split(",")
    assert {"val_ccc", "val_ua", "val_dimensions_loss"} <= set(history)
    served = tf.saved_model.load(str(run / "saved_model"))
    info = json.load(open(run / "saved_model" / "mer_tf.json"))
    assert info["targets"] == "both"
    waveform = tf.constant(np.random.default_rng(0).normal(0, 0.1, (2, 16000)), tf.float32)
    out = served.serve(waveform, tf.constant([16000, 9000]))
    for name in ("arousal", "valence", "dominance"):
        values = out[name].numpy()
        assert values.shape == (2,) and ((0 <= values) & (values <= 1)).all()
    np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-5)
    # the recognizer, predict and predict --recording give them beside the classes
    from experiments import predict
    from mer_tf.serving.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer(str(run / "saved_model"))
    wav = tmp_path / "turn.wav"
    import soundfile

    soundfile.write(wav, np.random.default_rng(1).normal(0, 0.1, 24000).astype(np.float32),
                    16000)
    answer = recognizer.predict_files(wav=str(wav))
    assert sorted(answer.dimensions) == ["arousal", "dominance", "valence"]
    assert all(0 <= v <= 1 for v in answer.dimensions.values())
    assert answer.to_dict()["dimensions"] == answer.dimensions
    capsys.readouterr()
    assert predict.main(["--saved-model", str(run / "saved_model"), "--wav", str(wav)]) == 0
    assert f"  arousal  {answer.dimensions['arousal']:.3f}" in capsys.readouterr().out
    rows = tmp_path / "rows.csv"
    assert predict.main(["--saved-model", str(run / "saved_model"), "--recording", str(wav),
                         "--out", str(rows), "--plot", str(tmp_path / "timeline.png")]) == 0
    header = open(rows).readline().strip().split(",")
    assert header[-4:] == ["arousal", "valence", "dominance", "notes"]
    import matplotlib.image

    # a lane per dimension between the probabilities and the speakers' bars: 3.2 + 0.9 x 3
    # + 0.45 inches at 100 dpi
    assert matplotlib.image.imread(tmp_path / "timeline.png").shape[0] == 635


def test_what_cannot_train_dimensions_is_refused_in_one_line(prepared, assets, tmp_path,
                                                             capsys):
    from experiments import speech

    for extra, says in ((("--targets", "dimensions"), "--targets dimensions (arousal, valence "
                         "and dominance without a class head) is not built yet"),
                        (("--targets", "both", "--class-weight", "balanced"),
                         "--class-weight balanced weighs the class head alone"),
                        (("--monitor", "val_ccc"), "--monitor val_ccc needs the dimensions' "
                                                   "head")):
        with pytest.raises(SystemExit) as stopped:
            speech.main(run_args(prepared, assets, tmp_path / extra[-1], *extra))
        assert stopped.value.code == 2 and says in capsys.readouterr().err
