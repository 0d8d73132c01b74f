"""tf.data input pipelines over the prepared TFRecord shards.

Reads only the shards of the sessions asked for, parses only the features the
model's modalities need (audio is never decoded for a text-only model), filters
by speaker or utterance id for the validation split, tokenizes text with the
tower's keras-hub preprocessor after batching, crops or pads every input to a
static length, and prefetches. It streams from disk: memory does not grow with
the corpus.

Batches are `(inputs, labels)` (or `(inputs, labels, meta)` for evaluation),
where `inputs` is keyed by the model's input names:

- speech: `waveform` float32 [L], `waveform_length` int32
- text: `token_ids`, `segment_ids`, `padding_mask` int32 [S]
- mocap: `mocap` float32 [T, D] (NaN where a marker was missing), `mocap_mask` int32 [T]
"""

from __future__ import annotations

import dataclasses

from mer_tf import io
from mer_tf.data.iemocap import MOCAP_STREAMS

AUTOTUNE = -1  # tf.data.AUTOTUNE, without importing TensorFlow at module import


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What one model needs from the data, with static sizes."""

    modalities: tuple
    waveform_length: int | None = None
    text_length: int | None = None
    mocap_view: str = "frames"
    mocap_frames: int | None = None
    mocap_streams: tuple = ()  # ((stream, dim), …) from the manifest
    cached: tuple = ()  # modalities whose backbone features come from a feature cache

    @property
    def mocap_features(self) -> int:
        return sum(dim for _, dim in self.mocap_streams)


def _streams(manifest) -> tuple:
    return tuple((s, int(manifest["mocap"]["streams"][s])) for s in MOCAP_STREAMS)


def input_spec(model_config, builder, manifest, cached=()) -> InputSpec:
    """The pipeline's InputSpec for a model built by `builder` on data with `manifest`."""
    lengths = builder.input_lengths()
    return InputSpec(
        modalities=model_config.modalities, waveform_length=lengths.get("waveform"),
        text_length=lengths.get("text"), mocap_view=model_config.mocap.view,
        mocap_frames=lengths.get("mocap"), mocap_streams=_streams(manifest),
        cached=tuple(cached))


def mocap_only_spec(model_config, manifest) -> InputSpec:
    """Motion capture alone, in the model's view (for training-split statistics)."""
    frames, _ = mocap_input_shape(model_config, manifest)
    return InputSpec(modalities=("mocap",), mocap_view=model_config.mocap.view,
                     mocap_frames=frames, mocap_streams=_streams(manifest))


def mocap_input_shape(model_config, manifest) -> tuple[int, int]:
    """(frames, features) of the mocap input for the configured view."""
    features = sum(dim for _, dim in _streams(manifest))
    if model_config.mocap.view == "chunks":
        return int(manifest["mocap"]["chunks"]), features
    return int(model_config.mocap.max_frames), features


def shard_paths(data_dir: str, manifest: dict, sessions) -> list[str]:
    sessions = set(int(s) for s in sessions)
    return [io.join(data_dir, s["file"]) for s in manifest["shards"] if s["session"] in sessions]


def feature_spec(spec: InputSpec) -> dict:
    """tf.io feature spec of exactly what `spec` needs."""
    import tensorflow as tf

    fixed = tf.io.FixedLenFeature
    out = {
        "utterance_id": fixed([], tf.string),
        "session": fixed([], tf.int64),
        "speaker": fixed([], tf.string),
        "label": fixed([], tf.int64),
    }
    if "speech" in spec.modalities and "speech" not in spec.cached:
        out["audio/pcm16"] = fixed([], tf.string)
        out["audio/num_samples"] = fixed([], tf.int64)
    if "text" in spec.modalities and "text" not in spec.cached:
        out["text"] = fixed([], tf.string)
    if "mocap" in spec.modalities:
        if spec.mocap_view == "chunks":
            out["mocap/chunks/values"] = fixed([], tf.string)
            out["mocap/chunks/present"] = fixed([], tf.string)
        else:
            out["mocap/num_frames"] = fixed([], tf.int64)
            for stream, _ in spec.mocap_streams:
                out[f"mocap/{stream}/values"] = fixed([], tf.string)
                out[f"mocap/{stream}/present"] = fixed([], tf.string)
    return out


def _crop_or_pad(x, length: int):
    """First `length` steps of x (axis 0), zero-padded; returns (x, valid steps)."""
    import tensorflow as tf

    n = tf.minimum(tf.shape(x)[0], length)
    x = x[:length]
    paddings = [[0, length - n]] + [[0, 0]] * (len(x.shape) - 1)
    x = tf.pad(x, paddings)
    return tf.ensure_shape(x, [length, *x.shape[1:]]), n


def decode_features(features: dict, spec: InputSpec) -> dict:
    """Parsed features of one example -> model inputs (all static shapes), text as string."""
    import tensorflow as tf

    inputs = {}
    if "audio/pcm16" in features:
        samples = tf.cast(tf.io.decode_raw(features["audio/pcm16"], tf.int16), tf.float32) / 32768.0
        inputs["waveform"], length = _crop_or_pad(samples, spec.waveform_length)
        inputs["waveform_length"] = tf.cast(length, tf.int32)
    if "text" in features:
        inputs["text"] = features["text"]
    if "mocap/chunks/values" in features:
        values = tf.reshape(tf.io.decode_raw(features["mocap/chunks/values"], tf.float32),
                            [spec.mocap_frames, spec.mocap_features])
        present = tf.io.decode_raw(features["mocap/chunks/present"], tf.uint8)
        inputs["mocap"] = tf.ensure_shape(values, [spec.mocap_frames, spec.mocap_features])
        inputs["mocap_mask"] = tf.ensure_shape(tf.cast(present, tf.int32), [spec.mocap_frames])
    elif "mocap/num_frames" in features:
        frames = tf.cast(features["mocap/num_frames"], tf.int32)
        parts = []
        for stream, dim in spec.mocap_streams:
            values = tf.reshape(tf.io.decode_raw(features[f"mocap/{stream}/values"], tf.float32),
                                [frames, dim])
            present = tf.reshape(tf.io.decode_raw(features[f"mocap/{stream}/present"], tf.uint8),
                                 [frames, dim])
            parts.append(tf.where(present > 0, values, tf.fill(tf.shape(values), float("nan"))))
        mocap, valid = _crop_or_pad(tf.concat(parts, axis=-1), spec.mocap_frames)
        inputs["mocap"] = mocap
        inputs["mocap_mask"] = tf.cast(tf.range(spec.mocap_frames) < valid, tf.int32)
    return inputs


def make_dataset(data_dir: str, manifest: dict, sessions, spec: InputSpec, batch_size: int, *,
                 training: bool, seed: int = 0, text_preprocessor=None,
                 exclude_speakers=(), only_speakers=(), exclude_ids=None, only_ids=None,
                 with_metadata: bool = False, pad_final_batch: bool = False,
                 shuffle_buffer: int = 512, feature_cache=None, drop_remainder: bool = False,
                 files=None, num_examples: int | None = None, weight_fillers: bool = False):
    """The dataset of `sessions`, filtered by speaker or utterance id.

    Args:
        training: shuffle (seeded) and repeat-free; evaluation keeps file order.
        text_preprocessor: keras-hub preprocessor for the text tower (tokenizes batches).
        exclude_speakers/only_speakers, exclude_ids/only_ids: the validation split.
        with_metadata: yield (inputs, labels, meta) with utterance ids, sessions, speakers
            and a `valid` flag.
        pad_final_batch: append filler examples (valid=0) so that every batch is full:
            static batch shapes (TPU, XLA) without dropping real examples.
        feature_cache: a FeatureCache supplying cached backbone features.
        files: read these shard paths instead of the sessions' shards.
        num_examples: the split's size, when known: declares the batch count, so Keras
            shows real progress and does not discover the end of each epoch by running out.
        weight_fillers: yield (inputs, labels, sample weights) in which fillers weigh 0
            and real examples (N + fillers) / N, so that Keras' validation loss (summed
            over a batch, divided by its size, averaged over examples), accuracy and UA
            equal those of the real examples alone. Needs `num_examples`.
    """
    import tensorflow as tf

    files = list(files) if files is not None else shard_paths(data_dir, manifest, sessions)
    if not files:
        raise ValueError(f"no shards for sessions {sorted(sessions)} in {data_dir}")
    spec_tf = feature_spec(spec)
    if feature_cache is not None and spec.cached:
        dataset = feature_cache.zipped_dataset(files)
        cache_spec = feature_cache.feature_spec()

        def parse(record, cached):
            features = tf.io.parse_single_example(record, spec_tf)
            extra = tf.io.parse_single_example(cached, cache_spec)
            tf.debugging.assert_equal(features["utterance_id"], extra.pop("utterance_id"),
                                      message="feature cache out of step with the shards")
            features.update(extra)
            return features
    else:
        dataset = tf.data.Dataset.from_tensor_slices(files)
        dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 4),
                                     num_parallel_calls=AUTOTUNE, deterministic=True)

        def parse(record):
            return tf.io.parse_single_example(record, spec_tf)

    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(parse, num_parallel_calls=AUTOTUNE)  # pairs unpack into (record, cached)
    dataset = _filter(dataset, exclude_speakers, only_speakers, exclude_ids, only_ids)

    def to_inputs(features):
        inputs = decode_features(features, spec)
        if feature_cache is not None:
            inputs.update(feature_cache.decode(features))
        meta = {"utterance_id": features["utterance_id"], "session": features["session"],
                "speaker": features["speaker"], "valid": tf.constant(1, tf.int32)}
        return inputs, tf.cast(features["label"], tf.int32), meta

    dataset = dataset.map(to_inputs, num_parallel_calls=AUTOTUNE)
    if pad_final_batch:
        filler = dataset.take(1).map(_as_filler).repeat(batch_size - 1)
        dataset = dataset.concatenate(filler)
        drop_remainder = True
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder,
                            num_parallel_calls=AUTOTUNE)
    if num_examples is not None:
        total = num_examples + (batch_size - 1 if pad_final_batch else 0)
        batches = total // batch_size if drop_remainder else -(-total // batch_size)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    if "text" in spec.modalities and "text" not in spec.cached:
        if text_preprocessor is None:
            raise ValueError("a text model needs the text tower's preprocessor")
        dataset = dataset.map(_tokenizer(text_preprocessor), num_parallel_calls=AUTOTUNE)
    if weight_fillers:
        if with_metadata or not pad_final_batch or num_examples is None:
            raise ValueError("weight_fillers needs pad_final_batch and num_examples, "
                             "without metadata")
        real = max(num_examples, 1)
        scale = (-(-real // batch_size) * batch_size) / real  # (N + fillers) / N

        def weighted(inputs, labels, meta):
            return inputs, labels, tf.cast(meta["valid"], tf.float32) * scale

        return dataset.map(weighted).prefetch(AUTOTUNE)
    if not with_metadata:
        dataset = dataset.map(lambda inputs, labels, meta: (inputs, labels))
    return dataset.prefetch(AUTOTUNE)


def _as_filler(inputs, labels, meta):
    return inputs, labels, {**meta, "valid": meta["valid"] * 0}


def _tokenizer(preprocessor):
    import tensorflow as tf

    def tokenize(inputs, labels, meta):
        inputs = dict(inputs)
        tokens = preprocessor(inputs.pop("text"))
        for key in ("token_ids", "segment_ids", "padding_mask"):
            # The tokenizer forgets the static batch size; XLA and TPUs need it back.
            inputs[key] = tf.ensure_shape(tf.cast(tokens[key], tf.int32),
                                          [labels.shape[0], tokens[key].shape[1]])
        return inputs, labels, meta

    return tokenize


def _filter(dataset, exclude_speakers, only_speakers, exclude_ids, only_ids):
    import tensorflow as tf

    def member(values):
        table = tf.constant(sorted(values), dtype=tf.string)
        return lambda x: tf.reduce_any(tf.equal(table, x))

    if exclude_speakers:
        is_excluded = member(exclude_speakers)
        dataset = dataset.filter(lambda f: tf.logical_not(is_excluded(f["speaker"])))
    if only_speakers:
        is_kept = member(only_speakers)
        dataset = dataset.filter(lambda f: is_kept(f["speaker"]))
    if exclude_ids:
        is_excluded_id = member(exclude_ids)
        dataset = dataset.filter(lambda f: tf.logical_not(is_excluded_id(f["utterance_id"])))
    if only_ids is not None:
        is_kept_id = member(only_ids) if only_ids else (lambda x: tf.constant(False))
        dataset = dataset.filter(lambda f: is_kept_id(f["utterance_id"]))
    return dataset


def read_metadata(data_dir: str, manifest: dict, sessions) -> list[dict]:
    """Utterance id, session, speaker and label of every example, in file order."""
    import tensorflow as tf

    spec = {"utterance_id": tf.io.FixedLenFeature([], tf.string),
            "session": tf.io.FixedLenFeature([], tf.int64),
            "speaker": tf.io.FixedLenFeature([], tf.string),
            "label": tf.io.FixedLenFeature([], tf.int64)}
    dataset = tf.data.TFRecordDataset(shard_paths(data_dir, manifest, sessions))
    dataset = dataset.map(lambda r: tf.io.parse_single_example(r, spec)).batch(1024)
    rows = []
    for batch in dataset.as_numpy_iterator():
        for i in range(len(batch["label"])):
            rows.append({"utterance_id": batch["utterance_id"][i].decode(),
                         "session": int(batch["session"][i]),
                         "speaker": batch["speaker"][i].decode(), "label": int(batch["label"][i])})
    return rows


def mocap_statistics(data_dir: str, manifest: dict, sessions, spec: InputSpec,
                     exclude_speakers=(), exclude_ids=None) -> tuple[list, list]:
    """Per-feature mean and variance of the present mocap values of a split.

    Streams the training split once; the result goes into the model, so
    validation and test data never influence normalisation.
    """
    import numpy as np
    import tensorflow as tf

    only_mocap = dataclasses.replace(spec, modalities=("mocap",), cached=())
    files = shard_paths(data_dir, manifest, sessions)
    dataset = tf.data.TFRecordDataset(files).map(
        lambda r: tf.io.parse_single_example(r, feature_spec(only_mocap)),
        num_parallel_calls=AUTOTUNE)
    dataset = _filter(dataset, exclude_speakers, (), exclude_ids, None)

    def moments(features):
        inputs = decode_features(features, only_mocap)
        x = inputs["mocap"]
        valid = tf.logical_and(tf.logical_not(tf.math.is_nan(x)),
                               tf.cast(inputs["mocap_mask"], tf.bool)[:, None])
        x = tf.where(valid, tf.cast(x, tf.float64), tf.zeros_like(x, tf.float64))
        count = tf.reduce_sum(tf.cast(valid, tf.float64), axis=0)
        return count, tf.reduce_sum(x, axis=0), tf.reduce_sum(x * x, axis=0)

    dim = spec.mocap_features
    zero = np.zeros(dim)
    count, total, squares = zero.copy(), zero.copy(), zero.copy()
    for c, s, q in dataset.map(moments, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE) \
            .as_numpy_iterator():
        count += c
        total += s
        squares += q
    safe = np.maximum(count, 1)
    mean = total / safe
    variance = np.maximum(squares / safe - mean**2, 0.0)
    variance = np.where(count > 1, variance, 1.0)
    variance = np.where(variance > 1e-12, variance, 1.0)
    return mean.tolist(), variance.tolist()
