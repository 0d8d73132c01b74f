"""The one contract every speech backbone meets, and which kind a handle names.

A speech backbone is a Keras layer

    states, frame_mask = backbone(waveform, waveform_length)
    # waveform [B, L] float32 at 16 kHz, right-padded; waveform_length [B] int32
    # states [B, N, T, H]: N hidden states (every layer, or 1 for a last-layer-only model)
    # frame_mask [B, T] int32: 1 for frames computed from real samples

computing in float32 whatever the global precision policy, with `kind`, `handle`,
`hidden_size`, `num_states`, `input_length` (the samples it fixes, or None for any),
`padding_invariant` (an utterance's states do not depend on the padding after it),
`frames_for(samples)`, `describe()` (facts for config.json) and `cache_key()`. The tower,
the fusion and the feature cache never ask which kind it is. `--speech-model` names one of:

| kind | handle | adapter | states |
| --- | --- | --- | --- |
| `tfhub` | TF-Hub URL or SavedModel directory (the paper's wav2vec2) | `TFHubSpeechBackbone` | the last layer |
| `hf` | local Hugging Face wav2vec2 / HuBERT / WavLM checkpoint | `HFSpeechBackbone` | every layer |
| `whisper` | keras-hub Whisper preset (name or local directory) | `WhisperSpeechBackbone` | every encoder layer |

Adapters (`…SpeechBackbone`) fit a model to the contract; ports of a model
(`…Encoder`: `Wav2Vec2FamilyEncoder`, `WhisperAudioEncoder`) compute it.
"""  # noqa: E501  the table

from __future__ import annotations

import contextlib

import keras
from keras import ops


class SpeechBackbone(keras.layers.Layer):
    """The contract (module docstring); subclasses set the attributes and `call`."""

    kind = ""
    input_length: int | None = None  # samples it fixes (TF-Hub); None: any length
    # True: an utterance's states and frame mask are the same whatever padding follows it
    # (it masks padding), so a batch may be cut to its longest utterance (feature cache).
    padding_invariant = False
    hidden_size = 0
    num_states = 1

    def frames_for(self, samples: int) -> int:
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError

    def cache_key(self) -> list:
        """What, beside the handle and the input length, decides its cached features."""
        return [self.kind, self.num_states]


@contextlib.contextmanager
def float32_policy():
    """Layers made in this block are float32 (Keras gives each layer the global policy
    when it is made); the policy before is put back, whatever happens."""
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def lengths_mask(waveform, waveform_length):
    """[B, L] bool: samples before each row's length."""
    return ops.arange(ops.shape(waveform)[1])[None, :] < ops.cast(waveform_length, "int32")[:, None]
