"""Shared fixtures: a small synthetic IEMOCAP release and its prepared TFRecords.

Everything is built offline by the tests themselves (no network here: no TF-Hub,
Hugging Face or IEMOCAP download).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Several pytest workers share the cores: one thread per op in each (and in their
    # subprocesses) instead of every process claiming all of them.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import pytest  # noqa: E402

from mer_tf.data import prepare as prep  # noqa: E402
from mer_tf.synthetic.release import SyntheticConfig, generate  # noqa: E402

SMALL = SyntheticConfig(seed=7, utterances=60, dialogs_per_session=4, mean_seconds=1.0)


# Scheduling on pytest-xdist workers (`make test`: -n 2 --dist loadfile
# --no-loadscope-reorder). Each file runs on one worker, so its module fixtures are built
# once; files that share an expensive session fixture run on the same worker, so it is
# built once, not on both; the longest groups start first (longest-processing-time-first
# keeps both workers busy to the end). Seconds on 2 cores, 2026-12-03: trained_run ~280,
# workers ~150, benchmarks ~140, protocol ~110, distribute ~75, fusion ~55,
# reliability ~60, colab ~50, the rest less.
# (pytest 9.2 ignores xdist's own `xdist_group` marks, so the grouping is done here.)
SHARED_GROUPS = {"test_export": "trained_run", "test_trainer": "trained_run",
                 "test_recordings": "trained_run", "test_transfer": "trained_run"}
LONGEST_FIRST = ("trained_run", "test_workers", "test_benchmarks", "test_protocol",
                 "test_distribute", "test_fusion", "test_reliability", "test_colab")


def _group(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return SHARED_GROUPS.get(module, module)


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _group(nodeid)

    return SharedFixtureScheduling(config, log)


# Test tiers, as keras-hub marks its `large` tests: a test that builds a corpus, a
# backbone or a run, trains or starts processes is marked `slow` where it is written;
# `make test-fast` runs the rest (`-m "not slow"`), `make test` everything. A test that
# takes one of these fixtures unmarked is refused at collection, so the fast tier stays
# fast.
CORPUS_FIXTURES = {"release", "prepared", "corpus", "assets", "trained_run", "recognizer",
                   "session1", "copy_of_prepared"}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds a corpus, backbone or run (make test only)")


def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items if item.get_closest_marker("slow") is None
                and CORPUS_FIXTURES & set(getattr(item, "fixturenames", ()))]
    if unmarked:
        raise pytest.UsageError("mark these tests @pytest.mark.slow (they build a corpus, a "
                                "backbone or a run): " + ", ".join(unmarked))

    def rank(item):
        name = _group(item.nodeid)
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: files keep their order within and after the ranked ones


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



@pytest.fixture(scope="session")
def assets(release, tmp_path_factory):
    """Small backbones built offline by the demo's own builder: a wav2vec2-shaped TF-Hub
    SavedModel (1 s input) and a tiny BERT keras-hub preset whose vocabulary comes from
    the transcripts."""
    from mer_tf.testing.backbones import tiny_backbones

    return tiny_backbones(str(tmp_path_factory.mktemp("assets")),
                          [t.transcript for t in release[1]], audio_seconds=1.0,
                          bert={"vocabulary_size": 200, "hidden_dim": 16, "intermediate_dim": 32,
                                "max_sequence_length": 32})


@pytest.fixture(scope="session")
def corpus(prepared):
    from mer_tf.data.corpus import PreparedCorpus

    return PreparedCorpus(*prepared)


@pytest.fixture(scope="session")
def trained_run(prepared, assets, tmp_path_factory):
    """A finished `concat` run (two epochs, modality dropout 0.5, so it also serves with a
    modality missing) on the test corpus, made through the CLI."""
    from experiments import concat
    from tests.helpers import run_args, train

    run_dir = tmp_path_factory.mktemp("runs") / "concat"
    train(concat.main, run_args(prepared, assets, run_dir, "--modality-dropout", "0.5"))
    return str(run_dir)
