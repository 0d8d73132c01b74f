"""Several machines: `MultiWorkerMirroredStrategy` from `TF_CONFIG`, and who writes what.

Every worker runs the same folds, epochs and steps (their collectives keep them in step)
and reads the same run folder: the fold a restarted run skips, the backup it resumes
from, the best checkpoint it loads. Only the chief (task 0) writes there; every other
worker writes what it must (TensorBoard, history, metrics) into a temporary folder that
it removes at the end, and exports nothing.

Keras 3.15 needs two fixes to train under this strategy with more than one worker (both
open upstream), applied once by `multi_worker_strategy`:
- `fit`/`evaluate` all-reduce one whole input batch just to learn its shapes, which
  this strategy cannot do for nested inputs (`Attempt to convert a value ({...
  PerReplica ...}) to a Tensor`; keras-team/keras#20329, #20585): each worker's own
  batch has the same shapes, so it is used instead;
- the step's scalar logs are reduced along axis 0 (`Invalid reduction dimension 0 for
  input with 0 dimensions`; tensorflow/tensorflow#72388): they are reduced whole.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile

log = logging.getLogger("mer_tf.training")
# A worker silent this long is declared dead, and the others stop (tests shorten it).
HEARTBEAT_SECONDS = float(os.environ.get("MER_TF_HEARTBEAT_SECONDS", 10))


def task() -> tuple[int, int]:
    """(this worker's index, number of workers) from TF_CONFIG; (0, 1) without it."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster = config.get("cluster", {})
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    kind, index = config.get("task", {}).get("type"), config.get("task", {}).get("index", 0)
    if not workers:
        return 0, 1
    # With a "chief" task it is task 0; without one, worker 0 is the chief.
    return (0 if kind == "chief" else index + int("chief" in cluster)), workers


def is_chief() -> bool:
    return task()[0] == 0


def own_folder(shared: str) -> str:
    """Where this worker writes: the shared run folder on the chief, a temporary one
    elsewhere (removed by `remove_own_folder`)."""
    if is_chief():
        return shared
    index, _ = task()
    own = tempfile.mkdtemp(prefix=f"mer_tf_worker{index}_")
    print(f"worker {index}: writing to the temporary folder {own}", file=sys.stderr)
    return own


def remove_own_folder(own: str, shared: str) -> None:
    if own != shared:
        import shutil

        shutil.rmtree(own, ignore_errors=True)


def barrier(strategy) -> None:
    """Waits until every worker gets here (an all-reduce of one number).

    The class of `tf.distribute.MultiWorkerMirroredStrategy` is named
    CollectiveAllReduceStrategy: a test on the name made this a no-op, and a worker
    could load the best checkpoint before the chief had written it."""
    import tensorflow as tf

    if task()[1] > 1 and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)


def multi_worker_strategy(heartbeat_seconds: float = HEARTBEAT_SECONDS):
    """The strategy for `--strategy multiworker`: ring all-reduce (works on CPU and GPU
    alike), a coordination service that notices a dead worker within `heartbeat_seconds`
    (so the others stop instead of waiting forever), and the Keras fixes above."""
    import tensorflow as tf

    if not os.environ.get("TF_CONFIG"):
        log.warning("--strategy multiworker without TF_CONFIG: running as a single worker")
    else:
        _configure_coordination(heartbeat_seconds)
    patch_keras_for_multi_worker()
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    index, count = task()
    log.info("worker %d of %d, %d replicas in sync", index, count, strategy.num_replicas_in_sync)
    return strategy


def _configure_coordination(heartbeat_seconds: float) -> None:
    """Before the strategy exists (it configures TF's defaults only when nothing is set):
    the heartbeat that declares a worker dead, and bounded waits at start and exit."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context
    from tensorflow.python.training import server_lib

    cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
            for job in ("chief", "worker") if job in cluster]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(server_lib.ClusterSpec(cluster)),
        heartbeat_timeout_in_ms=int(heartbeat_seconds * 1000),
        shutdown_barrier_timeout_in_ms=int(heartbeat_seconds * 1000),
        cluster_register_timeout_in_ms=300_000, coordinated_jobs=jobs)


def patch_keras_for_multi_worker() -> None:
    """The two Keras fixes of the module docstring (idempotent)."""
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as trainer_module

    trainer = trainer_module.TensorFlowTrainer
    if getattr(trainer, "_mer_tf_multi_worker", False):
        return

    def local(value):
        return value.values[0] if isinstance(value, tf.distribute.DistributedValues) else value

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(local, next(batches))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    original = trainer_module.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if (trainer_module._collective_all_reduce_multi_worker(strategy)
                and reduction in ("auto", "mean", "sum")):
            op = "SUM" if reduction == "sum" else "MEAN"
            return tree.map_structure(lambda v: strategy.reduce(op, v, axis=None), values)
        return original(values, strategy, reduction)

    trainer._maybe_symbolic_build = _maybe_symbolic_build
    trainer_module.reduce_per_replica = reduce_per_replica
    trainer._mer_tf_multi_worker = True


def weights_sha256(model) -> str:
    """A digest of the model's weights: equal on every worker after a synchronous run."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for value in model.get_weights():
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()
