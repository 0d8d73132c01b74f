"""From a run folder back to a Keras model, for evaluation and further training.

    from mer_tf.training.runs import load_run
    run = load_run("runs/concat/20261128-120000")          # LOSO: load_run(path, "fold3")
    run.model                  # the raw-input Keras model with the fold's best weights
    run.calibrated(p)          # its probabilities as the SavedModel serves them
    run.dataset(split)         # inputs as the run read them (needs the prepared corpus)

The exported SavedModel (`mer_tf.serving.recognizer`) serves without this package; this is the
way back into it: the run's config.json, its towers' training-split statistics, its
best checkpoint, and the backbones the config names.
"""

from __future__ import annotations

import dataclasses

from mer_tf.io import storage
from mer_tf.layout import FoldLayout, RunLayout


@dataclasses.dataclass
class LoadedRun:
    config: object  # RunConfig
    directory: str  # the fold's folder
    builder: object  # ModelBuilder (towers, readers, backbones)
    model: object  # keras.Model on raw inputs, best weights loaded
    statistics: dict  # per tower, from the training split
    corpus: object = None  # PreparedCorpus, when the run's data folder is there
    temperature: float = 1.0  # fitted on validation after training (1.0: none)

    def calibrated(self, probabilities):
        """`model`'s probabilities scaled by the fold's temperature, as its SavedModel
        serves them (the argmax is the same)."""
        from mer_tf.evaluation.calibration import scale

        return scale(probabilities, self.temperature) if self.temperature != 1.0 else probabilities

    @property
    def label_names(self) -> tuple:
        return tuple(self.config.model.class_names)

    def dataset(self, split, batch_size: int | None = None, **options):
        """`split` of the run's corpus, read the way the model expects its inputs."""
        if self.corpus is None:
            raise FileNotFoundError(f"the run's data folder {self.config.data.data_dir} is "
                                    "not there; prepare it again to read its datasets")
        return self.corpus.dataset(split, self.builder.readers(),
                                   batch_size or self.config.train.batch_size,
                                   training=False, **options)


def fold_directory(run_dir: str, fold: str | None = None) -> str:
    """The folder holding a fold's checkpoints: the run folder (session5) or one of its
    fold folders (LOSO; the first with a best checkpoint when `fold` is not named)."""
    run = RunLayout(run_dir)
    if fold:
        if fold not in run.fold_names():
            raise FileNotFoundError(f"{run_dir} has no fold {fold!r} (it has "
                                    f"{', '.join(run.fold_names()) or 'none'})")
        return run.fold(fold).root
    for layout in run.folds():
        if layout.has_best_weights():
            return layout.root
    raise FileNotFoundError(f"no best checkpoint under {run_dir} (looked in "
                            f"{', '.join(run.fold_names()) or 'no fold'})")


def load_run(run_dir: str, fold: str | None = None) -> LoadedRun:
    """The Keras model of a finished (or interrupted) run with its best weights."""
    from mer_tf.config import RunConfig
    from mer_tf.data.corpus import DataFacts, PreparedCorpus
    from mer_tf.layout import INFO_FILE
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.training.callbacks import load_weights
    from mer_tf.training.fold import read_statistics

    config = RunConfig.load(run_dir)
    directory = fold_directory(run_dir, fold)
    layout = FoldLayout(directory)
    corpus = None
    if storage.exists(storage.join(config.data.data_dir, "manifest.json")):
        corpus = PreparedCorpus.open(config.data.data_dir)
        facts = corpus.facts
    else:  # the corpus is elsewhere: the exported model recorded what the towers need
        info_path = storage.join(layout.saved_model, INFO_FILE)
        if not storage.exists(info_path):
            raise FileNotFoundError(f"neither the run's data ({config.data.data_dir}) nor its "
                                    f"export ({info_path}) is there to shape the inputs")
        facts = DataFacts.from_export_info(storage.read_json(info_path))
    statistics = read_statistics(directory, config.model.modalities)
    builder = ModelBuilder(config.model, facts, statistics)
    # The checkpoint holds the weights of the model that trained: on cached features, when
    # the run cached them. Both models share their layers, so loading one fills the other.
    cached = builder.cacheable() if config.train.cache_features else ()
    load_weights(builder.model(cached=cached), layout.best_weights)
    metrics = storage.read_json(layout.metrics) if storage.exists(layout.metrics) else {}
    temperature = float(metrics.get("calibration", {}).get("temperature", 1.0))
    return LoadedRun(config, directory, builder, builder.model(), statistics, corpus,
                     temperature)
