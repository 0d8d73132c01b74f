"""A small CREMA-D release in the producer's layout, for tests and the docs' examples.

Layout facts, from the repository's README (github.com/CheyneyComputerScience/CREMA-D):
`AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav` with four-digit actor ids from 1001,
the twelve sentence codes and six emotion codes of `mer_tf.data.crema_d`, levels LO, MD,
HI or XX; `VideoDemographics.csv` with the columns ActorID, Age, Sex, Race, Ethnicity.
Audio is 16 kHz mono 16-bit, as the release's WAVs are. Actor 1040's ITH/SAD file is
written under its old name `1040_ITH_SAD_X.wav` (the repository's issue #6) and actor
1076's MTI/SAD file is silent (its producers document 1076_MTI_SAD_XX as having no
audio) where those actors and sentences are among them. The audio is a tone whose pitch
and loudness follow the emotion, so a speech model has something to learn; the sentence
is the same for every emotion.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from mer_tf.data.audio import to_int16, write_wav
from mer_tf.data.crema_d import EMOTIONS, SENTENCES
from mer_tf.frames import SAMPLE_RATE
from mer_tf.io import storage

PITCH = {"ANG": 260.0, "DIS": 150.0, "FEA": 300.0, "HAP": 240.0, "NEU": 140.0, "SAD": 110.0}


def write_crema_d(root: str, actors=(1001, 1002, 1003, 1040), sentences=("IEO", "ITH"),
                  seed: int = 0) -> str:
    """Writes the release under `root`; returns `root`."""
    rng = np.random.default_rng(seed)
    audio = storage.join(root, "AudioWAV")
    storage.makedirs(audio)
    for actor in actors:
        for sentence in sentences:
            assert sentence in SENTENCES
            for emotion in EMOTIONS:
                level = "XX" if emotion == "NEU" or (actor, sentence, emotion) == (
                    1076, "MTI", "SAD") else "HI"
                name = f"{actor}_{sentence}_{emotion}_{level}.wav"
                if name == "1040_ITH_SAD_HI.wav":
                    name = "1040_ITH_SAD_X.wav"
                seconds = rng.uniform(1.2, 2.0)
                t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
                loud = 0.3 if emotion in ("ANG", "HAP", "FEA") else 0.1
                tone = loud * np.sin(2 * np.pi * PITCH[emotion] * (1 + 0.02 * (actor % 7)) * t)
                noise = 0.01 * rng.standard_normal(t.size)
                if name == "1076_MTI_SAD_XX.wav":  # the release's file with no audio
                    tone, noise = 0 * t, 0 * t
                write_wav(storage.join(audio, name), to_int16(tone + noise))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
    for actor in actors:
        writer.writerow([actor, 30 + actor % 20, "Female" if actor % 2 else "Male",
                         "Caucasian", "Not Hispanic"])
    storage.write_text_atomic(storage.join(root, "VideoDemographics.csv"), buffer.getvalue())
    return root
