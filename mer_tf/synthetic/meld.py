"""A small MELD.Raw release in the producer's layout, for tests.

Layout facts (github.com/declare-lab/MELD, README and the CSVs it ships): three CSVs
`{train,dev,test}_sent_emo.csv` with the columns below, in the producers' column order;
clips `train_splits/`, `dev_splits_complete/`, `output_repeated_splits_test/`, each
`dia<D>_utt<U>.mp4` with an H.264 video track and an AAC audio track (stereo; 48 kHz
here); the text written the way the release has it, UTF-8 read as Windows-1252 and
written back as UTF-8 (`’` shows as `â€™`); one clip listed but missing, as dev's
dia110_utt7 is in the release. The same characters speak in every split. The audio is
a tone whose pitch and loudness follow the emotion.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from mer_tf.io import storage

COLUMNS = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID",
           "Utterance_ID", "Season", "Episode", "StartTime", "EndTime"]
FOLDERS = {"train": "train_splits", "dev": "dev_splits_complete",
           "test": "output_repeated_splits_test"}
FRIENDS = ("Joey", "Rachel", "Ross", "Monica", "Chandler", "Phoebe")
PITCH = {"neutral": 140.0, "joy": 220.0, "surprise": 280.0, "anger": 250.0,
         "sadness": 105.0, "disgust": 160.0, "fear": 300.0}
SENTIMENT = {"neutral": "neutral", "joy": "positive", "surprise": "positive",
             "anger": "negative", "sadness": "negative", "disgust": "negative",
             "fear": "negative"}
LINES = {"neutral": "I’ll see you at the coffee house.", "joy": "Oh, that’s great news!",
         "surprise": "Wait, you’re what?", "anger": "I can’t believe you did that!",
         "sadness": "I just… I miss her.", "disgust": "Ew, that’s gross.",
         "fear": "Don’t go in there!"}
MISSING = ("dev", 110, 7)  # listed in dev_sent_emo.csv, absent from the archive


def write_meld(root: str, dialogues=None, seed: int = 0) -> str:
    """Writes the release under `root`; returns `root`. `dialogues` is {split: [dialogue
    ids]} (default: two per split, dev's including 110)."""
    rng = np.random.default_rng(seed)
    dialogues = dialogues or {"train": [0, 1, 2], "dev": [0, 110], "test": [0, 1]}
    emotions = list(PITCH)
    for split, ids in dialogues.items():
        folder = storage.join(root, FOLDERS[split])
        storage.makedirs(folder)
        rows = []
        for dialogue in ids:
            for number in range(8):
                emotion = emotions[(dialogue + number) % len(emotions)]
                speaker = FRIENDS[(dialogue + number) % len(FRIENDS)]
                if (split, dialogue, number) != MISSING:
                    _write_clip(storage.join(folder, f"dia{dialogue}_utt{number}.mp4"),
                                emotion, rng)
                text = LINES[emotion].encode("utf-8").decode("cp1252", errors="replace")
                rows.append([len(rows) + 1, text, speaker, emotion, SENTIMENT[emotion],
                             dialogue, number, 3, 7, "00:14:38,127", "00:14:40,378"])
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        storage.write_text_atomic(storage.join(root, f"{split}_sent_emo.csv"),
                                  buffer.getvalue())
    return root


def _write_clip(path: str, emotion: str, rng, rate: int = 48000) -> None:
    """An MP4 of a few grey frames (H.264) and the emotion's tone (AAC, stereo)."""
    import av

    seconds = float(rng.uniform(1.0, 1.6))
    t = np.arange(int(seconds * rate)) / rate
    loud = 0.3 if emotion in ("anger", "joy", "surprise", "fear") else 0.1
    tone = (loud * np.sin(2 * np.pi * PITCH[emotion] * t)
            + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    stereo = np.stack([tone, tone])
    with open(path, "wb") as handle, av.open(handle, "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=5)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = out.add_stream("aac", rate=rate)
        audio.layout = "stereo"
        for i in range(int(seconds * 5)):
            image = np.full((32, 32, 3), 40 * i % 255, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        for start in range(0, stereo.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(
                stereo[:, start:start + 1024]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = rate, start
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
