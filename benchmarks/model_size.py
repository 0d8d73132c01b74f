"""Parameter counts of each tower at demo size and at paper size.

    python -m benchmarks.model_size [--sizes demo,paper]

Paper size: wav2vec2-base shapes (95 M parameters, 246 000-sample input) and
BERT-base (110 M), with random weights; the speech head as the paper's Flatten
-> Dense(128) and as the default pooled head; the mocap transformer on the
189 features of IEMOCAP at 256 frames.
"""

from __future__ import annotations

from benchmarks import common


def counts(assets: dict, frames: int, text_length: int) -> dict:
    from mer_tf.models.fusion import ModelBuilder, tower_parameter_counts

    out = {}
    for head in ("mean", "flatten"):
        config = common.demo_model_config(assets, speech={"head": head},
                                          text={"sequence_length": text_length},
                                          mocap={"max_frames": frames})
        builder = ModelBuilder(config, mocap_frames=frames, mocap_features=189)
        out[f"speech_head_{head}"] = tower_parameter_counts(builder)
    return out


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.add_argument("--sizes", default="demo,paper")
    args = parser.parse_args(argv)
    root = common.work_dir(args)
    figures = {}
    for size in args.sizes.split(","):
        if size == "demo":
            figures["demo"] = counts(common.bench_assets(root, args.utterances), 96, 32)
        else:
            figures["paper"] = counts(common.paper_size_assets(root), 256, 128)
    return common.report("model_size", figures)


if __name__ == "__main__":
    main()
