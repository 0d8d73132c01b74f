"""The training loop: one run over its folds (`trainer`), a fold's stages (`fold`), the
per-epoch commit a kill resumes from (`progress`), callbacks, optimizers, distribution
strategies and workers, the feature cache, splits, the run's configuration
(`run_config`), its folder (`run_folder`) and finished runs loaded back (`runs`).

Imports every floor below it (io, config, data, models, evaluation, serving).
"""
