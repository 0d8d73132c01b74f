"""Shared fixtures: a small synthetic IEMOCAP release and its prepared TFRecords.

Everything is built offline by the tests themselves (DESIGN.md section 4).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from mer_tf.data import prepare as prep  # noqa: E402
from mer_tf.data.synthetic import SyntheticConfig, generate  # noqa: E402

SMALL = SyntheticConfig(seed=7, utterances=60, dialogs_per_session=4, mean_seconds=1.0)


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """(root, ground truth) of a small five-session synthetic release."""
    root = str(tmp_path_factory.mktemp("release") / "IEMOCAP_full_release")
    truth = generate(root, SMALL)
    return root, truth


@pytest.fixture(scope="session")
def prepared(release, tmp_path_factory):
    """(data_dir, manifest) of the small release prepared with default settings."""
    out = str(tmp_path_factory.mktemp("prepared"))
    manifest = prep.prepare(prep.PrepareConfig(source=release[0], out_dir=out, shard_size=16),
                            progress=False)
    return out, manifest
