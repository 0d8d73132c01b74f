"""The Keras 3 wav2vec2 at base size on whatever backend and device Keras has: forward
and training-step time and throughput in float32 and mixed bfloat16, batch 1 and 8.

    KERAS_BACKEND=jax python -m benchmarks.keras3_backbone      # e.g. on a GPU machine
    python -m benchmarks.keras3_backbone --batches 1 --seconds 4  # TensorFlow, CPU

The model is pure Keras 3 (`keras.ops`), so it runs under JAX as well as TensorFlow;
steps are compiled (XLA under JAX, `jit_compile=True` under TensorFlow). Weights are
random (wav2vec2-base's shapes, written by our stand-in builder in Hugging Face's
layout and read back by the loader a real checkpoint goes through).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def _device() -> str:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return "GPU" if gpus else "CPU"


def _peak_device_mib():
    import keras

    if keras.backend.backend() != "jax":
        return None
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return round(peak / 2**20, 1) if peak else None


def measure(checkpoint: str, seconds: float, batches, precisions, steps: int) -> dict:
    import keras
    import numpy as np

    from mer_tf.models.speech.hf_checkpoint import load_hf_speech_checkpoint
    from mer_tf.training.fold import compile_model

    samples = int(seconds * 16000)
    rows = []
    for precision in precisions:
        keras.mixed_precision.set_global_policy(precision)
        backbone = load_hf_speech_checkpoint(checkpoint, freeze_feature_encoder=True)
        waveform = keras.Input((samples,))
        states = backbone(waveform)["hidden_states"]
        pooled = keras.layers.GlobalAveragePooling1D()(states[-1])
        outputs = keras.layers.Dense(4, activation="softmax", dtype="float32")(pooled)
        model = keras.Model(waveform, outputs)
        compile_model(model, keras.optimizers.Adam(1e-5), jit_compile=True)
        for batch in batches:
            rng = np.random.default_rng(0)
            x = rng.normal(0, 0.1, (batch, samples)).astype("float32")
            y = np.zeros((batch,), "int32")
            start = time.perf_counter()
            first = model.predict_on_batch(x)
            compile_forward = time.perf_counter() - start
            model.train_on_batch(x, y)
            forward, step = [], []
            for _ in range(steps):
                start = time.perf_counter()
                np.asarray(model.predict_on_batch(x))
                forward.append(time.perf_counter() - start)
                start = time.perf_counter()
                loss = model.train_on_batch(x, y)
                step.append(time.perf_counter() - start)
            rows.append({
                "precision": precision, "batch": batch,
                "forward_ms": round(1000 * float(np.median(forward)), 1),
                "step_ms": round(1000 * float(np.median(step)), 1),
                "training_utterances_per_second": round(batch / float(np.median(step)), 2),
                "first_forward_seconds_with_compile": round(compile_forward, 1),
                "finite": bool(np.isfinite(first).all() and np.isfinite(loss)),
                "peak_device_mib": _peak_device_mib(),
            })
            print(json.dumps(rows[-1]), flush=True)
        keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float32")
    return {"backend": keras.backend.backend(), "device": _device(), "input_seconds": seconds,
            "runs": rows}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.375)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--work-dir", default=None)
    args = parser.parse_args(argv)
    from benchmarks.speech_backbones import hf_checkpoint

    work = args.work_dir or tempfile.mkdtemp(prefix="mer_tf_keras3_backbone_")
    batches = [int(b) for b in args.batches.split(",")]
    result = measure(hf_checkpoint(work, "base"), args.seconds, batches,
                     args.precisions.split(","), args.steps)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
