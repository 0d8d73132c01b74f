"""A small RAVDESS speech archive in the producer's layout, for tests.

Layout facts, from the RAVDESS README (zenodo.org/record/1188976; Livingstone & Russo
2018): `Audio_Speech_Actors_01-24/Actor_<NN>/` holding
`<modality>-<vocal channel>-<emotion>-<intensity>-<statement>-<repetition>-<actor>.wav`
with the codes of `mer_tf.data.ravdess`, audio-only files coded 03, 48 kHz 16-bit WAVs.
One song file (vocal channel 02, from the song archive) is put beside the speech, as a
merged download holds it, to test that songs are not read. The audio is a tone whose
pitch follows the emotion.
"""

from __future__ import annotations

import numpy as np

from mer_tf.data.audio import to_int16, write_wav
from mer_tf.data.ravdess import EMOTIONS
from mer_tf.io import storage

RATE = 48000


def write_ravdess(root: str, actors=(1, 2, 3, 4), seed: int = 0) -> str:
    """Writes the archive under `root/Audio_Speech_Actors_01-24`; returns that folder."""
    rng = np.random.default_rng(seed)
    archive = storage.join(root, "Audio_Speech_Actors_01-24")
    for actor in actors:
        folder = storage.join(archive, f"Actor_{actor:02d}")
        storage.makedirs(folder)
        names = [f"03-01-{code}-01-{statement}-01-{actor:02d}.wav" for code in EMOTIONS
                 for statement in ("01", "02")]
        if actor == actors[0]:
            names.append(f"03-02-03-01-01-01-{actor:02d}.wav")  # a song
        for name in names:
            pitch = 100.0 + 25.0 * int(name.split("-")[2])
            t = np.arange(int(rng.uniform(1.0, 1.5) * RATE)) / RATE
            write_wav(storage.join(folder, name),
                      to_int16(0.2 * np.sin(2 * np.pi * pitch * t)), rate=RATE)
    return archive
