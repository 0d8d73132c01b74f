"""tf.data input pipelines over the prepared TFRecord shards.

Reads only the shards of the split's sessions, parses only the fields the towers'
readers ask for (audio is never decoded for a text-only model), filters by speaker
or utterance id for the validation split, lets each reader decode its inputs
(static shapes) and work on whole batches (tokenization), and prefetches. It
streams from disk: memory does not grow with the corpus.

Batches are `(inputs, labels)` (or `(inputs, labels, meta)` for evaluation), where
`inputs` is keyed by the model's input names, as the readers make them
(`mer_tf.data.readers`): `waveform` and `waveform_length`; `token_ids`,
`segment_ids` and `padding_mask`; `mocap` (NaN where a marker was missing) and
`mocap_mask`; and any cached features.
"""

from __future__ import annotations

from mer_tf.data.schema import METADATA_KEYS, UTTERANCE

AUTOTUNE = -1  # tf.data.AUTOTUNE, without importing TensorFlow at module import


def make_dataset(corpus, split, readers, batch_size: int, *,
                 training: bool, seed: int = 0, with_metadata: bool = False,
                 pad_final_batch: bool = False, shuffle_buffer: int = 512, feature_cache=None,
                 drop_remainder: bool = False, files=None, num_examples: int | None = None,
                 weight_fillers: bool = False, epoch: int = 0, steps_per_epoch: int | None = None,
                 dimensions: dict | None = None):
    """The dataset of `split`, read by `readers` (one per tower that reads raw input).

    Args:
        readers: `mer_tf.data.readers` objects; each parses its record fields and
            decodes them into model inputs. Towers whose features come from
            `feature_cache` have no reader.
        training: shuffle; evaluation keeps file order. Pass `epoch` over the split is
            shuffled with a seed made of `seed` and `epoch` alone, never with the state of
            an earlier pass, so a run resumed at epoch k reads what an uninterrupted run
            reads there.
        epoch: the first epoch (counted from 0) the dataset yields (training).
        steps_per_epoch: training: yield epochs `epoch`, `epoch + 1`, ... without end, each
            exactly this many batches (its pass over the split, repeated or cut); without
            it, the one pass of `epoch`.
        with_metadata: yield (inputs, labels, meta) with utterance ids, sessions, speakers
            and a `valid` flag.
        pad_final_batch: append filler examples (valid=0) so that every batch is full:
            static shapes for TPU and XLA, without dropping real examples.
        feature_cache: a `FeatureCache` whose records are read in step with the shards.
        files: read these shards instead of the split's sessions' (the feature cache).
        num_examples: utterances in the split (known from the manifest): sets the
            dataset's cardinality, so Keras knows the epoch length on the first epoch.
        weight_fillers: yield (inputs, labels, sample weights) in which fillers weigh 0
            and real examples (N + fillers) / N, so that Keras' validation loss (summed
            over a batch, divided by its size, averaged over examples), accuracy and UA
            equal those of the real examples alone. Needs `num_examples`.
        dimensions: {utterance id: (low, high) of its arousal/valence/dominance, or None}
            (`PreparedCorpus.dimension_scales`): labels become {"classes": the class,
            "dimensions": [arousal, valence, dominance] on [0, 1]}, NaN where the
            utterance (or its corpus) has none, outside its scale (older shards' zeros),
            and for fillers, so the masked losses and figures leave them out.
    """
    import tensorflow as tf

    readers = tuple(readers)
    files = list(files) if files is not None else corpus.shard_paths(split.sessions)
    if not files:
        raise ValueError(f"no shards for sessions {sorted(split.sessions)} in {corpus.data_dir}")
    keys = dict.fromkeys(METADATA_KEYS)
    if dimensions is not None:
        keys["vad"] = None
        from mer_tf.data.targets import unit_scaler

        to_unit = unit_scaler(dimensions)
    for reader in readers:
        keys.update(dict.fromkeys(reader.record_keys()))
    spec_tf = UTTERANCE.parse_spec(keys)
    if feature_cache is not None:
        dataset = feature_cache.zipped_dataset(files)
        cache_spec = feature_cache.parse_spec()

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

    keep = split_filter(split)  # its tables are made here, once, not in every pass

    def to_inputs(features):
        inputs = {}
        for reader in readers:
            inputs.update(reader.decode(features))
        if feature_cache is not None:
            inputs.update(feature_cache.decode(features))
        meta = {"utterance_id": features["utterance_id"], "session": features["session"],
                "speaker": features["speaker"], "valid": tf.constant(1, tf.int32)}
        label = tf.cast(features["label"], tf.int32)
        if dimensions is not None:
            label = {"classes": label, "dimensions": to_unit(features["vad"],
                                                             features["utterance_id"])}
        return inputs, label, meta

    def after_batch(inputs, labels, meta):
        for reader in readers:
            inputs = reader.after_batch(inputs)
        return inputs, labels, meta

    full_batches = drop_remainder or pad_final_batch

    def one_pass(records, shuffle_seed=None):
        if shuffle_seed is not None:
            records = records.shuffle(shuffle_buffer, seed=shuffle_seed,
                                      reshuffle_each_iteration=True)
        # (record, cached) pairs unpack into parse's two arguments
        examples = keep(records.map(parse, num_parallel_calls=AUTOTUNE))
        examples = examples.map(to_inputs, num_parallel_calls=AUTOTUNE)
        if pad_final_batch:
            filler = examples.take(1).map(_as_filler).repeat(batch_size - 1)
            examples = examples.concatenate(filler)
        batches = examples.batch(batch_size, drop_remainder=full_batches,
                                 num_parallel_calls=AUTOTUNE)
        if num_examples is not None:
            total = num_examples + (batch_size - 1 if pad_final_batch else 0)
            count = total // batch_size if full_batches else -(-total // batch_size)
            batches = batches.apply(tf.data.experimental.assert_cardinality(count))
        if any(r.works_on_batches for r in readers):
            batches = batches.map(after_batch, num_parallel_calls=AUTOTUNE)
        return batches

    if not training:
        dataset = one_pass(dataset)
    elif steps_per_epoch is None:
        dataset = one_pass(dataset, epoch_seed(seed, epoch))
    else:
        records, steps = dataset, int(steps_per_epoch)

        def one_epoch(index):
            # The graph-level seed of this function is fixed, so the op seed alone (the
            # run's seed and the epoch) decides; TensorFlow's seed helper also cannot
            # take a tensor op seed beside a graph seed of 0 (a run's --seed 0).
            tf.compat.v1.set_random_seed(EPOCH_GRAPH_SEED)
            return one_pass(records, epoch_seed(seed, index)).repeat().take(steps)

        dataset = tf.data.Dataset.range(int(epoch), 2**62).flat_map(one_epoch)
    dataset = dataset.with_options(_sharding())
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


def _sharding():
    """Several workers split every dataset by element (DATA), never by file: a split can
    have fewer shards than there are workers (FILE then fails, and AUTO is FILE), each
    global batch holds the utterances a single worker would have had, and each
    training utterance is seen once per epoch across the workers. Each worker reads the
    whole pipeline and keeps its share, which the deterministic, seeded order allows."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _as_filler(inputs, labels, meta):
    import tensorflow as tf

    if isinstance(labels, dict):  # a filler has no dimensions: the masked losses skip it
        labels = {**labels, "dimensions": tf.fill(tf.shape(labels["dimensions"]), float("nan"))}
    return inputs, labels, {**meta, "valid": meta["valid"] * 0}


EPOCH_GRAPH_SEED = 20_261_207


def epoch_seed(seed: int, epoch):
    """The shuffle seed of training pass `epoch` (an int, or an int64 tensor inside the
    dataset): a function of the run's seed and the epoch alone, below 2**31 as
    TensorFlow's op seeds are."""
    return (epoch * 1_000_003 + int(seed) * 7_919 + 1) % 2_147_483_647


def split_filter(split):
    """dataset -> the dataset of `split`'s records (parsed records with speaker,
    utterance_id and dialog_kind). Sets of ids are hash tables, made here once:
    thousands of ids cost one lookup."""
    import tensorflow as tf

    def member(values):
        values = sorted(set(values))
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(values, tf.string),
                                                tf.ones(len(values), tf.int32)), default_value=0)
        return lambda x: table.lookup(x) > 0

    tests = []  # (field, predicate, keep when the predicate holds)
    if split.exclude_speakers:
        tests.append(("speaker", member(split.exclude_speakers), False))
    if split.only_speakers:
        tests.append(("speaker", member(split.only_speakers), True))
    if split.kinds:
        tests.append(("dialog_kind", member(split.kinds), True))
    if split.exclude_ids:
        tests.append(("utterance_id", member(split.exclude_ids), False))
    if split.only_ids is not None:
        none = lambda x: tf.constant(False)  # noqa: E731
        tests.append(("utterance_id", member(split.only_ids) if split.only_ids else none, True))

    def apply(dataset):
        for field, predicate, wanted in tests:
            if wanted:
                dataset = dataset.filter(lambda f, p=predicate, k=field: p(f[k]))
            else:
                dataset = dataset.filter(lambda f, p=predicate, k=field: tf.logical_not(p(f[k])))
        return dataset

    return apply


def masked_moments(corpus, split, reader, key: str, mask_key: str, transform=None):
    """Per-feature mean and variance of the present (not NaN, not masked) values of input
    `key` over a split: normalisation statistics from the training split alone.
    `transform(values [1, T, F], mask [1, T]) -> (features, present)` takes the moments
    of features derived from the input instead (what a model's first layer computes).

    Streams the split once; the result goes into the model, so validation and test data
    never influence it.
    """
    import numpy as np
    import tensorflow as tf

    spec = UTTERANCE.parse_spec({"speaker": 0, "utterance_id": 0, "dialog_kind": 0,
                                 **dict.fromkeys(reader.record_keys())})
    dataset = tf.data.TFRecordDataset(corpus.shard_paths(split.sessions)).map(
        lambda r: tf.io.parse_single_example(r, spec), num_parallel_calls=AUTOTUNE)
    dataset = split_filter(split)(dataset)

    def moments(features):
        inputs = reader.decode(features)
        x = inputs[key]
        if transform is None:
            valid = tf.logical_and(tf.logical_not(tf.math.is_nan(x)),
                                   tf.cast(inputs[mask_key], tf.bool)[:, None])
        else:
            x, present = transform(x[None], inputs[mask_key][None])
            x, valid = x[0], present[0] > 0
        x = tf.where(valid, tf.cast(x, tf.float64), tf.zeros_like(x, tf.float64))
        count = tf.reduce_sum(tf.cast(valid, tf.float64), axis=0)
        return count, tf.reduce_sum(x, axis=0), tf.reduce_sum(x * x, axis=0)

    count = total = squares = 0.0
    for c, s, q in dataset.map(moments, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE) \
            .as_numpy_iterator():
        count, total, squares = count + c, total + s, squares + q
    count, total, squares = (np.asarray(v, np.float64) for v in (count, total, squares))
    safe = np.maximum(count, 1)
    mean = total / safe
    variance = np.maximum(squares / safe - mean**2, 0.0)
    variance = np.where(count > 1, variance, 1.0)
    variance = np.where(variance > 1e-12, variance, 1.0)
    return mean.tolist(), variance.tolist()
