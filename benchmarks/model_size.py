"""Parameter counts of each tower, and where a training step's time goes.

    python -m benchmarks.model_size [--sizes demo,paper] [--repeats 3]

Paper size: wav2vec2-base shapes (95 M parameters, 246 000-sample input) and
BERT-base (110 M), with random weights; the speech head as the paper's Flatten
-> Dense(128) and as the default pooled head; the mocap transformer on the
189 features of IEMOCAP at 256 frames.

For each size it also times one training step (forward, backward, Adam update;
the paper's batch of 5) of each tower alone, the towers alternating over the
repetitions, median reported: the share of each tower says which stage a real
run waits on.
"""

from __future__ import annotations

from benchmarks import common


def counts(assets: dict, frames: int, text_length: int) -> dict:
    from mer_tf.data.corpus import IEMOCAP_FACTS
    from mer_tf.models.fusion import ModelBuilder, tower_parameter_counts

    out = {}
    for head in ("mean", "flatten"):
        config = common.demo_model_config(assets, speech={"head": head},
                                          text={"sequence_length": text_length},
                                          mocap={"max_frames": frames})
        builder = ModelBuilder(config, IEMOCAP_FACTS)
        out[f"speech_head_{head}"] = tower_parameter_counts(builder)
    return out


def _random_batch(model, batch: int) -> dict:
    """Valid random inputs for every input of `model` (token ids in range, masks all ones)."""
    import numpy as np

    rng = np.random.default_rng(0)
    out = {}
    for tensor in model.inputs:
        name, shape = tensor.name.split(":")[0], (batch, *tensor.shape[1:])
        if name == "token_ids":
            vocabulary = min(getattr(layer, "vocabulary_size", 1000) for layer in model.layers
                             if hasattr(layer, "vocabulary_size"))
            out[name] = rng.integers(5, vocabulary, shape).astype("int32")
        elif name == "segment_ids":
            out[name] = np.zeros(shape, "int32")
        elif name in ("padding_mask", "mocap_mask"):
            out[name] = np.ones(shape, "int32")
        elif name == "waveform_length":
            out[name] = np.full(shape, model.get_layer("waveform").output.shape[1], "int32")
        else:
            out[name] = rng.normal(0, 0.1, shape).astype("float32")
    return out


def step_seconds(assets: dict, frames: int, text_length: int, batch: int = 5,
                 repeats: int = 3) -> dict:
    """Median seconds of one training step of each tower alone, and its share of their sum."""
    import time

    import keras
    import numpy as np

    from mer_tf.data.corpus import IEMOCAP_FACTS
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.training.fold import compile_model

    steps = {}
    for name in ("speech", "text", "mocap"):
        config = common.demo_model_config(assets, modalities=(name,),
                                          text={"sequence_length": text_length},
                                          mocap={"max_frames": frames})
        model = ModelBuilder(config, IEMOCAP_FACTS).model()
        compile_model(model, keras.optimizers.Adam(1e-5))
        inputs, labels = _random_batch(model, batch), np.zeros((batch,), "int32")
        model.train_on_batch(inputs, labels)  # builds the optimizer and traces the step

        def step(model=model, inputs=inputs, labels=labels):
            start = time.perf_counter()
            model.train_on_batch(inputs, labels)
            return time.perf_counter() - start

        steps[name] = step
    timings = common.alternate(steps, repeats)
    medians = {name: float(np.median(values)) for name, values in timings.items()}
    total = sum(medians.values())
    return {"device": common.accelerator(), "batch": batch,
            "seconds": {k: round(v, 4) for k, v in medians.items()},
            "share": {k: round(v / total, 3) for k, v in medians.items()}}


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.add_argument("--sizes", default="demo,paper")
    args = parser.parse_args(argv)
    root = common.work_dir(args)
    figures = {}
    for size in args.sizes.split(","):
        if size == "demo":
            assets, frames, length = common.bench_assets(root, args.utterances), 96, 32
        else:
            assets, frames, length = common.paper_size_assets(root), 256, 128
        figures[size] = counts(assets, frames, length)
        figures[size]["training_step"] = step_seconds(assets, frames, length,
                                                      repeats=args.repeats)
    return common.report("model_size", figures)


if __name__ == "__main__":
    main()
