"""Stand-in backbones for what cannot be downloaded here, built the way the real
artefacts are:

- `wav2vec2_savedmodel`: a wav2vec2 SavedModel in each published TF-Hub form, written by
  the producer's own export code;
- `bert_preset`: a tiny BERT keras-hub preset written by `save_to_preset`;
- `speech_presets`: tiny Whisper presets and Hugging Face speech checkpoints;
- `backbones`: the one builder the demo, the benchmarks and the tests take them from.

Imports everything below it but `synthetic` and `commands`; the library's lower floors
never import it.
"""
