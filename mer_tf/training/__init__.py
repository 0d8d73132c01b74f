"""The training loop: one run over its folds (`trainer`), a fold's stages (`fold`), the
per-epoch commit a kill resumes from (`progress`), callbacks, optimizers, distribution
strategies and workers, the feature cache, splits, the run's folder (`run_folder`) and
finished runs loaded back (`runs`). The run's configuration is `mer_tf.config`'s.

Imports every floor below it (io, config, data, models, evaluation, serving).
"""
