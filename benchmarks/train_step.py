"""Training throughput: the paper's configuration against this package's default.

    python -m benchmarks.train_step [--size demo|paper] [--steps 10] [--repeats 3]

paper: the paper's Flatten speech head, float32, batch 5. default: the pooled
speech head and batch 16, plus mixed precision and XLA where a GPU is present.
deterministic: default under TensorFlow's op determinism (`--deterministic`), whose
cost is reported as a ratio.
Same towers, same data, one run; the two alternate over the repetitions and the
median utterances per second of each is reported with their ratio. `--size
paper` uses wav2vec2-base and BERT-base shapes (random weights): meant for a GPU.
"""

from __future__ import annotations

import keras

from benchmarks import common
from mer_tf.training.distribute import op_determinism
from mer_tf.training.fold import compile_model


def measure(assets, data_dir, steps: int, repeats: int, size: str,
            modalities=("speech", "text", "mocap")) -> dict:
    on_gpu = common.accelerator() == "gpu"
    variants = {
        "paper": dict(head="flatten", batch=5, precision="float32", jit=False),
        "default": dict(head="mean", batch=16,
                        precision="mixed_float16" if on_gpu else "float32", jit=on_gpu),
    }
    variants["deterministic"] = {**variants["default"], "deterministic": True}
    runners = {}
    for name, v in variants.items():
        keras.mixed_precision.set_global_policy(v["precision"])
        overrides = {"speech": {"head": v["head"]}}
        if size == "paper":
            overrides["text"] = {"sequence_length": 128}
            overrides["mocap"] = {"max_frames": 256}
        config = common.demo_model_config(assets, modalities, **overrides)
        _, model, dataset = common.build_training(config, data_dir, v["batch"])
        compile_model(model, keras.optimizers.Adam(1e-5), jit_compile=v["jit"])
        dataset = dataset.repeat()
        deterministic = v.get("deterministic", False)
        with op_determinism(deterministic):
            common.time_fit(model, dataset, 2)  # trace, compile, warm up

        def run(m=model, d=dataset, b=v["batch"], on=deterministic):
            with op_determinism(on):
                return steps * b / common.time_fit(m, d, steps)

        runners[name] = run
        keras.mixed_precision.set_global_policy("float32")
    rates = common.alternate(runners, repeats)
    medians = {name: common.median(r) for name, r in rates.items()}
    return {
        "size": size,
        "modalities": list(modalities),
        "device": common.accelerator(),
        "variants": variants,
        "utterances_per_second": {k: round(v, 2) for k, v in medians.items()},
        "all_rates": {k: [round(x, 2) for x in v] for k, v in rates.items()},
        "default_vs_paper": round(medians["default"] / medians["paper"], 2),
        # utterances/s with op determinism over without (below 1: its cost)
        "deterministic_vs_default": round(medians["deterministic"] / medians["default"], 2),
        "steps_per_measurement": steps,
    }


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.add_argument("--size", choices=("demo", "paper"), default="demo")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    root = common.work_dir(args)
    assets = common.bench_assets(root, args.utterances,
                                 input_seconds=15.375 if args.size == "paper" else 3.0)
    if args.size == "paper":
        assets = {**assets, **common.paper_size_assets(root)}
    return common.report("train_step", measure(assets, assets["data_dir"], args.steps,
                                               args.repeats, args.size))


if __name__ == "__main__":
    main()
