"""Corpora in, examples out: the IEMOCAP release read (`iemocap`, `iemocap_files`,
`mocap_files`, `audio`), prepared as TFRecord shards with a manifest (`prepare`,
`shard_writers`, `manifest`, `schema`), opened and verified (`corpus`, `verify`) and read
back by tf.data (`pipeline`, `readers`). Bad input is a `DataError` naming the file.

Imports io, frames, layout, registry and config; nothing above them.
"""

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.labels import LABEL_SETS, LabelSet, get_label_set

__all__ = ["DataError", "ErrorPolicy", "LABEL_SETS", "LabelSet", "get_label_set"]
