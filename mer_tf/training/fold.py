"""One fold, in the stages the trainer and the benchmarks share: build the model (with
its training-split statistics and feature cache), make the datasets, fit.

    built = build_fold(config, fold, corpus, strategy)
    data = fold_datasets(config, fold, corpus, built, strategy)
    fit_fold(config, built, data, directory, callbacks)
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings

from mer_tf.io import storage
from mer_tf.layout import FoldLayout


@dataclasses.dataclass
class BuiltFold:
    """A fold's model and what was built with it."""

    builder: object  # ModelBuilder
    model: object  # compiled keras.Model (on cached features where `cached`)
    cached: tuple = ()  # modalities whose features come from `feature_cache`
    feature_cache: object = None

    @property
    def readers(self) -> tuple:
        return self.builder.readers(self.cached)


@dataclasses.dataclass
class FoldData:
    train: object
    validation: object
    counts: dict  # utterances per split
    steps_per_epoch: int
    static_shapes: bool  # full batches only (TPU, XLA, several replicas)
    validation_steps: int = 0
    class_weight: dict | None = None  # class index -> loss weight (--class-weight balanced)


def fold_statistics(config, fold, corpus, directory: str | None = None) -> dict:
    """Each tower's training-split statistics (validation and test never seen); written
    beside the fold's results, where `load_run` reads them back."""
    from mer_tf.registry import tower_class

    statistics = {}
    for name in config.model.modalities:
        cls = tower_class(name)
        tower_config = config.model.tower_config(name, cls.config_class)
        value = cls.statistics(tower_config, corpus.facts, corpus, fold.train_split())
        if value is not None:
            statistics[name] = value
            if directory is not None:
                storage.makedirs(directory)
                storage.write_json_atomic(
                    FoldLayout(directory).statistics(name),
                    {**value, "train_sessions": list(fold.train_sessions)})
    return statistics


def read_statistics(directory: str, modalities) -> dict:
    """The statistics `fold_statistics` wrote for a fold."""
    out = {}
    for name in modalities:
        path = FoldLayout(directory).statistics(name)
        if storage.exists(path):
            value = storage.read_json(path)
            value.pop("train_sessions", None)
            out[name] = value
    return out


def steps_per_epoch(config, train_count: int, drop_remainder: bool = False) -> int:
    """Batches of one epoch: `--steps-per-epoch`, else one pass over the training split
    (the last, short batch dropped where static shapes need full ones)."""
    batch = config.train.batch_size
    whole = train_count // batch if drop_remainder else -(-train_count // batch)
    return config.train.steps_per_epoch or max(whole, 1)


def compile_model(model, optimizer, weighted_metrics=(), jit_compile=False,
                  dimensions: tuple | None = None):
    """Compile for sparse labels with every variable made now, in the current strategy's
    scope. Keras 3 would make the optimizer's slots (and metrics named by a string, hence
    metric objects here) inside the first trace of the train step, and tf.function then
    traces the step a second time: on the test-size model that was a third of a run.

    `dimensions` (loss name, weight) compiles a model with a "dimensions" output: its
    masked loss weighed against the cross-entropy, and its epoch CCC as `ccc`."""
    import keras

    if dimensions is None:
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(),
                      weighted_metrics=list(weighted_metrics) or None, jit_compile=jit_compile)
    else:
        from mer_tf.evaluation.metrics import MeanConcordance
        from mer_tf.models.losses import DIMENSION_LOSSES

        name, weight = dimensions
        loss = {"dimensions": DIMENSION_LOSSES[name]()}
        weights = {"dimensions": float(weight)}
        metrics = {"dimensions": [MeanConcordance()]}
        weighted = {}
        if "classes" in model.output:
            loss["classes"] = keras.losses.SparseCategoricalCrossentropy()
            weights["classes"] = 1.0
            weighted["classes"] = list(weighted_metrics)
        model.compile(optimizer=optimizer, loss=loss, loss_weights=weights, metrics=metrics,
                      weighted_metrics=weighted or None, jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)
    return model


def build_fold(config, fold, corpus, strategy, directory: str | None = None,
               progress: bool = True) -> BuiltFold:
    """The fold's compiled model in `strategy`'s scope, and its feature cache, if any."""
    import keras

    from mer_tf.evaluation.metrics import UnweightedAccuracy
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.training.feature_cache import FeatureCache
    from mer_tf.training.optimizers import make_optimizer

    train = config.train
    statistics = fold_statistics(config, fold, corpus, directory)
    steps = steps_per_epoch(config, corpus.count(fold.train_split()))
    with strategy.scope():
        builder = ModelBuilder(config.model, corpus.facts, statistics)
        cached = builder.cacheable() if train.cache_features else ()
        if train.cache_features and not cached:
            raise ValueError("--cache-features needs a frozen pretrained tower "
                             "(--freeze speech and/or text) in the model")
        model = builder.model(cached=cached)
        optimizer = make_optimizer(train, builder.backbone_variables(),
                                   warmup_steps=round(train.backbone_warmup_epochs * steps),
                                   tower_rates=builder.tower_rates())
        compile_model(model, optimizer, jit_compile=train.jit_compile,
                      # weighted: validation fillers weigh 0 (training data has no weights)
                      weighted_metrics=[
                          keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                          UnweightedAccuracy(config.model.num_classes)]
                      if config.model.predicts_classes else (),
                      dimensions=(train.dimension_loss, train.dimension_weight)
                      if config.model.predicts_dimensions else None)
    feature_cache = None
    if cached:
        feature_cache = FeatureCache(corpus, builder, cached)
        feature_cache.ensure(batch_size=max(train.batch_size, 16), progress=progress)
    return BuiltFold(builder, model, cached, feature_cache)


def uses_static_shapes(config, strategy) -> bool:
    """Full batches only where a short one breaks: TPU and XLA need static shapes, and
    with several replicas a short last batch leaves a replica an empty one."""
    from mer_tf.training.distribute import uses_tpu

    return (uses_tpu(strategy) or config.train.jit_compile
            or strategy.num_replicas_in_sync > 1)


def fold_datasets(config, fold, corpus, built: BuiltFold, strategy,
                  first_epoch: int = 0) -> FoldData:
    """The fold's training and validation data. Training starts at `first_epoch` (counted
    from 0: the epochs a resumed fold already has), each epoch shuffled by the run's seed
    and its own index alone, so a resumed fold reads what an uninterrupted one would."""
    from mer_tf.training.distribute import check_batch_size

    train = config.train
    check_batch_size(train.batch_size, strategy)
    counts = {"train": corpus.count(fold.train_split()),
              "validation": corpus.count(fold.validation_split()),
              "test": corpus.count(fold.test_split())}
    if min(counts.values()) == 0:
        raise ValueError(f"{fold.name}: an empty split {counts}; check the prepared sessions")
    static = uses_static_shapes(config, strategy)
    steps = steps_per_epoch(config, counts["train"], drop_remainder=static)
    common = dict(seed=train.seed, feature_cache=built.feature_cache,
                  shuffle_buffer=config.data.shuffle_buffer,
                  dimensions=corpus.dimension_scales() if config.model.predicts_dimensions
                  else None)
    # Both datasets run without end and fit is told how many batches an epoch and a
    # validation pass have: Keras then keeps one iterator for the whole fit instead of
    # making two every epoch (each costs a fresh start of the pipeline: 0.2-0.35 s with
    # the text tower's tokenizer).
    train_data = corpus.dataset(fold.train_split(), built.readers, train.batch_size,
                                training=True, drop_remainder=static,
                                num_examples=counts["train"], epoch=first_epoch,
                                steps_per_epoch=steps, **common)
    # Static shapes pad the last validation batch with fillers: they weigh 0, so they
    # never count in val_loss / val_ua, which pick the best epoch and stop training.
    validation_data = corpus.dataset(fold.validation_split(), built.readers, train.batch_size,
                                     training=False, pad_final_batch=static,
                                     weight_fillers=static, num_examples=counts["validation"],
                                     **common).repeat()
    validation_batches = (-(-counts["validation"] // train.batch_size))
    weights = None
    if train.class_weight == "balanced" and config.model.predicts_dimensions:
        raise ValueError("--class-weight balanced weighs the class head alone; with "
                         "--targets dimensions or both it is not supported yet")
    if train.class_weight == "balanced":
        weights = balanced_class_weights([r["label"] for r in corpus.rows(fold.train_split())],
                                         config.model.num_classes)
    return FoldData(train_data, validation_data, counts, steps, static, validation_batches,
                    weights)


def balanced_class_weights(labels, num_classes: int) -> dict:
    """n / (classes present x count) per class, as scikit-learn's "balanced": every class
    weighs the same in the loss; a class absent from training gets weight 1."""
    import numpy as np

    counts = np.bincount(np.asarray(labels, int), minlength=num_classes)
    present = max(int((counts > 0).sum()), 1)
    return {c: float(len(labels) / (present * counts[c])) if counts[c] else 1.0
            for c in range(num_classes)}


@contextlib.contextmanager
def towers_warnings_silenced(builder):
    """Silences the warnings towers declare harmless (BERT's unused pooler) while fitting,
    and nowhere else: importing the package changes no process-wide filter."""
    with warnings.catch_warnings():
        for tower in builder.towers.values():
            for message in tower.ignored_warnings:
                warnings.filterwarnings("ignore", message=message)
        yield


def fit_fold(config, built: BuiltFold, data: FoldData, callbacks=(), progress: bool = True):
    """`model.fit` over the fold's data; returns Keras' History."""
    with towers_warnings_silenced(built.builder):
        return built.model.fit(
            data.train, validation_data=data.validation, epochs=config.train.epochs,
            class_weight=data.class_weight, validation_steps=data.validation_steps,
            steps_per_epoch=data.steps_per_epoch, callbacks=list(callbacks),
            shuffle=False,  # the tf.data pipeline shuffles, with the run's seed
            verbose=2 if progress else 0)
