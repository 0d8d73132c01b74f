"""Stand-ins for what cannot be downloaded here, built the way the real artefacts are.

- `synthetic`: a corpus in IEMOCAP's exact release layout and file formats
  (`synthetic_design`: its cues, actors and best reachable accuracy);
- `wav2vec2_savedmodel`: a wav2vec2 SavedModel in each published TF-Hub form, written by
  the producer's own export code;
- `bert_preset`: a tiny BERT keras-hub preset written by `save_to_preset`;
- `backbones`: the one builder the demo, the benchmarks and the tests take them from.

Nothing in the library imports this package; the demo, experiments, benchmarks and
tests do.
"""
