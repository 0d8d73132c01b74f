"""The synthetic corpus's design: which cues each class shows, how often a modality
shows the wrong one, each actor's own manner, and what the best model can reach.

`mer_tf.synthetic.release` writes releases from this design.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mer_tf.config.settings import setting

CUE_CLASSES = ("ang", "exc", "neu", "sad")
CUE_OF_CODE = {"ang": "ang", "exc": "exc", "hap": "exc", "neu": "neu", "sad": "sad"}
OUT_OF_SET_CODES = ("fru", "sur", "xxx", "oth")
EVALUATOR_NAMES = {
    "ang": "Anger", "exc": "Excited", "hap": "Happiness", "neu": "Neutral", "sad": "Sadness",
    "fru": "Frustration", "sur": "Surprise", "fea": "Fear", "dis": "Disgust", "oth": "Other",
}

# Prosody per cue class: fundamental frequency (Hz, male voice), amplitude, syllables/s.
SPEECH_CUES = {"ang": (250.0, 0.30, 6.0), "exc": (200.0, 0.20, 5.0),
               "neu": (140.0, 0.10, 3.5), "sad": (105.0, 0.05, 2.5)}
FEMALE_PITCH = 1.2
# Movement per cue class: amplitude (mm) and frequency (Hz).
MOTION_CUES = {"ang": (12.0, 3.0), "exc": (8.0, 2.0), "neu": (4.0, 1.0), "sad": (2.0, 0.5)}
VAD_OF_CUE = {"ang": (1.8, 4.0, 4.0), "exc": (4.2, 3.8, 3.2), "neu": (3.0, 2.5, 2.6),
              "sad": (1.8, 1.9, 2.0)}
VAD_SPREAD = 0.3  # each utterance's [V, A, D] (1-5): its class's, plus N(0, this) each
CUE_WORDS = {
    "ang": ("furious", "hate", "unacceptable", "angry", "ridiculous", "shut", "damn", "stupid"),
    "exc": ("amazing", "wonderful", "great", "love", "fantastic", "excited", "yay", "awesome"),
    "neu": ("okay", "fine", "maybe", "sure", "today", "meeting", "probably", "alright"),
    "sad": ("sorry", "miss", "lonely", "cry", "lost", "tired", "hurts", "gone"),
}
FAVOURITE_WORDS = ("basically", "honestly", "literally", "anyway", "actually", "seriously",
                   "totally", "kinda", "listen", "whatever", "like", "look")
LISTENER_NOISE = 0.5  # markers on the listener: chance the motion shows a random class
FILLER_WORDS = ("i", "you", "the", "it", "was", "that", "we", "is", "so", "well", "just", "know",
                "think", "really", "what", "there", "about", "and", "to", "a", "do", "have", "my",
                "this", "not", "with", "all", "can", "yeah", "oh")
# Header line 1 names per stream, as the real files do: the head stream names its
# pose columns (one name per value), hand and rotated name markers of x, y, z each.
HEAD_POSE_COLUMNS = ("pitch", "roll", "yaw", "tra_x", "tra_y", "tra_z")
STREAM_NAMES = {"head": HEAD_POSE_COLUMNS,
                "hand": ("LWR", "LTH", "LFI", "RWR", "RTH", "RFI"),
                "rotated": tuple(f"M{m + 1:02d}" for m in range(55))}
STREAM_WIDTHS = {"head": 6, "hand": 18, "rotated": 165}  # 189 values, the paper's count
# Line 2 varies among the real files and nobody documents it: what each stream gets.
STREAM_LINE_2 = {"head": "", "hand": " ".join(["mm"] * 18),
                 "rotated": " ".join(f"{a}{m + 1:02d}" for m in range(55) for a in "XYZ")}
# Bumped whenever the generator's output changes, so cached demo corpora are rebuilt.
GENERATOR_VERSION = 4  # 4: scripted dialogs perform the same play in every session


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """Size and difficulty of a synthetic release."""

    seed: int = setting(0, "the generator's seed", flag="--seed")
    utterances: int = setting(320, "labelled utterances over five sessions (IEMOCAP has "
                              "~10 000)", flag="--utterances")
    dialogs_per_session: int = setting(4, "dialogs in each session",
                                       flag="--dialogs-per-session")
    mean_seconds: float = setting(2.0, "mean utterance length, uniform in [0.5, 1.5] x mean "
                                  "(IEMOCAP: ~4.5)", flag="--mean-seconds")
    cue_confusion: float = setting(0.3, "chance that a modality shows another class's cue",
                                   flag="--cue-confusion")
    out_of_set_fraction: float = 0.12  # fru/sur/xxx/oth: outside the 4-class sets
    hap_fraction: float = 0.08  # in merged4 only
    sessions: int = 5
    # chance of each of ang, exc, neu, sad among in-set codes; empty: equal (a
    # deliberately unbalanced corpus tests --class-weight)
    class_mix: tuple = ()

    def __post_init__(self):
        if self.utterances < self.sessions * self.dialogs_per_session:
            raise ValueError("need at least one utterance per dialog: "
                             f"{self.utterances} < {self.sessions} x {self.dialogs_per_session}")
        if not 0 <= self.cue_confusion < 1:
            raise ValueError(f"cue_confusion must be in [0, 1), got {self.cue_confusion}")
        if self.class_mix and (len(self.class_mix) != len(CUE_CLASSES)
                               or abs(sum(self.class_mix) - 1) > 1e-9):
            raise ValueError(f"class_mix needs {len(CUE_CLASSES)} chances that sum to 1")


@dataclasses.dataclass(frozen=True)
class SyntheticUtterance:
    """Ground truth of one generated utterance (what the reader must find)."""

    utterance_id: str
    session: int
    dialog: str
    emotion: str
    start: float
    end: float
    transcript: str
    speaker_gender: str
    mocap_wearer: str
    cues: tuple  # (speech, text, mocap) cue classes actually shown


def _draw_code(rng, config) -> str:
    r = rng.random()
    if r < config.out_of_set_fraction:
        return str(rng.choice(OUT_OF_SET_CODES))
    if r < config.out_of_set_fraction + config.hap_fraction:
        return "hap"
    return str(rng.choice(CUE_CLASSES, p=list(config.class_mix) or None))


def _shown_cue(true_cue: str | None, confusion: float, rng) -> str:
    """The class whose cue a modality shows: the true one, or another with p=confusion."""
    if true_cue is None:
        return str(rng.choice(CUE_CLASSES))
    if rng.random() < confusion:
        return str(rng.choice([c for c in CUE_CLASSES if c != true_cue]))
    return true_cue


def draw_cues(true_cue: str | None, speaker_gender: str, wearer: str, confusion: float,
              rng) -> tuple[str, str, str]:
    """The classes whose cues speech, text and motion capture show for one utterance:
    each the true class, or another with probability `confusion`, independently; when
    the markers are on the listener, the motion cue is a random class half the time."""
    speech_cue = _shown_cue(true_cue, confusion, rng)
    text_cue = _shown_cue(true_cue, confusion, rng)
    if speaker_gender != wearer and rng.random() < LISTENER_NOISE:
        mocap_cue = str(rng.choice(CUE_CLASSES))  # the listener's movement
    else:
        mocap_cue = _shown_cue(true_cue, confusion, rng)
    return speech_cue, text_cue, mocap_cue


def modality_accuracies(config: SyntheticConfig) -> dict:
    """Chance that each modality shows the true class's cue. Every modality is a
    symmetric channel: a wrong cue is any of the other three classes alike."""
    shown = 1.0 - config.cue_confusion
    listener = 0.5  # speakers are drawn F or M alike; the dialog fixes who wears markers
    listener_shown = (1 - LISTENER_NOISE) * shown + LISTENER_NOISE / len(CUE_CLASSES)
    return {"speech": shown, "text": shown,
            "mocap": (1 - listener) * shown + listener * listener_shown}


def accuracy_ceilings(config: SyntheticConfig) -> dict:
    """The best accuracy any model can reach on a corpus from `config`, per modality subset.

    A model that reads every shown cue perfectly and combines them by Bayes' rule (the
    four classes are equally likely) is right with probability Σ_s max_c P(c, s) over
    the shown cues s. Classes are symmetric, so this is also the best UA. (A model that
    also knew whether the markers were on the listener would reach the same figures
    here.) Keys are subsets in canonical order, e.g. ("speech", "text").
    """
    import itertools
    import math

    accuracy = modality_accuracies(config)
    k = len(CUE_CLASSES)
    ceilings = {}
    for size in (1, 2, 3):
        for subset in itertools.combinations(("speech", "text", "mocap"), size):
            total = 0.0
            for shown in itertools.product(range(k), repeat=size):
                total += max(math.prod(accuracy[m] if s == c else (1 - accuracy[m]) / (k - 1)
                                       for m, s in zip(subset, shown)) / k for c in range(k))
            ceilings[subset] = total
    return ceilings


def dimension_ceilings(config: SyntheticConfig) -> dict:
    """The best CCC any model can reach for arousal, valence and dominance on a corpus
    from `config`, per modality subset (keys as `accuracy_ceilings`').

    An utterance's rating is its class's `VAD_OF_CUE` plus N(0, `VAD_SPREAD`) (clipping
    at 1 and 5 is rare and ignored), and the cues say nothing of the spread: the best a
    model can do is a function of the shown cues. Among those, the conditional mean
    m(s) = Σ_c P(c | s) μ_c correlates best with the rating, and an affine map of it with
    the rating's mean and variance turns that correlation into a CCC equal to it, which
    no predictor beats: sqrt(var m / var rating).
    """
    import itertools
    import math

    accuracy = modality_accuracies(config)
    k = len(CUE_CLASSES)
    prior = list(config.class_mix) or [1 / k] * k
    means = np.array([VAD_OF_CUE[c] for c in CUE_CLASSES])  # [class, (V, A, D)]
    overall = np.einsum("c,cd->d", prior, means)
    rating_var = np.einsum("c,cd->d", prior, (means - overall) ** 2) + VAD_SPREAD ** 2
    ceilings = {}
    for size in (1, 2, 3):
        for subset in itertools.combinations(("speech", "text", "mocap"), size):
            explained = np.zeros(3)
            for shown in itertools.product(range(k), repeat=size):
                joint = np.array([prior[c] * math.prod(
                    accuracy[m] if s == c else (1 - accuracy[m]) / (k - 1)
                    for m, s in zip(subset, shown)) for c in range(k)])
                total = joint.sum()
                mean = joint @ means / total
                explained += total * (mean - overall) ** 2
            ccc = np.sqrt(explained / rating_var)
            ceilings[subset] = {"arousal": float(ccc[1]), "valence": float(ccc[0]),
                                "dominance": float(ccc[2])}
    return ceilings


def actor_baseline(seed: int, session: int, gender: str) -> dict:
    """An actor's own voice and manner, which every emotion cue sits on top of.

    Pitch x0.85-1.18, tempo x0.85-1.15, loudness and movement energy x0.75-1.3, and
    two favourite words: smaller than the emotion effects (pitch 105-250 Hz and tempo
    2.5-6 syllables/s from sad to angry, loudness and movement x6), but a model that
    learns an actor instead of an emotion is caught by a held-out speaker.
    """
    rng = np.random.default_rng([seed, session, ord(gender), 7])
    return {"pitch": float(rng.uniform(0.85, 1.18)), "tempo": float(rng.uniform(0.85, 1.15)),
            "loudness": float(rng.uniform(0.75, 1.3)), "movement": float(rng.uniform(0.75, 1.3)),
            "words": tuple(str(w) for w in rng.choice(FAVOURITE_WORDS, size=2, replace=False))}
