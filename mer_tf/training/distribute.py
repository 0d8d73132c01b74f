"""tf.distribute strategies and precision for CPU, GPU and TPU (Colab included)."""

from __future__ import annotations

import contextlib
import logging
import os

log = logging.getLogger("mer_tf.training")


def tpu_address(configured: str = "") -> str | None:
    """A TPU to use: the flag, else the Colab / Cloud TPU environment, else None."""
    if configured:
        return configured
    for variable in ("COLAB_TPU_ADDR", "TPU_NAME"):
        if os.environ.get(variable):
            value = os.environ[variable]
            return f"grpc://{value}" if variable == "COLAB_TPU_ADDR" else value
    if os.path.exists("/dev/accel0") or os.environ.get("TPU_ACCELERATOR_TYPE"):
        return "local"  # a TPU VM (the current Colab TPU runtime)
    return None


def make_strategy(name: str = "auto", tpu: str = ""):
    """Returns a tf.distribute strategy.

    auto: TPU when one is found, MirroredStrategy over several GPUs, else the
    default (one device). multiworker reads TF_CONFIG.
    """
    import tensorflow as tf

    if name == "auto":
        if tpu_address(tpu):
            name = "tpu"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            return tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        cpus = tf.config.list_logical_devices("CPU")
        if not gpus and len(cpus) > 1:  # logical CPU devices (tests, CPU-only hosts)
            return tf.distribute.MirroredStrategy([d.name for d in cpus])
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        from mer_tf.training.workers import multi_worker_strategy

        return multi_worker_strategy()
    if name == "tpu":
        address = tpu_address(tpu)
        if address is None:
            raise RuntimeError("--strategy tpu: no TPU found (pass --tpu ADDRESS, or run on a "
                               "Colab TPU runtime)")
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu="" if address == "local" else address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}")


def uses_tpu(strategy) -> bool:
    return "TPU" in type(strategy).__name__


def accelerator(strategy) -> str:
    import tensorflow as tf

    if uses_tpu(strategy):
        return "tpu"
    return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"


def precision_policy(setting: str, strategy) -> str:
    """Keras dtype policy for --mixed-precision: off -> float32; auto -> bfloat16 on
    TPU and CPU, float16 on GPU (with loss scaling, which Keras adds at compile)."""
    if setting == "off":
        return "float32"
    if setting == "auto":
        setting = "float16" if accelerator(strategy) == "gpu" else "bfloat16"
    return f"mixed_{setting}"


def check_batch_size(batch_size: int, strategy) -> None:
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"batch size {batch_size} is not divisible by the {replicas} replicas; "
                         f"use a multiple of {replicas}")


@contextlib.contextmanager
def op_determinism(enabled: bool):
    """TensorFlow's op determinism for the block (`--deterministic`), restored after, so
    one run's choice does not outlive it in a process that runs several."""
    if not enabled:
        yield
        return
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    was = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was:
            tf_config.disable_op_determinism()
