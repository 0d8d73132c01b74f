"""A synthetic corpus in the exact IEMOCAP layout and file formats.

IEMOCAP is licensed and cannot be downloaded here, so the demo, the tests and
the benchmarks run on this stand-in. It is written as real files that the real
reader parses: EmoEvaluation blocks with evaluator lines, transcriptions with
unlabelled overlap ids, stereo dialog WAVs, 16 kHz mono sentence WAVs, MOCAP
files with two header lines, NaN gaps and 120 frames/s, five sessions, and the
`Ses05M_script01_1b` quirk. Deterministic from a seed.

Improvised dialogs (`improNN`) are fresh words each time; scripted ones (`scriptNN_K`)
perform the same play in every session, as IEMOCAP's do: the same lines, each with its
own emotion and words (`script_lines`), so a text model that memorises lines is
rewarded under leave-one-session-out unless the protocol drops the overlap.

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
import io
import json
import zlib

import numpy as np

from mer_tf.data import audio as audio_io
from mer_tf.data.iemocap import MOCAP_FILE_QUIRKS, MOCAP_STREAMS
from mer_tf.data.iemocap_files import dialog_kind
from mer_tf.data.mocap_files import MOCAP_FPS
from mer_tf.frames import SAMPLE_RATE
from mer_tf.io import storage
from mer_tf.synthetic.design import (
    CUE_CLASSES,
    CUE_OF_CODE,
    CUE_WORDS,
    EVALUATOR_NAMES,
    FEMALE_PITCH,
    FILLER_WORDS,
    GENERATOR_VERSION,
    MOTION_CUES,
    SPEECH_CUES,
    STREAM_LINE_2,
    STREAM_NAMES,
    STREAM_WIDTHS,
    VAD_OF_CUE,
    VAD_SPREAD,
    SyntheticConfig,
    SyntheticUtterance,
    _draw_code,
    actor_baseline,
    draw_cues,
)


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
        session_dir = storage.join(root, f"Session{session}")
        for dialog_id in dialog_ids(session, config.dialogs_per_session):
            rng = np.random.default_rng(dialog_seeds[k])
            truth.extend(_write_dialog(session_dir, session, dialog_id, per_dialog[k], config, rng))
            k += 1
    storage.write_json_atomic(storage.join(root, "SYNTHETIC.json"), {
        "generator": "mer_tf.synthetic.release",
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


def script_lines(seed: int, script: str, count: int, config) -> list[tuple]:
    """The first `count` lines of a play: (speaker gender, emotion code, text cue, text)
    each, the same in every session that performs it (drawn from the seed and the
    script's name alone), as IEMOCAP's three plays are: each line has its own emotion,
    and its words show its emotion's cue, or another's with `cue_confusion`, once for
    all performances."""
    rng = np.random.default_rng([seed, zlib.crc32(script.encode()), 11])
    lines = []
    first = str(rng.choice(["F", "M"]))
    for i in range(count):
        # a dialogue: the two roles mostly take turns, now and then one speaks twice
        gender = first if i == 0 else (lines[-1][0] if rng.random() < 0.2 else
                                       {"F": "M", "M": "F"}[lines[-1][0]])
        code = _draw_code(rng, config)
        cue = CUE_OF_CODE.get(code)
        text_cue = draw_cues(cue, gender, gender, config.cue_confusion, rng)[1]
        lines.append((gender, code, text_cue, _sentence(text_cue, None, rng)))
    return lines


def _write_dialog(session_dir, session, dialog_id, count, config, rng) -> list[SyntheticUtterance]:
    wearer = dialog_id[5]
    counters = {"F": 0, "M": 0}
    utterances = []
    time = float(rng.uniform(0.5, 1.5))
    kind, script = dialog_kind(dialog_id)
    lines = script_lines(config.seed, script, count, config) if kind == "script" else None
    for i in range(count):
        if lines:  # a performance of the play: its lines, speakers and emotions
            gender, code, text_cue, text = lines[i]
        else:  # improvised: the actor's own words
            gender = str(rng.choice(["F", "M"]))
            code = _draw_code(rng, config)
        uid = f"{dialog_id}_{gender}{counters[gender]:03d}"
        counters[gender] += 1
        seconds = float(config.mean_seconds * rng.uniform(0.5, 1.5))
        start, end = round(time, 4), round(time + seconds, 4)
        true_cue = CUE_OF_CODE.get(code)
        speech_cue, drawn_text_cue, mocap_cue = draw_cues(true_cue, gender, wearer,
                                                           config.cue_confusion, rng)
        if not lines:
            text_cue = drawn_text_cue
            text = _sentence(text_cue, actor_baseline(config.seed, session, gender), rng)
        utterances.append(SyntheticUtterance(
            uid, session, dialog_id, code, start, end, text, gender, wearer,
            (speech_cue, text_cue, mocap_cue)))
        time = end + float(rng.uniform(0.2, 0.8))
    duration = time + 0.5
    _write_evaluation(session_dir, dialog_id, utterances, rng)
    _write_transcriptions(session_dir, dialog_id, utterances, rng)
    _write_audio(session_dir, dialog_id, utterances, duration, config.seed, rng)
    _write_mocap(session_dir, session, dialog_id, utterances, duration,
                 actor_baseline(config.seed, session, wearer), rng)
    return utterances


def _sentence(cue: str, actor: dict | None, rng) -> str:
    words = list(rng.choice(FILLER_WORDS, size=int(rng.integers(4, 10))))
    if actor and rng.random() < 0.6:  # the actor's favourite word, whatever the emotion
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(actor["words"])))
    for word in rng.choice(CUE_WORDS[cue], size=int(rng.integers(1, 3)), replace=False):
        words.insert(int(rng.integers(0, len(words) + 1)), str(word))
    text = " ".join(words)
    return text[0].upper() + text[1:] + str(rng.choice([".", "!", "?", "."]))


def _write_evaluation(session_dir, dialog_id, utterances, rng):
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for u in utterances:
        cue = CUE_OF_CODE.get(u.emotion) or str(rng.choice(CUE_CLASSES))
        vad = np.clip(np.array(VAD_OF_CUE[cue]) + rng.normal(0, VAD_SPREAD, 3), 1, 5)
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
    path = storage.join(session_dir, "dialog", "EmoEvaluation", f"{dialog_id}.txt")
    storage.makedirs(storage.join(session_dir, "dialog", "EmoEvaluation"))
    storage.write_text_atomic(path, "\n".join(lines) + "\n")


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
            noise = rng.choice(["sorry", "[LAUGHTER]", "[BREATHING]"])
            lines.append(f"{rng.choice(['M', 'F'])}: {noise}")
    folder = storage.join(session_dir, "dialog", "transcriptions")
    storage.makedirs(folder)
    storage.write_text_atomic(storage.join(folder, f"{dialog_id}.txt"), "\n".join(lines) + "\n")


def _speech(cue: str, gender: str, actor: dict, seconds: float, rng) -> np.ndarray:
    """A voiced tone with harmonics, pitch/energy/tempo from the cue on top of the
    actor's baseline, as float32."""
    f0, amplitude, syllables = SPEECH_CUES[cue]
    f0 *= (FEMALE_PITCH if gender == "F" else 1.0) * actor["pitch"] * rng.uniform(0.92, 1.08)
    amplitude *= actor["loudness"] * rng.uniform(0.8, 1.25)
    syllables *= actor["tempo"] * rng.uniform(0.9, 1.1)
    n = int(round(seconds * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6.28)))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 5))
    envelope = np.clip(np.sin(np.pi * syllables * t + rng.uniform(0, 3.14)), 0, None) ** 0.5
    signal = amplitude * envelope * voice / 2.0 + rng.normal(0, 0.004, n)
    return signal.astype(np.float32)


def _write_audio(session_dir, dialog_id, utterances, duration, seed, rng):
    rate = SAMPLE_RATE
    dialog_audio = rng.normal(0, 0.002, (int(duration * rate) + 1, 2)).astype(np.float32)
    sentence_dir = storage.join(session_dir, "sentences", "wav", dialog_id)
    storage.makedirs(sentence_dir)
    for u in utterances:
        actor = actor_baseline(seed, u.session, u.speaker_gender)
        speech = _speech(u.cues[0], u.speaker_gender, actor, u.end - u.start, rng)
        audio_io.write_wav(storage.join(sentence_dir, f"{u.utterance_id}.wav"),
                           audio_io.to_int16(speech))
        lo = int(round(u.start * rate))
        own, other = (0, 1) if u.speaker_gender == "F" else (1, 0)
        dialog_audio[lo:lo + speech.size, own] += speech
        dialog_audio[lo:lo + speech.size, other] += 0.25 * speech  # crosstalk
    wav_dir = storage.join(session_dir, "dialog", "wav")
    storage.makedirs(wav_dir)
    audio_io.write_wav(storage.join(wav_dir, f"{dialog_id}.wav"), audio_io.to_int16(dialog_audio))


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
        buffer = io.StringIO()
        buffer.write(header)
        np.savetxt(buffer, table, fmt=["%d", "%.4f"] + ["%.3f"] * dim)
        folder = storage.join(session_dir, "dialog", f"MOCAP_{stream}")
        storage.makedirs(folder)
        text = buffer.getvalue().replace("nan", "NaN")  # IEMOCAP spells it NaN
        storage.write_text_atomic(storage.join(folder, f"{file_name}.txt"), text)


def ensure_release(root: str, config: SyntheticConfig) -> str:
    """Generates the synthetic release under `root` unless the same one is there."""
    marker = storage.join(root, "SYNTHETIC.json")
    if storage.exists(marker):
        found = storage.read_json(marker)
        if (found.get("config") == json.loads(json.dumps(dataclasses.asdict(config)))
                and found.get("generator_version") == GENERATOR_VERSION):
            return root
    storage.rmtree(root)
    generate(root, config)
    return root
