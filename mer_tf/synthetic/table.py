"""A corpus of your own, as `--corpus table` reads it: the synthetic release's utterances
written as one audio file each and a table beside them (the format
`mer_tf.data.table` documents), so the table path is tested on audio whose emotion a
model can learn.

    root/table.csv     path,label,speaker,text,group
    root/audio/<utterance>.wav
"""

from __future__ import annotations

import csv
import io

from mer_tf.io import storage
from mer_tf.synthetic.design import SyntheticConfig


def write_table_release(root: str, config: SyntheticConfig, name: str = "table.csv",
                        labels: dict | None = None) -> tuple[str, list]:
    """(the table's path, the ground truth) of a synthetic corpus written as a table;
    `labels` renames the raw codes (`{"ang": "angry", …}`), as another corpus names them."""
    from mer_tf.synthetic.release import ensure_release

    release = ensure_release(storage.join(root, "iemocap_layout"), config)
    truth = storage.read_json(storage.join(release, "SYNTHETIC.json"))["utterances"]
    storage.makedirs(storage.join(root, "audio"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if name.endswith(".tsv") else ",",
                        lineterminator="\n")
    writer.writerow(["path", "label", "speaker", "text", "group"])
    for u in truth:
        dialog, session = u["dialog"], u["session"]
        source = storage.join(release, f"Session{session}", "sentences", "wav", dialog,
                              f"{u['utterance_id']}.wav")
        storage.copy(source, storage.join(root, "audio", f"{u['utterance_id']}.wav"))
        speaker = f"Ses{session:02d}{u['speaker_gender']}"
        label = (labels or {}).get(u["emotion"], u["emotion"])
        writer.writerow([f"audio/{u['utterance_id']}.wav", label, speaker, u["transcript"],
                         f"session{session}"])
    path = storage.join(root, name)
    storage.write_text_atomic(path, buffer.getvalue())
    return path, truth
