"""Small MSP-Podcast releases in the producer's layout, for tests, the cross-corpus demo
and the preparation benchmark.

Layout facts (the release's README and the challenge baselines that read it; see
`mer_tf.data.msp_podcast`): `Audios/MSP-PODCAST_<podcast>_<segment>.wav` (16 kHz mono
16-bit), `Transcripts/<same name>.txt`, and `Labels/labels_consensus.csv` with the
columns FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set; EmoClass
one letter, the three dimensions annotator means on 1-7, SpkrID a number or `Unknown`,
Split_Set Train, Development, Test1 or Test2. `concensus=True` writes the label file
under the older releases' spelling.

`write_msp_podcast` makes a corpus a model can learn from: the utterances of a synthetic
IEMOCAP-layout release of its own seed (other speakers, other lines), each a segment of
the podcast its dialog becomes, heard in another recording condition (a duller
microphone and a noise floor 30 dB down), its split drawn by speaker. `write_clips`
makes many short segments fast, for the benchmark.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np

from mer_tf.data.audio import read_wav, to_int16, write_wav
from mer_tf.frames import PCM16_SCALE, SAMPLE_RATE
from mer_tf.io import storage
from mer_tf.synthetic.design import CUE_OF_CODE, VAD_OF_CUE, SyntheticConfig

COLUMNS = ["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender",
           "Split_Set"]
LETTER_OF_CODE = {"ang": "A", "exc": "H", "hap": "H", "neu": "N", "sad": "S", "sur": "U",
                  "fea": "F", "dis": "D", "fru": "O", "oth": "O", "xxx": "X"}
SPLIT_OF_SESSION = {1: "Train", 2: "Train", 3: "Train", 4: "Development"}  # 5: Test1/Test2


def write_msp_podcast(root: str, config: SyntheticConfig, concensus: bool = False,
                      unknown_every: int = 7) -> tuple[str, list]:
    """(root, the ground truth) of a learnable MSP-Podcast-layout corpus; one speaker in
    `unknown_every` is written as `Unknown`, as the release leaves unidentified voices."""
    from mer_tf.synthetic.release import ensure_release

    # the source release beside the corpus, not in it: the corpus is the producer's layout
    source = root.rstrip("/") + "-iemocap-layout"
    marker = storage.join(source, "SYNTHETIC.json")
    labels = storage.join(root, "Labels", "labels_concensus.csv" if concensus
                          else "labels_consensus.csv")
    written = storage.exists(labels) and storage.exists(marker) and storage.read_json(
        marker).get("config") == json.loads(json.dumps(dataclasses.asdict(config)))
    release = ensure_release(source, config)
    truth = storage.read_json(storage.join(release, "SYNTHETIC.json"))["utterances"]
    if written:  # the same corpus is there: untouched, so its prepared shards stay
        return root, truth
    rng = np.random.default_rng([config.seed, 7])
    rows, speakers, podcasts, segments = [], {}, {}, {}
    for folder in ("Audios", "Transcripts"):
        storage.makedirs(storage.join(root, folder))
    for u in sorted(truth, key=lambda u: u["utterance_id"]):
        podcast = podcasts.setdefault(u["dialog"], len(podcasts) + 1)
        segment = segments[podcast] = segments.get(podcast, 0) + 1
        name = f"MSP-PODCAST_{podcast:04d}_{segment:04d}"
        speaker = f"Ses{u['session']:02d}{u['speaker_gender']}"
        number = speakers.setdefault(speaker, 100 + 37 * len(speakers))
        spkr = "Unknown" if number % unknown_every == 0 else str(number)
        source = storage.join(release, f"Session{u['session']}", "sentences", "wav",
                              u["dialog"], f"{u['utterance_id']}.wav")
        samples, _ = read_wav(source)
        write_wav(storage.join(root, "Audios", f"{name}.wav"), _another_room(samples, rng))
        storage.write_text_atomic(storage.join(root, "Transcripts", f"{name}.txt"),
                                  u["transcript"] + "\n")
        cue = CUE_OF_CODE.get(u["emotion"], "neu")
        valence, arousal, dominance = (1 + (np.clip(np.array(VAD_OF_CUE[cue])
                                                    + rng.normal(0, 0.3, 3), 1, 5) - 1) * 1.5)
        rows.append([f"{name}.wav", LETTER_OF_CODE[u["emotion"]], f"{arousal:.4f}",
                     f"{valence:.4f}", f"{dominance:.4f}", spkr,
                     {"F": "Female", "M": "Male"}[u["speaker_gender"]],
                     SPLIT_OF_SESSION.get(u["session"], f"Test{1 + podcast % 2}")])
    _write_labels(root, rows, concensus)
    return root, truth


def write_clips(root: str, count: int, seconds: float = 0.25, seed: int = 0) -> str:
    """`count` short segments (a tone per class) in 50-segment podcasts, for measuring
    preparation at scale; returns `root`."""
    rng = np.random.default_rng(seed)
    letters = ("A", "H", "N", "S")
    pitches = {"A": 250.0, "H": 200.0, "N": 140.0, "S": 105.0}
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    storage.makedirs(storage.join(root, "Audios"))
    storage.makedirs(storage.join(root, "Transcripts"))
    rows = []
    for i in range(count):
        podcast, segment = 1 + i // 50, 1 + i % 50
        name = f"MSP-PODCAST_{podcast:04d}_{segment:04d}"
        letter = letters[int(rng.integers(4))]
        tone = 0.2 * np.sin(2 * np.pi * pitches[letter] * t) + rng.normal(0, 0.01, t.size)
        with open(storage.join(root, "Audios", f"{name}.wav"), "wb") as handle:
            import soundfile

            soundfile.write(handle, to_int16(tone), SAMPLE_RATE, subtype="PCM_16",
                            format="WAV")
        with open(storage.join(root, "Transcripts", f"{name}.txt"), "w") as handle:
            handle.write(f"segment {i} of podcast {podcast}\n")
        speaker = 1 + (podcast * 2 + segment % 2)
        rows.append([f"{name}.wav", letter, "4.0", "4.0", "4.0", str(speaker),
                     "Female" if speaker % 2 else "Male",
                     ("Train", "Train", "Train", "Development", "Test1")[podcast % 5]])
    _write_labels(root, rows, concensus=False)
    return root


def _another_room(samples: np.ndarray, rng) -> np.ndarray:
    """A duller microphone (one-pole low-pass at ~2 kHz) and a noise floor 30 dB below the
    speech."""
    x = samples.astype(np.float32) / PCM16_SCALE
    alpha = 1 - np.exp(-2 * np.pi * 2000 / SAMPLE_RATE)
    from scipy.signal import lfilter

    dull = lfilter([alpha], [1, alpha - 1], x)
    level = np.sqrt(np.mean(dull ** 2)) + 1e-6
    return to_int16(dull + rng.normal(0, level * 10 ** (-30 / 20), dull.size))


def _write_labels(root: str, rows: list, concensus: bool) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    name = "labels_concensus.csv" if concensus else "labels_consensus.csv"
    storage.makedirs(storage.join(root, "Labels"))
    storage.write_text_atomic(storage.join(root, "Labels", name), buffer.getvalue())
