"""Predicting emotions with an exported SavedModel, from arrays or files.

    from mer_tf.serving.recognizer import EmotionRecognizer

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

from mer_tf.data.iemocap import MOCAP_STREAMS
from mer_tf.evaluation.dimensions import DIMENSIONS
from mer_tf.frames import PCM16_SCALE, SAMPLE_RATE
from mer_tf.io import storage
from mer_tf.layout import INFO_FILE, SAVED_MODEL_FILE
from mer_tf.registry import tower_class


@dataclasses.dataclass
class Prediction:
    label: str
    probabilities: dict
    notes: list = dataclasses.field(default_factory=list)
    # a model trained with --targets both: arousal, valence, dominance on [0, 1]
    dimensions: dict | None = None

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        if self.dimensions is None:  # a classes-only model's answer is as it always was
            out.pop("dimensions")
        return out


UNCERTAIN = "uncertain"


class EmotionRecognizer:
    """An exported mer_tf model and the input handling around it.

    `min_confidence`: below this top probability the label is `uncertain` (the
    probabilities are still given). A model exported with calibration serves
    temperature-scaled probabilities (`info["temperature"]`), so the threshold means what
    it says; choose it from the coverage table in a fold's metrics.json.
    """

    min_confidence: float = 0.0

    def __init__(self, saved_model: str, *more: str):
        """One SavedModel, or several (the folds of a LOSO run) whose probabilities are
        averaged: each fold's model was trained on other sessions, so together they have
        seen every session but none was chosen on another's test set."""
        from mer_tf.io.quiet import quiet_tensorflow

        quiet_tensorflow(loggers=False)  # no start-up lines (MER_TF_VERBOSE=1 keeps them)
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  registers the tokenizer's ops

        self.paths = [saved_model, *more]
        for path in self.paths:
            if not storage.exists(storage.join(path, SAVED_MODEL_FILE)):
                raise FileNotFoundError(f"{path}: not a SavedModel directory")
        self.path = saved_model
        self._models = [tf.saved_model.load(path) for path in self.paths]
        self._model = self._models[0]
        self.info = storage.read_json(storage.join(saved_model, INFO_FILE))
        for path in more:
            other = storage.read_json(storage.join(path, INFO_FILE))
            if (other["modalities"], other["label_names"]) != (self.info["modalities"],
                                                               self.info["label_names"]):
                raise ValueError(f"{path} takes other modalities or labels than {saved_model}")
        self.modalities = tuple(self.info["modalities"])
        self.label_names = tuple(self.info["label_names"])
        # --targets both: served beside the probabilities, scored after them
        self.dimension_names = DIMENSIONS if self.info.get("targets") == "both" else ()
        # the tower classes only: they check and batch inputs; nothing is built
        self.towers = {name: tower_class(name) for name in self.modalities}

    @classmethod
    def from_run(cls, run_dir: str, fold: str | None = None) -> "EmotionRecognizer":
        """The run's model; for a LOSO run without `fold`, every fold's, averaged."""
        from mer_tf.layout import RunLayout

        return cls(*RunLayout(run_dir).saved_models(fold))

    # -- arrays ---------------------------------------------------------------------------

    def predict(self, waveform=None, sample_rate: int = SAMPLE_RATE, transcript: str | None = None,
                mocap=None, mocap_mask=None, input_notes=()) -> Prediction:
        """One utterance from arrays: waveform [samples] (any rate, resampled),
        transcript, mocap [frames, features] in the model's view (NaN = missing);
        `input_notes` (from `load_files`) say what reading the files handled."""
        return self.predict_many([{"waveform": waveform, "sample_rate": sample_rate,
                                   "transcript": transcript, "mocap": mocap,
                                   "mocap_mask": mocap_mask, "input_notes": input_notes}])[0]

    def predict_many(self, items: list[dict], batch_size: int = 16) -> list[Prediction]:
        probabilities, notes = self.score_many(items, batch_size)
        return [self.decide(p, note) for p, note in zip(probabilities, notes)]

    def score_many(self, items: list[dict], batch_size: int = 16):
        """(scores [items, classes + dimensions]: the probabilities, then any dimensions;
        notes per item), before any label is chosen (`decide`).
        Audio longer than the model's speech input is read in windows of that length and
        their probabilities averaged (`mer_tf.frames.input_windows`), as a recording's
        turns are, instead of its first seconds alone."""
        from mer_tf.serving.timeline import windows_of

        windows, owner, window_notes = [], [], []
        for index, item in enumerate(items):
            parts = windows_of(item, self.info, "speech" in self.towers)
            windows += parts
            owner += [index] * len(parts)
            window_notes.append(parts[0].get("window_note"))
        scored, notes = [], []
        for start in range(0, len(windows), batch_size):
            p, n = self._score_batch(windows[start:start + batch_size])
            scored.append(p)
            notes.extend(n)
        scored = np.concatenate(scored) if scored else np.zeros(
            (0, len(self.label_names) + len(self.dimension_names)))
        owner = np.asarray(owner, int)
        probabilities = np.stack([scored[owner == i].mean(axis=0) for i in range(len(items))]
                                 ) if items else scored
        merged = []
        for i, note in enumerate(window_notes):
            first = notes[int(np.flatnonzero(owner == i)[0])]
            merged.append([*first, note] if note else first)
        return probabilities, merged

    def predict_recording(self, path: str, turns=None, mocap_files: dict | None = None,
                          **options) -> list:
        """A row per turn of a whole recording (`mer_tf.serving.timeline.predict_recording`):
        `turns` a turns file (.srt, .vtt, IEMOCAP .txt, .tsv), a list of `Turn`, or None
        (voice activity detection finds the speech)."""
        from mer_tf.serving.timeline import predict_recording

        return predict_recording(self, path, turns, mocap_files, **options)

    def _score_batch(self, items: list[dict]):
        import tensorflow as tf

        notes = [[] for _ in items]
        prepared = [self._check(item, note) for item, note in zip(items, notes)]
        tensors = []
        for name, tower in self.towers.items():
            tensors += [tf.constant(x) for x in tower.batch_items([p[name] for p in prepared],
                                                                  self.info)]
        present = [p["present"] for p in prepared]
        outputs = []
        for model in self._models:
            if all(all(row) for row in present):
                served = model.serve(*tensors)
            else:
                served = model.serve_partial(*tensors, tf.constant(present, tf.int32))
            outputs.append(np.concatenate(
                [served["probabilities"].numpy()]
                + [served[name].numpy()[:, None] for name in self.dimension_names], axis=1))
        probabilities = np.mean(outputs, axis=0)
        if len(self._models) > 1:
            folds = ", ".join(p.replace("\\", "/").rstrip("/").split("/")[-2]
                              for p in self.paths)
            notes = [[*note, f"probabilities averaged over the {len(self._models)} fold models "
                             f"of this LOSO run ({folds}); --fold picks one"] for note in notes]
        if self.info.get("note"):  # a demo model says what it is on every prediction
            notes = [[*note, self.info["note"]] for note in notes]
        return probabilities, notes

    def decide(self, probabilities, notes: list) -> Prediction:
        """The label of a score row (the probabilities, then any dimensions): the top
        class, or `uncertain` below `min_confidence`."""
        scores = np.asarray(probabilities)
        probabilities = scores[:len(self.label_names)]
        dimensions = ({n: float(v) for n, v in zip(self.dimension_names,
                                                   scores[len(self.label_names):])}
                      if self.dimension_names else None)
        label = self.label_names[int(np.argmax(probabilities))]
        top = float(np.max(probabilities))
        if top < self.min_confidence:
            notes = [*notes, f"uncertain: the top probability, {top:.3f} ({label}), is below "
                             f"--min-confidence {self.min_confidence:g}"]
            label = UNCERTAIN
        return Prediction(label, {n: float(v) for n, v in zip(self.label_names, probabilities)},
                          notes, dimensions)

    def _check(self, item: dict, notes: list) -> dict:
        """Each tower checks its own input (clear errors; notes for what it handled)."""
        notes.extend(item.get("input_notes", ()))
        if isinstance(item.get("transcript"), str) and not item["transcript"].strip():
            # an empty transcript says nothing: the same as none, which drops the modality
            notes.append("empty transcript: treated as no transcript")
            item = {**item, "transcript": None}
        missing = [name for name, tower in self.towers.items()
                   if item.get(tower.item_key) is None]
        if missing:
            item = self._without(missing, item, notes)
        out = {"present": [int(m not in missing) for m in self.modalities]}
        for name, tower in self.towers.items():
            out[name] = tower.prepare_item(item, self.info, notes, self._model)
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
        for modality in missing:  # the model zeroes their vectors; values do not matter
            item.update(self.towers[modality].placeholder(self.info))
        return item

    # -- files ----------------------------------------------------------------------------

    def predict_files(self, wav: str | None = None, transcript: str | None = None,
                      mocap_files: dict | None = None, start: float | None = None,
                      end: float | None = None) -> Prediction:
        return self.predict_many([self.load_files(wav, transcript, mocap_files, start, end)])[0]

    def load_files(self, wav=None, transcript=None, mocap_files=None, start=None, end=None) -> dict:
        """Reads a WAV (any rate), a transcript and IEMOCAP MOCAP files into arrays."""
        from mer_tf.data import audio

        item = {"transcript": transcript, "input_notes": []}
        if wav is not None:
            samples, rate, found = audio.read_audio(wav, target_rate=None)
            item["waveform"] = samples.astype(np.float32) / PCM16_SCALE
            item["sample_rate"] = rate
            if found["channels"] > 1:
                item["input_notes"].append(f"{found['channels']} channels averaged to mono")
            if found["format"] != "WAV":
                item["input_notes"].append(f"read {found['format']} audio")
            if audio.encoding_note(found["subtype"]):
                item["input_notes"].append(audio.encoding_note(found["subtype"]))
        if mocap_files:
            item["mocap"], item["mocap_mask"] = self.mocap_from_files(mocap_files, start, end)
        return item

    def mocap_from_files(self, files: dict, start=None, end=None):
        """IEMOCAP MOCAP files (head, hand, rotated) -> the model's view of [start, end)."""
        return self.mocap_from_tracks(self.read_mocap_tracks(files), start, end)

    def read_mocap_tracks(self, files: dict) -> dict:
        """{stream: (path, track)} of IEMOCAP MOCAP files, read once for many spans."""
        from mer_tf.data import mocap_files

        missing = [s for s in MOCAP_STREAMS if s not in files]
        if missing:
            raise ValueError(f"mocap needs the {', '.join(MOCAP_STREAMS)} files; missing: "
                             f"{', '.join(missing)}")
        return {s: (files[s], mocap_files.read_mocap(files[s])) for s in MOCAP_STREAMS}

    def mocap_from_tracks(self, tracks: dict, start=None, end=None):
        """`read_mocap_tracks`' tracks -> the model's view of [start, end)."""
        from mer_tf.data import mocap_files
        from mer_tf.data.errors import DataError

        if start is not None and end is not None and not end > start:
            raise ValueError(f"--end {end:g} s is not after --start {start:g} s")
        parts, masks = [], []
        files = {stream: path for stream, (path, _) in tracks.items()}
        for stream in MOCAP_STREAMS:
            track = tracks[stream][1]
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
            hi = track.times[-1] + 1 / mocap_files.MOCAP_FPS if end is None else end
            times, values = mocap_files.slice_track(track, lo, hi)
            view, mask = mocap_files.model_view(times, values, lo, hi, self.info["mocap_view"],
                                                self.info["mocap_frames"],
                                                self.info["mocap_rate"])
            parts.append(view)
            masks.append(mask)
        return (np.concatenate(parts, axis=1).astype(np.float32),
                np.logical_or.reduce(masks).astype(np.int32))
