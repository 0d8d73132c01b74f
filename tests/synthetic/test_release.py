"""The synthetic corpus: what the best possible model can reach on it, and its actors."""

from collections import Counter

import numpy as np
import pytest

from mer_tf.data.iemocap_files import dialog_kind
from mer_tf.synthetic.design import (
    CUE_CLASSES,
    SyntheticConfig,
    accuracy_ceilings,
    actor_baseline,
    draw_cues,
)

MODALITIES = ("speech", "text", "mocap")


def test_accuracy_ceilings_match_a_monte_carlo_run_of_the_generator():
    """Σ_s max_c P(c, s), estimated from the generator's own cue draws."""
    config = SyntheticConfig(cue_confusion=0.25)
    rng = np.random.default_rng(0)
    n = 40000
    draws = Counter()
    for _ in range(n):
        true = CUE_CLASSES[int(rng.integers(4))]
        speaker = "F" if rng.random() < 0.5 else "M"
        draws[(true, draw_cues(true, speaker, "F", config.cue_confusion, rng))] += 1
    ceilings = accuracy_ceilings(config)
    for subset, ceiling in ceilings.items():
        columns = [MODALITIES.index(m) for m in subset]
        joint = Counter()
        for (true, cues), count in draws.items():
            joint[(tuple(cues[i] for i in columns), true)] += count
        shown = {s for s, _ in joint}
        estimate = sum(max(joint[(s, c)] for c in CUE_CLASSES) for s in shown) / n
        assert estimate == pytest.approx(ceiling, abs=0.012), subset
    assert ceilings[("speech",)] == ceilings[("text",)] == ceilings[("speech", "text")] == 0.75
    assert ceilings[("mocap",)] == pytest.approx(0.625)
    assert ceilings[MODALITIES] == pytest.approx(0.84375)


@pytest.mark.slow
def test_each_actor_has_a_voice_and_words_of_their_own(release):
    _, truth = release
    actors = {(u.session, u.speaker_gender) for u in truth}
    baselines = {a: actor_baseline(7, *a) for a in actors}  # the test corpus has seed 7
    assert len({round(b["pitch"], 4) for b in baselines.values()}) == len(actors)
    assert actor_baseline(7, 1, "F") == baselines[(1, "F")]  # deterministic
    own_hits = own_total = other_hits = other_total = 0
    for actor, baseline in baselines.items():
        for u in (u for u in truth if "impro" in u.dialog):  # scripted lines are the play's
            hit = any(w in u.transcript.lower().rstrip(".!?").split() for w in baseline["words"])
            if (u.session, u.speaker_gender) == actor:
                own_hits, own_total = own_hits + hit, own_total + 1
            else:
                other_hits, other_total = other_hits + hit, other_total + 1
    # ~60 % of an actor's sentences carry a favourite word; others' only by coincidence
    assert own_hits / own_total > 0.45 > 0.25 > other_hits / other_total


@pytest.mark.slow
def test_scripted_dialogs_perform_the_same_play_in_every_session(release):
    """As in IEMOCAP: the same lines, each with its own emotion, wherever the play is
    performed; improvised dialogs are words of their own."""
    _, truth = release
    plays = {}
    for u in truth:
        if "_script" in u.dialog:
            play = dialog_kind(u.dialog)[1]  # Ses05M_script01_1b is a take of script01_1
            performance = plays.setdefault(play, {}).setdefault(u.dialog, [])
            performance.append((u.start, u.transcript, u.emotion))
    assert plays
    for performances in plays.values():
        lines = [[(text, code) for _, text, code in sorted(p)] for p in performances.values()]
        sessions = {d[3:5] for d in performances}
        assert len(sessions) == 5  # every session performs it
        shortest = min(len(p) for p in lines)
        assert shortest >= 2 and all(p[:shortest] == lines[0][:shortest] for p in lines)
    improvised = [u.transcript for u in truth if "_impro" in u.dialog]
    assert len(set(improvised)) > 0.95 * len(improvised)
