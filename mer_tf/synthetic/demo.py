"""The built-in demo: a synthetic corpus and small untrained backbones, offline.

`python -m experiments.concat` without `--data-dir` runs here: the corpus is
generated and prepared on first use under `$MER_TF_HOME/demo` (default
`~/.cache/mer_tf/demo`), next to a wav2vec2-shaped TF-Hub SavedModel and a tiny
BERT keras-hub preset. Both backbones are untrained (random weights): the demo
shows the whole pipeline working and fusion helping, not IEMOCAP accuracy.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from mer_tf.io import storage
from mer_tf.synthetic.design import SyntheticConfig

DEMO_CORPUS = SyntheticConfig(
    seed=0, utterances=int(os.environ.get("MER_TF_DEMO_UTTERANCES", 720)), dialogs_per_session=4,
    mean_seconds=2.0, cue_confusion=0.25)  # MER_TF_DEMO_UTTERANCES: a smaller demo, faster
DEMO_AUDIO_SECONDS = 3.0


def home() -> str:
    return os.environ.get("MER_TF_HOME") or os.path.join(os.path.expanduser("~"), ".cache",
                                                          "mer_tf")


def demo_dir() -> str:
    """One folder per demo corpus version, so a changed corpus is rebuilt, not reused."""
    import hashlib
    import json

    from mer_tf.data.schema import SCHEMA_VERSION
    from mer_tf.synthetic.design import GENERATOR_VERSION

    key = json.dumps([GENERATOR_VERSION, dataclasses.asdict(DEMO_CORPUS), SCHEMA_VERSION],
                     sort_keys=True)
    return storage.join(home(), f"demo-{hashlib.sha256(key.encode()).hexdigest()[:8]}")


def ensure_demo_data(progress: bool = True) -> str:
    """Generates and prepares the demo corpus unless it is already there; returns DATA_DIR."""
    from mer_tf.data import prepare as prep
    from mer_tf.synthetic.release import ensure_release

    data_dir = storage.join(demo_dir(), "data")
    if storage.exists(storage.join(data_dir, prep.MANIFEST)):
        return data_dir
    if progress:
        print(f"preparing the demo corpus in {data_dir} (first use only)", file=sys.stderr)
    release = ensure_release(storage.join(demo_dir(), "release"), DEMO_CORPUS)
    prep.prepare(prep.PrepareConfig(source=release, out_dir=data_dir), progress=progress)
    return data_dir


def ensure_demo_backbones() -> dict:
    """The demo's speech SavedModel and text preset directories (built on first use)."""
    from mer_tf.testing.backbones import tiny_backbones

    truth = storage.read_json(storage.join(demo_dir(), "release", "SYNTHETIC.json"))
    texts = [u["transcript"] for u in truth["utterances"]]  # unsupervised: vocabulary only
    return tiny_backbones(storage.join(demo_dir(), "backbones"), texts, DEMO_AUDIO_SECONDS)


def demo_assets(progress: bool = True) -> dict:
    """What a run without --data-dir reads ({"data_dir", "speech", "text"}), built on first
    use; its settings are the "demo" preset's (`mer_tf.config.presets`)."""
    data_dir = ensure_demo_data(progress=progress)
    return {"data_dir": data_dir, **ensure_demo_backbones()}


def banner(experiment: str) -> str:
    """What a demo run says first: it measures the pipeline, and how to run the real thing."""
    from mer_tf.data.corpus import PreparedCorpus

    data_dir = storage.join(demo_dir(), "data")
    utterances = PreparedCorpus.open(data_dir).utterances
    return BANNER.format(utterances=utterances, data_dir=data_dir, experiment=experiment)


BANNER = """\
============================================================================
 DEMO MODE: no --data-dir given, so this runs on the built-in synthetic corpus
 ({utterances} utterances in IEMOCAP's layout, {data_dir})
 with small UNTRAINED backbones (a wav2vec2-shaped SavedModel and a tiny BERT).
 Figures measure the pipeline, not IEMOCAP accuracy. For the real thing:
   python -m experiments.prepare --iemocap PATH/IEMOCAP_full_release --out DATA
   python -m experiments.{experiment} --data-dir DATA
============================================================================"""
