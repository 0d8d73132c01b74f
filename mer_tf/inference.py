"""Predicting emotions with an exported SavedModel, from arrays or files.

    from mer_tf.inference import EmotionRecognizer

    recognizer = EmotionRecognizer.from_run("runs/concat/20261125-120000")
    prediction = recognizer.predict_files(wav="turn.wav", transcript="I can't believe it!",
                                          mocap_files={"head": …, "hand": …, "rotated": …},
                                          start=12.3, end=15.9)
    prediction.label, prediction.probabilities, prediction.notes

Input checks happen here, in plain Python, so bad input gets a clear message
instead of an error deep inside TensorFlow; whatever is handled rather than
refused (resampling, truncation, a silent waveform) is said in `notes`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mer_tf import io
from mer_tf.data.iemocap import MOCAP_STREAMS
from mer_tf.training.export import INFO_FILE, SAVED_MODEL_DIR

SILENCE_PEAK = 1e-4  # below this peak amplitude a waveform counts as silent


@dataclasses.dataclass
class Prediction:
    label: str
    probabilities: dict
    notes: list = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def find_saved_model(run_dir: str, fold: str | None = None) -> str:
    """The SavedModel of a run folder (session5), or of one of its LOSO folds."""
    candidates = [io.join(run_dir, fold, SAVED_MODEL_DIR)] if fold else [
        io.join(run_dir, SAVED_MODEL_DIR)] + [io.join(run_dir, f"fold{i}", SAVED_MODEL_DIR)
                                              for i in range(1, 6)]
    for path in candidates:
        if io.exists(io.join(path, "saved_model.pb")):
            return path
    raise FileNotFoundError(f"no exported SavedModel under {run_dir} (looked for "
                            f"{', '.join(candidates)}); was the run made with --no-export?")


class EmotionRecognizer:
    """An exported mer_tf model and the input handling around it."""

    def __init__(self, saved_model: str):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  registers the tokenizer's ops

        if not io.exists(io.join(saved_model, "saved_model.pb")):
            raise FileNotFoundError(f"{saved_model}: not a SavedModel directory")
        self.path = saved_model
        self._model = tf.saved_model.load(saved_model)
        self.info = io.read_json(io.join(saved_model, INFO_FILE))
        self.modalities = tuple(self.info["modalities"])
        self.label_names = tuple(self.info["label_names"])

    @classmethod
    def from_run(cls, run_dir: str, fold: str | None = None) -> "EmotionRecognizer":
        return cls(find_saved_model(run_dir, fold))

    # -- arrays ---------------------------------------------------------------------------

    def predict(self, waveform=None, sample_rate: int = 16000, transcript: str | None = None,
                mocap=None, mocap_mask=None) -> Prediction:
        """One utterance from arrays: waveform [samples] (any rate, resampled),
        transcript, mocap [frames, features] in the model's view (NaN = missing)."""
        return self.predict_many([{"waveform": waveform, "sample_rate": sample_rate,
                                   "transcript": transcript, "mocap": mocap,
                                   "mocap_mask": mocap_mask}])[0]

    def predict_many(self, items: list[dict], batch_size: int = 16) -> list[Prediction]:
        predictions = []
        for start in range(0, len(items), batch_size):
            predictions.extend(self._predict_batch(items[start:start + batch_size]))
        return predictions

    def _predict_batch(self, items: list[dict]) -> list[Prediction]:
        import tensorflow as tf

        notes = [[] for _ in items]
        prepared = [self._check(item, note) for item, note in zip(items, notes)]
        tensors = []
        if "speech" in self.modalities:
            waves = [p["waveform"] for p in prepared]
            longest = max(w.size for w in waves)
            batch = np.zeros((len(waves), longest), np.float32)
            for i, w in enumerate(waves):
                batch[i, :w.size] = w
            tensors += [tf.constant(batch), tf.constant([w.size for w in waves], tf.int32)]
        if "text" in self.modalities:
            tensors.append(tf.constant([p["transcript"] for p in prepared]))
        if "mocap" in self.modalities:
            frames = max(p["mocap"].shape[0] for p in prepared)
            features = prepared[0]["mocap"].shape[1]
            values = np.zeros((len(items), frames, features), np.float32)
            masks = np.zeros((len(items), frames), np.int32)
            for i, p in enumerate(prepared):
                values[i, :p["mocap"].shape[0]] = p["mocap"]
                masks[i, :p["mocap"].shape[0]] = p["mocap_mask"]
            tensors += [tf.constant(values), tf.constant(masks)]
        present = [p["present"] for p in prepared]
        if all(all(row) for row in present):
            output = self._model.serve(*tensors)
        else:
            output = self._model.serve_partial(*tensors, tf.constant(present, tf.int32))
        probabilities = output["probabilities"].numpy()
        return [Prediction(self.label_names[int(np.argmax(p))],
                           {name: float(v) for name, v in zip(self.label_names, p)}, note)
                for p, note in zip(probabilities, notes)]

    def _check(self, item: dict, notes: list) -> dict:
        missing = [m for m, key in (("speech", "waveform"), ("text", "transcript"),
                                    ("mocap", "mocap"))
                   if m in self.modalities and item.get(key) is None]
        if missing:
            item = self._without(missing, item, notes)
        out = {"present": [int(m not in missing) for m in self.modalities]}
        if "speech" in self.modalities:
            out["waveform"] = self._check_waveform(item["waveform"], item.get("sample_rate", 16000),
                                                   notes)
        if "text" in self.modalities:
            out["transcript"] = self._check_transcript(item["transcript"], notes)
        if "mocap" in self.modalities:
            out["mocap"], out["mocap_mask"] = self._check_mocap(item["mocap"],
                                                                item.get("mocap_mask"), notes)
        return out

    def _without(self, missing: list, item: dict, notes: list) -> dict:
        """Stands in for missing modalities where the model learned to do without them."""
        rate = float(self.info.get("modality_dropout", 0.0))
        present = [m for m in self.modalities if m not in missing]
        if not rate or not present:
            why = ("it was trained without modality dropout, so it never learned to do "
                   "without one" if present else "nothing is left to predict from")
            raise ValueError(f"this model takes {', '.join(self.modalities)}; missing: "
                             f"{', '.join(missing)} ({why})")
        notes.append(f"no {' or '.join(missing)}: predicted from {' + '.join(present)}, the "
                     f"missing modality dropped as in training (modality dropout {rate:g})")
        item = dict(item)
        placeholder = {"speech": {"waveform": np.full(16000, 1e-3, np.float32),
                                  "sample_rate": self.info["sample_rate"]},
                       "text": {"transcript": "missing"},
                       "mocap": {"mocap": np.zeros((1, sum(self.info["mocap_streams"].values())),
                                                   np.float32),
                                 "mocap_mask": np.zeros(1, np.int32)}}
        for modality in missing:  # the model zeroes their vectors; values do not matter
            item.update(placeholder[modality])
        return item

    def _check_waveform(self, waveform, sample_rate: int, notes: list) -> np.ndarray:
        import soxr

        waveform = np.asarray(waveform, dtype=np.float32)
        if waveform.ndim == 2:
            waveform = waveform.mean(axis=1)
        if waveform.ndim != 1:
            raise ValueError(f"waveform must be [samples] or [samples, channels], got shape "
                             f"{waveform.shape}")
        if waveform.size == 0:
            raise ValueError("empty waveform: 0 samples")
        if not np.isfinite(waveform).all():
            raise ValueError("waveform holds NaN or infinite samples")
        rate = self.info["sample_rate"]
        if sample_rate != rate:
            waveform = soxr.resample(waveform, sample_rate, rate, quality="HQ").astype(np.float32)
            notes.append(f"resampled from {sample_rate} Hz to {rate} Hz")
        peak = float(np.abs(waveform).max())
        if peak < SILENCE_PEAK:
            notes.append(f"silent waveform (peak amplitude {peak:.1e}): the speech tower "
                         "sees silence")
        limit = self.info["waveform_length"]
        if waveform.size > limit:
            notes.append(f"waveform is {waveform.size / rate:.2f} s; the model reads the first "
                         f"{limit / rate:.2f} s")
        return waveform

    def _check_transcript(self, transcript, notes: list) -> str:
        if not isinstance(transcript, str):
            raise ValueError(f"transcript must be a string, got {type(transcript).__name__}")
        if not transcript.strip():
            notes.append("empty transcript")
        count = int(self._model.token_count([transcript]).numpy()[0])
        limit = self.info["text_length"]
        if count > limit:
            notes.append(f"transcript has {count} tokens; truncated to the model's {limit}")
        return transcript

    def _check_mocap(self, mocap, mask, notes: list):
        values = np.asarray(mocap, dtype=np.float32)
        features = sum(self.info["mocap_streams"].values())
        if values.ndim != 2 or values.shape[1] != features:
            streams = ", ".join(f"{k} {v}" for k, v in self.info["mocap_streams"].items())
            raise ValueError(f"mocap must be [frames, {features}] ({streams}, in that order), "
                             f"got shape {values.shape}")
        if values.shape[0] == 0:
            raise ValueError("mocap has no frames")
        mask = np.ones(values.shape[0], np.int32) if mask is None else np.asarray(mask, np.int32)
        if mask.shape != (values.shape[0],):
            raise ValueError(f"mocap_mask must be [{values.shape[0]}], got {mask.shape}")
        if self.info["mocap_view"] == "frames" and values.shape[0] > self.info["mocap_frames"]:
            notes.append(f"mocap has {values.shape[0]} frames; the model reads the first "
                         f"{self.info['mocap_frames']}")
        return values, mask

    # -- files ----------------------------------------------------------------------------

    def predict_files(self, wav: str | None = None, transcript: str | None = None,
                      mocap_files: dict | None = None, start: float | None = None,
                      end: float | None = None) -> Prediction:
        return self.predict_many([self.load_files(wav, transcript, mocap_files, start, end)])[0]

    def load_files(self, wav=None, transcript=None, mocap_files=None, start=None, end=None) -> dict:
        """Reads a WAV (any rate), a transcript and IEMOCAP MOCAP files into arrays."""
        from mer_tf.data import audio

        item = {"transcript": transcript}
        if wav is not None:
            samples, rate = audio.read_wav(wav, target_rate=None)
            item["waveform"] = samples.astype(np.float32) / 32768.0
            item["sample_rate"] = rate
        if mocap_files:
            item["mocap"], item["mocap_mask"] = self.mocap_from_files(mocap_files, start, end)
        return item

    def mocap_from_files(self, files: dict, start=None, end=None):
        """IEMOCAP MOCAP files (head, hand, rotated) -> the model's view of [start, end)."""
        from mer_tf.data import mocap as mocap_io

        missing = [s for s in MOCAP_STREAMS if s not in files]
        if missing:
            raise ValueError(f"mocap needs the {', '.join(MOCAP_STREAMS)} files; missing: "
                             f"{', '.join(missing)}")
        from mer_tf.data.errors import DataError

        if start is not None and end is not None and not end > start:
            raise ValueError(f"--end {end:g} s is not after --start {start:g} s")
        parts, masks = [], []
        for stream in MOCAP_STREAMS:
            track = mocap_io.read_mocap(files[stream])
            if not track.times.size:
                raise DataError(files[stream], "no motion-capture frames")
            first, last = float(track.times[0]), float(track.times[-1])
            if (start is not None and start > last) or (end is not None and end <= first):
                raise DataError(files[stream], f"covers {first:.2f}-{last:.2f} s; the utterance "
                                               f"[{start if start is not None else first:g}, "
                                               f"{end if end is not None else last:g}) s lies "
                                               "outside it")
            expected = self.info["mocap_streams"][stream]
            if track.dim != expected:
                raise DataError(files[stream], f"{track.dim} value columns; the model was "
                                               f"trained on {expected} for MOCAP_{stream}", 3)
            lo = track.times[0] if start is None else start
            hi = track.times[-1] + 1 / mocap_io.MOCAP_FPS if end is None else end
            times, values = mocap_io.slice_track(track, lo, hi)
            if self.info["mocap_view"] == "chunks":
                chunks, present = mocap_io.chunks_view(values, self.info["mocap_frames"])
                parts.append(chunks)
                masks.append(present)
            else:
                frames, present = mocap_io.frames_view(times, values, lo, hi,
                                                       self.info["mocap_rate"])
                parts.append(np.where(present, frames, np.nan))
                masks.append(np.ones(frames.shape[0], bool))
        return (np.concatenate(parts, axis=1).astype(np.float32),
                np.logical_or.reduce(masks).astype(np.int32))
