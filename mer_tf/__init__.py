"""mer_tf: multimodal speech emotion recognition on IEMOCAP.

Speech (wav2vec2 from TF-Hub), text (BERT from keras-hub) and motion capture
(a Keras transformer) fused by concatenation, after Patamia et al.,
"Multimodal Speech Emotion Recognition Using Modality-specific
Self-Supervised Frameworks".

Layers, lowest first; a module imports only from its own layer or lower ones, and the
import graph has no cycles (tests/test_layout.py checks both):

    io, frames, layout, registry  ->  config  ->  data  ->  models  ->  evaluation
        ->  serving  ->  training  ->  testing (stand-in backbones)
        ->  synthetic (the demo corpus)  ->  commands (what experiments/ runs)

Each folder's `__init__` says what it holds and what it may import.

One rule for imports: TensorFlow, Keras, keras-hub, TF-Hub and the other heavy
libraries are imported inside the functions that use them, never at the top of a
module that the CLI, the configs, the presets or the data layer's light parts load.
So `import mer_tf`, building a config and `--help` stay fast (no TensorFlow start-up),
`python -m experiments.prepare --help` works before TensorFlow is even installed, and a
process picks its TensorFlow settings (`TF_CPP_MIN_LOG_LEVEL`, logical devices) before
TensorFlow starts. Modules whose every caller has TensorFlow loaded already (the Keras
layers and towers) import Keras at the top. Importing a module changes nothing
process-wide: no warnings filters, no environment variables, no global Keras policy.
"""

__version__ = "0.1.0"
