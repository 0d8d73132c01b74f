"""A synthetic corpus in the exact IEMOCAP layout and file formats.

IEMOCAP is licensed and cannot be downloaded here, so the demo, the tests and
the benchmarks run on this stand-in. It is written as real files that the real
reader parses: EmoEvaluation blocks with evaluator lines, transcriptions with
unlabelled overlap ids, stereo dialog WAVs, 16 kHz mono sentence WAVs, MOCAP
files with two header lines, NaN gaps and 120 frames/s, five sessions, and the
`Ses05M_script01_1b` quirk. Deterministic from a seed.

Each modality carries the emotion only in part:

- speech through prosody-like cues: pitch, energy and tempo (syllable rate);
- text through word choice (a few cue words among fillers);
- motion capture through movement energy and rhythm.

For a fraction (`cue_confusion`) of utterances each modality independently
shows another class's cue, and when the markers are on the listener the motion
cue is right only half the time. So no modality alone can be perfect, while a
majority across modalities usually is right: the corpus is a controlled test of
the paper's claim that fusion helps, not a lookup table.
"""

from __future__ import annotations

import dataclasses
import io as pyio
import zlib

import numpy as np

from mer_tf import io
from mer_tf.data import audio as audio_io
from mer_tf.data.iemocap import MOCAP_FILE_QUIRKS, MOCAP_STREAMS
from mer_tf.data.mocap import MOCAP_FPS

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
GENERATOR_VERSION = 3


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """Size and difficulty of a synthetic release."""

    seed: int = 0
    utterances: int = 320  # labelled utterances over all sessions
    dialogs_per_session: int = 4
    mean_seconds: float = 2.0  # utterance length, uniform in [0.5, 1.5] x mean
    cue_confusion: float = 0.3  # per modality, chance of showing another class's cue
    out_of_set_fraction: float = 0.12  # fru/sur/xxx/oth: outside the 4-class sets
    hap_fraction: float = 0.08  # in merged4 only
    sessions: int = 5

    def __post_init__(self):
        if self.utterances < self.sessions * self.dialogs_per_session:
            raise ValueError("need at least one utterance per dialog: "
                             f"{self.utterances} < {self.sessions} x {self.dialogs_per_session}")
        if not 0 <= self.cue_confusion < 1:
            raise ValueError(f"cue_confusion must be in [0, 1), got {self.cue_confusion}")


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


def dialog_ids(session: int, count: int) -> list[str]:
    """IEMOCAP-style dialog ids; session 5 carries the `script01_1b` quirk."""
    ids = []
    for k in range(count):
        wearer = "F" if k % 2 == 0 else "M"
        number = k // 4 + 1
        kind = f"impro{number:02d}" if (k // 2) % 2 == 0 else f"script01_{number}"
        ids.append(f"Ses{session:02d}{wearer}_{kind}")
    if session == 5:
        quirk = next(iter(MOCAP_FILE_QUIRKS))
        plain = MOCAP_FILE_QUIRKS[quirk]
        ids = [quirk if d == plain else d for d in ids]
    return ids


def generate(root: str, config: SyntheticConfig = SyntheticConfig()) -> list[SyntheticUtterance]:
    """Writes the release under `root` and returns the ground truth, sorted by id."""
    seeds = np.random.SeedSequence(config.seed)
    per_dialog = _split_count(config.utterances, config.sessions * config.dialogs_per_session)
    truth = []
    dialog_seeds = seeds.spawn(config.sessions * config.dialogs_per_session)
    k = 0
    for session in range(1, config.sessions + 1):
        session_dir = io.join(root, f"Session{session}")
        for dialog_id in dialog_ids(session, config.dialogs_per_session):
            rng = np.random.default_rng(dialog_seeds[k])
            truth.extend(_write_dialog(session_dir, session, dialog_id, per_dialog[k], config, rng))
            k += 1
    io.write_json_atomic(io.join(root, "SYNTHETIC.json"), {
        "generator": "mer_tf.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "config": dataclasses.asdict(config),
        "utterances": [dataclasses.asdict(u) for u in truth],
    })
    return sorted(truth, key=lambda u: u.utterance_id)


def _split_count(total: int, parts: int) -> list[int]:
    base = [total // parts] * parts
    for i in range(total % parts):
        base[i] += 1
    return base


def _draw_code(rng, config) -> str:
    r = rng.random()
    if r < config.out_of_set_fraction:
        return str(rng.choice(OUT_OF_SET_CODES))
    if r < config.out_of_set_fraction + config.hap_fraction:
        return "hap"
    return str(rng.choice(CUE_CLASSES))


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


def _write_dialog(session_dir, session, dialog_id, count, config, rng) -> list[SyntheticUtterance]:
    wearer = dialog_id[5]
    counters = {"F": 0, "M": 0}
    utterances = []
    time = float(rng.uniform(0.5, 1.5))
    for _ in range(count):
        gender = str(rng.choice(["F", "M"]))
        uid = f"{dialog_id}_{gender}{counters[gender]:03d}"
        counters[gender] += 1
        seconds = float(config.mean_seconds * rng.uniform(0.5, 1.5))
        start, end = round(time, 4), round(time + seconds, 4)
        code = _draw_code(rng, config)
        true_cue = CUE_OF_CODE.get(code)
        speech_cue, text_cue, mocap_cue = draw_cues(true_cue, gender, wearer,
                                                     config.cue_confusion, rng)
        utterances.append(SyntheticUtterance(
            uid, session, dialog_id, code, start, end,
            _sentence(text_cue, actor_baseline(config.seed, session, gender), rng), gender,
            wearer, (speech_cue, text_cue, mocap_cue)))
        time = end + float(rng.uniform(0.2, 0.8))
    duration = time + 0.5
    _write_evaluation(session_dir, dialog_id, utterances, rng)
    _write_transcriptions(session_dir, dialog_id, utterances, rng)
    _write_audio(session_dir, dialog_id, utterances, duration, config.seed, rng)
    _write_mocap(session_dir, session, dialog_id, utterances, duration,
                 actor_baseline(config.seed, session, wearer), rng)
    return utterances


def _sentence(cue: str, actor: dict, rng) -> str:
    words = list(rng.choice(FILLER_WORDS, size=int(rng.integers(4, 10))))
    if rng.random() < 0.6:  # the actor's favourite word, whatever the emotion
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(actor["words"])))
    for word in rng.choice(CUE_WORDS[cue], size=int(rng.integers(1, 3)), replace=False):
        words.insert(int(rng.integers(0, len(words) + 1)), str(word))
    text = " ".join(words)
    return text[0].upper() + text[1:] + str(rng.choice([".", "!", "?", "."]))


def _write_evaluation(session_dir, dialog_id, utterances, rng):
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for u in utterances:
        cue = CUE_OF_CODE.get(u.emotion) or str(rng.choice(CUE_CLASSES))
        vad = np.clip(np.array(VAD_OF_CUE[cue]) + rng.normal(0, 0.3, 3), 1, 5)
        lines.append(f"[{u.start:.4f} - {u.end:.4f}]\t{u.utterance_id}\t{u.emotion}\t"
                     f"[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]")
        for evaluator in ("C-E1", "C-E2", "C-E4", f"C-{u.speaker_gender}1"):
            name = EVALUATOR_NAMES.get(u.emotion) if u.emotion != "xxx" else None
            name = name or EVALUATOR_NAMES[str(rng.choice(("neu", "fru", "ang", "sad")))]
            lines.append(f"{evaluator}:\t{name};\t()")
        for evaluator in ("A-E1", "A-E2"):
            v, a, d = np.clip(np.round(vad + rng.normal(0, 0.5, 3)), 1, 5).astype(int)
            lines.append(f"{evaluator}:\tval {v}; act {a}; dom  {d};\t()")
        lines.append("")
    path = io.join(session_dir, "dialog", "EmoEvaluation", f"{dialog_id}.txt")
    io.makedirs(io.join(session_dir, "dialog", "EmoEvaluation"))
    io.write_text_atomic(path, "\n".join(lines) + "\n")


def _write_transcriptions(session_dir, dialog_id, utterances, rng):
    lines = []
    overlaps = 0
    for u in utterances:
        lines.append(f"{u.utterance_id} [{u.start:08.4f}-{u.end:08.4f}]: {u.transcript}")
        if rng.random() < 0.12:  # an unattributed overlap: an id with no label
            other = "M" if u.speaker_gender == "F" else "F"
            t = u.end - 0.3
            lines.append(f"{dialog_id}_{other}XX{overlaps} [{t:08.4f}-{u.end + 0.2:08.4f}]: "
                         f"{rng.choice(['Mmhmm.', 'Yeah.', 'Right.'])}")
            overlaps += 1
        if rng.random() < 0.08:  # a line that names no utterance, as real files hold
            lines.append(f"{rng.choice(['M', 'F'])}: {rng.choice(['sorry', '[LAUGHTER]', '[BREATHING]'])}")
    folder = io.join(session_dir, "dialog", "transcriptions")
    io.makedirs(folder)
    io.write_text_atomic(io.join(folder, f"{dialog_id}.txt"), "\n".join(lines) + "\n")


def _speech(cue: str, gender: str, actor: dict, seconds: float, rng) -> np.ndarray:
    """A voiced tone with harmonics, pitch/energy/tempo from the cue on top of the
    actor's baseline, as float32."""
    f0, amplitude, syllables = SPEECH_CUES[cue]
    f0 *= (FEMALE_PITCH if gender == "F" else 1.0) * actor["pitch"] * rng.uniform(0.92, 1.08)
    amplitude *= actor["loudness"] * rng.uniform(0.8, 1.25)
    syllables *= actor["tempo"] * rng.uniform(0.9, 1.1)
    n = int(round(seconds * audio_io.SAMPLE_RATE))
    t = np.arange(n) / audio_io.SAMPLE_RATE
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6.28)))
    phase = 2 * np.pi * np.cumsum(pitch) / audio_io.SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 5))
    envelope = np.clip(np.sin(np.pi * syllables * t + rng.uniform(0, 3.14)), 0, None) ** 0.5
    signal = amplitude * envelope * voice / 2.0 + rng.normal(0, 0.004, n)
    return signal.astype(np.float32)


def _write_audio(session_dir, dialog_id, utterances, duration, seed, rng):
    rate = audio_io.SAMPLE_RATE
    dialog_audio = rng.normal(0, 0.002, (int(duration * rate) + 1, 2)).astype(np.float32)
    sentence_dir = io.join(session_dir, "sentences", "wav", dialog_id)
    io.makedirs(sentence_dir)
    for u in utterances:
        actor = actor_baseline(seed, u.session, u.speaker_gender)
        speech = _speech(u.cues[0], u.speaker_gender, actor, u.end - u.start, rng)
        audio_io.write_wav(io.join(sentence_dir, f"{u.utterance_id}.wav"), audio_io.to_int16(speech))
        lo = int(round(u.start * rate))
        own, other = (0, 1) if u.speaker_gender == "F" else (1, 0)
        dialog_audio[lo:lo + speech.size, own] += speech
        dialog_audio[lo:lo + speech.size, other] += 0.25 * speech  # crosstalk
    wav_dir = io.join(session_dir, "dialog", "wav")
    io.makedirs(wav_dir)
    audio_io.write_wav(io.join(wav_dir, f"{dialog_id}.wav"), audio_io.to_int16(dialog_audio))


def _write_mocap(session_dir, session, dialog_id, utterances, duration, wearer, rng):
    frames = int(duration * MOCAP_FPS)
    times = np.arange(frames) / MOCAP_FPS
    amplitude = np.full(frames, MOTION_CUES["neu"][0] * 0.5)
    frequency = np.full(frames, MOTION_CUES["neu"][1])
    for u in utterances:
        lo, hi = np.searchsorted(times, [u.start, u.end])
        amplitude[lo:hi], frequency[lo:hi] = MOTION_CUES[u.cues[2]]
        amplitude[lo:hi] *= wearer["movement"] * rng.uniform(0.8, 1.25)
    phase = 2 * np.pi * np.cumsum(frequency) / MOCAP_FPS
    file_name = MOCAP_FILE_QUIRKS.get(dialog_id, dialog_id)
    for stream in MOCAP_STREAMS:
        dim = STREAM_WIDTHS[stream]
        markers = max(dim // 3, 1)  # NaN gaps take out a marker's x, y, z together
        # One skeleton for everybody, shifted a little per actor (the marker wearer).
        skeleton = np.random.default_rng(zlib.crc32(stream.encode())).uniform(-100, 100, dim)
        actor = np.random.default_rng([session, ord(dialog_id[5])]).normal(0, 3, dim)
        base = skeleton + actor
        offsets = rng.uniform(0, 2 * np.pi, dim)
        motion = np.sin(phase[:, None] + offsets[None, :]) * amplitude[:, None]
        values = base + motion + rng.normal(0, 0.3, (frames, dim))
        for _ in range(max(1, frames // 1200)):  # marker dropouts: NaN gaps
            start = int(rng.integers(0, frames))
            length = int(rng.integers(12, 120))
            marker = int(rng.integers(0, markers))
            values[start:start + length, 3 * marker:3 * marker + 3] = np.nan
        header = f"Frame# Time {' '.join(STREAM_NAMES[stream])}\n{STREAM_LINE_2[stream]}\n"
        table = np.column_stack([np.arange(1, frames + 1), times, values])
        buffer = pyio.StringIO()
        buffer.write(header)
        np.savetxt(buffer, table, fmt=["%d", "%.4f"] + ["%.3f"] * dim)
        folder = io.join(session_dir, "dialog", f"MOCAP_{stream}")
        io.makedirs(folder)
        text = buffer.getvalue().replace("nan", "NaN")  # IEMOCAP spells it NaN
        io.write_text_atomic(io.join(folder, f"{file_name}.txt"), text)
