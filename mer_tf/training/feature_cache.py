"""Feature cache: frozen towers' outputs computed once per utterance.

With `--freeze speech,text --cache-features`, the frozen backbones (wav2vec2,
BERT) run once over every shard; their outputs go into TFRecord files beside
the data, one per shard, in the same order. Later epochs, later runs and every
fold of a leave-one-session-out run read those instead of running the
backbones, which is what makes 5-fold cross-validation affordable.

Building it runs at the backbone's speed: utterances are read a window of batches at a
time and, where a tower's features do not depend on the padding after an utterance
(`Tower.input_lengths`, e.g. a Hugging Face wav2vec2 that masks it), run in batches of
similar length (`length_batches`), each cut to its longest utterance, through one traced
function that takes any length (no retrace per batch); the features go back into shard
order, padded to the fixed shapes the cached model reads, so they equal those of the
padded utterance.

The cache key covers the shards' checksums and everything that decides the
features (backbone handle or preset, a digest of the backbone's loaded weights,
the compute dtype, input lengths, speech head), so a cache is reused only when it
is valid: a SavedModel or preset replaced at the same path gives another key.
"""

from __future__ import annotations

import hashlib
import json
import sys

from mer_tf.data.schema import Field, Schema
from mer_tf.io import storage

WINDOW_BATCHES = 8  # batches read at once and regrouped by length
LENGTH_SPREAD = 1.1  # a batch's longest utterance is at most 10 % longer than its shortest


class FeatureCache:
    """The cached features of towers `modalities` of `builder`, for every shard of `corpus`."""

    def __init__(self, corpus, builder, modalities: tuple):
        import keras

        self.corpus = corpus
        self.builder = builder
        self.modalities = tuple(modalities)
        self.outputs = {}
        for name in self.modalities:
            for key, tensor in builder.towers[name].feature_inputs().items():
                self.outputs[key] = (tuple(tensor.shape[1:]), tensor.dtype)
        # One record per utterance: its id and each feature as raw little-endian bytes.
        self.schema = Schema([Field("utterance_id", "text")] + [
            Field(key, "array", "<i4" if _is_integer(dtype) else "<f4", shape)
            for key, (shape, dtype) in self.outputs.items()])
        description = {
            "shards": [s["sha256"] for s in corpus.shards],
            "outputs": {k: [list(v[0]), str(v[1])] for k, v in self.outputs.items()},
        }
        for name in self.modalities:
            description[name] = builder.towers[name].cache_key()
        description["weights"] = {name: builder.backbone_fingerprint(name)
                                  for name in self.modalities}
        description["dtype_policy"] = keras.mixed_precision.global_policy().name
        self.description = description
        self.key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]
        self.directory = storage.join(corpus.data_dir, "feature_cache",
                                      f"{'_'.join(self.modalities)}-{self.key}")

    def path_for(self, shard_path: str) -> str:
        return storage.join(self.directory, shard_path.replace("\\", "/").rsplit("/", 1)[-1])

    def missing(self) -> list[str]:
        return [s for s in self.corpus.shard_paths() if not storage.exists(self.path_for(s))]

    def ensure(self, batch_size: int = 32, progress: bool = True) -> int:
        """Computes the features of every shard not cached yet; returns how many."""
        import tensorflow as tf
        from tqdm.auto import tqdm

        from mer_tf.data.corpus import Split
        from mer_tf.data.pipeline import make_dataset

        missing = self.missing()
        if not missing:
            return 0
        storage.makedirs(self.directory)
        storage.remove_temporaries(self.directory)
        storage.write_json_atomic(storage.join(self.directory, "cache.json"), self.description)
        models = {name: self.builder.feature_model((name,)) for name in self.modalities}
        self.extractors = {}  # tower -> one traced function for every length, from window 1
        readers = [self.builder.towers[name].reader() for name in self.modalities]
        total = sum(s["utterances"] for s in self.corpus.shards
                    if storage.join(self.corpus.data_dir, s["file"]) in set(missing))
        bar = tqdm(total=total, desc="caching features", unit="utt", disable=not progress,
                   file=sys.stderr)
        for shard in missing:
            dataset = make_dataset(self.corpus, Split(()), readers, batch_size * WINDOW_BATCHES,
                                   training=False, with_metadata=True, files=[shard])
            target = self.path_for(shard)
            tmp = storage.temp_name(target)
            try:
                with tf.io.TFRecordWriter(tmp) as writer:
                    for inputs, _, meta in dataset:
                        outputs = {}
                        for name, model in models.items():
                            raw = {key: inputs[key].numpy() for key in model.input}
                            if name not in self.extractors:
                                self.extractors[name] = self._extractor(name, model, raw)
                            outputs.update(self._window_features(name, raw, batch_size))
                        ids = meta["utterance_id"].numpy()
                        for i, uid in enumerate(ids):
                            writer.write(self.schema.encode(
                                {"utterance_id": uid, **{k: v[i] for k, v in outputs.items()}}))
                        bar.update(len(ids))
                storage.rename(tmp, target)
            finally:
                storage.remove(tmp)
        bar.close()
        return len(missing)

    def _extractor(self, name: str, feature_model, raw: dict):
        """`feature_model` as one traced function: where the tower can `trim`, its inputs
        take any length; otherwise they keep their static size (a TF-Hub SavedModel fixes
        its own)."""
        import tensorflow as tf

        any_length = self.builder.towers[name].input_lengths(raw) is not None
        signature = {key: tf.TensorSpec([None] * value.ndim if any_length
                                        else [None, *value.shape[1:]], tf.as_dtype(value.dtype))
                     for key, value in raw.items()}
        return tf.function(lambda inputs: feature_model(inputs, training=False),
                           input_signature=[signature])

    def _window_features(self, name: str, raw: dict, batch_size: int) -> dict:
        """{output: [n, *fixed shape]} of tower `name` for a window of raw inputs, in the
        window's order, computed in batches of similar length (`length_batches`)."""
        import numpy as np

        tower, extract = self.builder.towers[name], self.extractors[name]
        lengths = tower.input_lengths(raw)
        count = len(next(iter(raw.values())))
        batches = (np.array_split(np.arange(count), range(batch_size, count, batch_size))
                   if lengths is None else length_batches(lengths, batch_size))
        out = {}
        for rows in batches:
            batch = {key: value[rows] for key, value in raw.items()}
            if lengths is not None:
                batch = tower.trim(batch, int(np.max(lengths[rows])))
            for key, value in extract(batch).items():  # back to the fixed shapes, zero-padded
                value, shape = np.asarray(value), self.outputs[key][0]
                value = np.pad(value, [(0, 0)] + [(0, want - have) for want, have
                                                  in zip(shape, value.shape[1:])])
                out.setdefault(key, np.empty((count, *shape), value.dtype))[rows] = value
        return out

    def parse_spec(self) -> dict:
        return self.schema.parse_spec(self.schema.fields)

    def decode(self, features: dict) -> dict:
        """In the graph: parsed cache fields -> the cached features (static shapes)."""
        import tensorflow as tf

        out = {}
        for key, (shape, dtype) in self.outputs.items():
            if key in features:
                value = self.schema.decode_array(key, features[key], shape)
                out[key] = tf.ensure_shape(value, shape)
        return out

    def zipped_dataset(self, files: list[str]):
        """(shard record, cached record) pairs, shard by shard, in lockstep."""
        import tensorflow as tf

        cached = [self.path_for(f) for f in files]
        pairs = tf.data.Dataset.from_tensor_slices((files, cached))
        return pairs.interleave(
            lambda data, features: tf.data.Dataset.zip(
                (tf.data.TFRecordDataset(data), tf.data.TFRecordDataset(features))),
            cycle_length=min(len(files), 4), num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True)


def length_batches(lengths, batch_size: int) -> list:
    """Rows of a window grouped by increasing length: at most `batch_size` to a batch, the
    longest at most `LENGTH_SPREAD` times the shortest, so cutting each batch to its longest
    leaves little padding to compute (a CPU runs one utterance about as fast per second of
    audio as sixteen; an accelerator gets full batches wherever a window has them)."""
    import numpy as np

    batches, current = [], []
    for row in np.argsort(lengths, kind="stable"):
        if current and (len(current) == batch_size
                        or lengths[row] > LENGTH_SPREAD * max(lengths[current[0]], 1)):
            batches.append(np.array(current))
            current = []
        current.append(row)
    return batches + [np.array(current)] if current else batches


def _is_integer(dtype) -> bool:
    return "int" in str(dtype) or "bool" in str(dtype)
