"""Training, evaluation, cross-validation, feature caching and export."""
