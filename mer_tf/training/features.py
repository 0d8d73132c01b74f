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

from mer_tf import io


class FeatureCache:
    def __init__(self, data_dir: str, manifest: dict, builder, modalities: tuple):
        self.data_dir = data_dir
        self.manifest = manifest
        self.builder = builder
        self.modalities = tuple(modalities)
        self.outputs = {}
        for name in self.modalities:
            for key, tensor in builder.towers[name].feature_inputs().items():
                self.outputs[key] = (tuple(tensor.shape[1:]), tensor.dtype)
        description = {
            "shards": [s["sha256"] for s in manifest["shards"]],
            "outputs": {k: [list(v[0]), str(v[1])] for k, v in self.outputs.items()},
        }
        config = builder.config
        if "speech" in self.modalities:
            description["speech"] = [config.speech.handle, config.speech.head,
                                     builder.towers["speech"].input_length]
        if "text" in self.modalities:
            description["text"] = [config.text.preset, config.text.sequence_length]
        import keras

        description["weights"] = {name: builder.backbone_fingerprint(name)
                                   for name in self.modalities}
        description["dtype_policy"] = keras.mixed_precision.global_policy().name
        self.description = description
        self.key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]
        self.directory = io.join(data_dir, "feature_cache", f"{'_'.join(self.modalities)}-{self.key}")

    def path_for(self, shard_path: str) -> str:
        return io.join(self.directory, shard_path.replace("\\", "/").rsplit("/", 1)[-1])

    def missing(self) -> list[str]:
        shards = [io.join(self.data_dir, s["file"]) for s in self.manifest["shards"]]
        return [s for s in shards if not io.exists(self.path_for(s))]

    def ensure(self, text_preprocessor, batch_size: int = 32, progress: bool = True) -> int:
        """Computes the features of every shard not cached yet; returns how many."""
        import dataclasses

        import numpy as np
        import tensorflow as tf
        from tqdm.auto import tqdm

        from mer_tf.data.pipeline import input_spec, make_dataset

        missing = self.missing()
        if not missing:
            return 0
        io.makedirs(self.directory)
        io.remove_temporaries(self.directory)
        io.write_json_atomic(io.join(self.directory, "cache.json"), self.description)
        feature_model = self.builder.feature_model(self.modalities)
        spec = input_spec(self.builder.config, self.builder, self.manifest)
        spec = dataclasses.replace(spec, modalities=self.modalities)
        total = sum(s["utterances"] for s in self.manifest["shards"]
                    if io.join(self.data_dir, s["file"]) in set(missing))
        bar = tqdm(total=total, desc="caching features", unit="utt", disable=not progress,
                   file=sys.stderr)
        for shard in missing:
            dataset = make_dataset(self.data_dir, self.manifest, (), spec, batch_size,
                                   training=False, text_preprocessor=text_preprocessor,
                                   with_metadata=True, files=[shard])
            target = self.path_for(shard)
            tmp = io.temp_name(target)
            try:
                with tf.io.TFRecordWriter(tmp) as writer:
                    for inputs, _, meta in dataset:
                        wanted = {k: inputs[k] for k in feature_model.input}
                        outputs = feature_model.predict_on_batch(wanted)
                        ids = meta["utterance_id"].numpy()
                        for i, uid in enumerate(ids):
                            writer.write(self._encode(uid, {k: np.asarray(v[i])
                                                            for k, v in outputs.items()}))
                        bar.update(len(ids))
                io.rename(tmp, target)
            finally:
                io.remove(tmp)
        bar.close()
        return len(missing)

    def _encode(self, utterance_id: bytes, outputs: dict) -> bytes:
        from tensorflow.core.example import example_pb2, feature_pb2

        import numpy as np

        feature = {"utterance_id": feature_pb2.Feature(
            bytes_list=feature_pb2.BytesList(value=[utterance_id]))}
        for key, (_, dtype) in self.outputs.items():
            value = outputs[key].astype("<i4" if "int" in str(dtype) or "bool" in str(dtype)
                                        else "<f4")
            feature[key] = feature_pb2.Feature(bytes_list=feature_pb2.BytesList(
                value=[np.ascontiguousarray(value).tobytes()]))
        proto = example_pb2.Example(features=feature_pb2.Features(feature=feature))
        return proto.SerializeToString(deterministic=True)

    def feature_spec(self) -> dict:
        import tensorflow as tf

        spec = {"utterance_id": tf.io.FixedLenFeature([], tf.string)}
        for key in self.outputs:
            spec[key] = tf.io.FixedLenFeature([], tf.string)
        return spec

    def decode(self, features: dict) -> dict:
        import tensorflow as tf

        out = {}
        for key, (shape, dtype) in self.outputs.items():
            if key not in features:
                continue
            raw_dtype = tf.int32 if "int" in str(dtype) or "bool" in str(dtype) else tf.float32
            out[key] = tf.ensure_shape(tf.reshape(tf.io.decode_raw(features[key], raw_dtype),
                                                  shape), shape)
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
