"""IEMOCAP reading, the synthetic corpus, TFRecord preparation and tf.data pipelines."""

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.labels import LABEL_SETS, LabelSet, get_label_set

__all__ = ["DataError", "ErrorPolicy", "LABEL_SETS", "LabelSet", "get_label_set"]
