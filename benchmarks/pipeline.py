"""Input pipeline against the model: can tf.data keep the model fed?

    python -m benchmarks.pipeline [--batches 20] [--repeats 3]

For every modality subset: examples per second of the tf.data pipeline alone
(parse, decode, tokenize, crop/pad, batch) and of the model's training step fed
by it, alternating, medians over the repetitions. The ratio pipeline / model
must stay above 1: the pipeline is never what the model waits for.
"""

from __future__ import annotations

import itertools
import time

import keras

from benchmarks import common
from mer_tf.training.fold import compile_model

SUBSETS = ["+".join(s) for r in (1, 2, 3)
           for s in itertools.combinations(("speech", "text", "mocap"), r)]


def pipeline_rate(dataset, batches: int, batch_size: int) -> float:
    iterator = iter(dataset)
    next(iterator)  # warm up
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def measure(assets, batches: int, repeats: int, batch_size: int = 16, subsets=SUBSETS) -> dict:
    rows = {}
    for subset in subsets:
        config = common.demo_model_config(assets, subset.split("+"))
        _, model, dataset = common.build_training(config, assets["data_dir"], batch_size)
        dataset = dataset.repeat()
        compile_model(model, keras.optimizers.Adam(1e-3))
        common.time_fit(model, dataset, 2)
        rates = common.alternate({
            "pipeline": lambda d=dataset: pipeline_rate(d, batches, batch_size),
            "model": lambda m=model, d=dataset: (batches * batch_size
                                                 / common.time_fit(m, d, batches)),
        }, repeats)
        pipeline, model_rate = common.median(rates["pipeline"]), common.median(rates["model"])
        rows[subset] = {"pipeline_examples_per_second": round(pipeline, 1),
                        "model_examples_per_second": round(model_rate, 1),
                        "pipeline_vs_model": round(pipeline / model_rate, 2)}
    return {"batch_size": batch_size, "batches_per_measurement": batches, "subsets": rows,
            "lowest_pipeline_vs_model": min(r["pipeline_vs_model"] for r in rows.values())}


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--subsets", default=",".join(SUBSETS))
    args = parser.parse_args(argv)
    assets = common.bench_assets(common.work_dir(args), args.utterances)
    return common.report("pipeline", measure(assets, args.batches, args.repeats,
                                             subsets=args.subsets.split(",")))


if __name__ == "__main__":
    main()
