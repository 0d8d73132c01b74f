"""Corpora in, examples out: each corpus's release read by its reader (`corpora` lists
them: `iemocap` with `iemocap_files`, `mocap_files` and `dialog`; `msp_podcast`,
`msp_improv`, `crema_d`, `ravdess`, `meld`, `esd`, and `table` for your own; `audio`
decodes their files), several prepared corpora made one (`combine`), prepared as
TFRecord shards with a manifest (`prepare`, `shard_writers`, `manifest`, `schema`),
opened and verified (`corpus`, `verify`) and read back by tf.data (`pipeline`,
`readers`, `targets`). Bad input is a `DataError` naming the file.

Imports io, frames, layout, registry and config; nothing above them.
"""

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.labels import LABEL_SETS, LabelSet, get_label_set

__all__ = ["DataError", "ErrorPolicy", "LABEL_SETS", "LabelSet", "get_label_set"]
