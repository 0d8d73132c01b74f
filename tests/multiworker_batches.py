"""A worker of tests/test_multiworker.py: iterates one epoch of the trainer's training
dataset as the multi-worker strategy distributes it, and writes the utterance ids this
worker got at each step (worker 0 also writes the single-process epoch, for reference)."""

import json
import os
import sys
import time


def main(data_dir, speech, text, out):
    from mer_tf.config import DataConfig
    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.training import workers
    from mer_tf.training.splits import make_folds

    strategy = workers.multi_worker_strategy()
    index, _ = workers.task()
    corpus = PreparedCorpus.open(data_dir)
    fold = make_folds(DataConfig(data_dir), corpus)[0]
    count, batch = corpus.count(fold.train_split()), 8

    def dataset():  # as `fold_datasets` makes it for several replicas (static shapes)
        return corpus.dataset(fold.train_split(), (), batch, training=True, seed=0,
                              drop_remainder=True, num_examples=count, with_metadata=True)

    steps = []
    for _, _, meta in strategy.experimental_distribute_dataset(dataset()):
        ids = strategy.experimental_local_results(meta["utterance_id"])
        steps.append([u.decode() for part in ids for u in part.numpy()])
    with open(os.path.join(out, f"ids{index}.json"), "w") as f:
        json.dump({"steps": steps}, f)
    if index == 0:
        single = [u.decode() for _, _, meta in dataset() for u in meta["utterance_id"].numpy()]
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump({"steps": count // batch, "ids": single}, f)
    # The barrier waits for the slowest worker: the chief arrives three seconds late.
    if index == 0:
        time.sleep(3)
    started = time.monotonic()
    workers.barrier(strategy)
    with open(os.path.join(out, f"barrier{index}.json"), "w") as f:
        json.dump({"waited": time.monotonic() - started}, f)


if __name__ == "__main__":
    main(*sys.argv[1:5])
