"""Feature cache: frozen towers' outputs computed once per utterance.

With `--freeze speech,text --cache-features`, the frozen backbones (wav2vec2,
BERT) run once over every shard; their outputs go into TFRecord files beside
the data, one per shard, in the same order. Later epochs, later runs and every
fold of a leave-one-session-out run read those instead of running the
backbones, which is what makes 5-fold cross-validation affordable.

The cache key covers the shards' checksums and everything that decides the
features (backbone handle or preset, a digest of the backbone's loaded weights,
the compute dtype, input lengths, speech head), so a cache is reused only when it
is valid: a SavedModel or preset replaced at the same path gives another key.
"""

from __future__ import annotations

import hashlib
import json
import sys

from mer_tf import storage
from mer_tf.data.schema import Field, Schema


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
        import numpy as np
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
        feature_model = self.builder.feature_model(self.modalities)
        readers = [self.builder.towers[name].reader() for name in self.modalities]
        total = sum(s["utterances"] for s in self.corpus.shards
                    if storage.join(self.corpus.data_dir, s["file"]) in set(missing))
        bar = tqdm(total=total, desc="caching features", unit="utt", disable=not progress,
                   file=sys.stderr)
        for shard in missing:
            dataset = make_dataset(self.corpus, Split(()), readers, batch_size, training=False,
                                   with_metadata=True, files=[shard])
            target = self.path_for(shard)
            tmp = storage.temp_name(target)
            try:
                with tf.io.TFRecordWriter(tmp) as writer:
                    for inputs, _, meta in dataset:
                        wanted = {k: inputs[k] for k in feature_model.input}
                        outputs = feature_model.predict_on_batch(wanted)
                        ids = meta["utterance_id"].numpy()
                        for i, uid in enumerate(ids):
                            writer.write(self.schema.encode(
                                {"utterance_id": uid,
                                 **{k: np.asarray(v[i]) for k, v in outputs.items()}}))
                        bar.update(len(ids))
                storage.rename(tmp, target)
            finally:
                storage.remove(tmp)
        bar.close()
        return len(missing)

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


def _is_integer(dtype) -> bool:
    return "int" in str(dtype) or "bool" in str(dtype)
