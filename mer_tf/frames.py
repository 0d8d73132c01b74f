"""wav2vec2's frame geometry, in one place: how many frames its convolutional feature
encoder makes of a number of samples.

wav2vec2-base, HuBERT and WavLM share the encoder (seven VALID convolutions, total
stride 320 samples, a receptive field of 400 samples, 25 ms at 16 kHz); a Hugging Face
checkpoint may name others in its config (`conv_kernel`, `conv_stride`), which the same
function takes. Preparation counts utterances shorter than one frame; the towers and
backbones count frames; the TF-Hub stand-in is built with these kernels.
"""

from __future__ import annotations

CONV_KERNELS = (10, 3, 3, 3, 3, 2, 2)
CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)


def frames_for_samples(samples, kernels=CONV_KERNELS, strides=CONV_STRIDES):
    """Frames made of `samples` (an int, or an integer tensor of any backend): each VALID
    convolution maps n -> (n - kernel) // stride + 1, as transformers'
    `_get_feat_extract_output_lengths`; 246 000 -> 768, 16 000 -> 49."""
    n = samples
    for kernel, stride in zip(kernels, strides):
        n = (n - kernel) // stride + 1
    return n


def receptive_field(kernels=CONV_KERNELS, strides=CONV_STRIDES) -> int:
    """Samples behind one output frame: fewer give none (400 for wav2vec2-base)."""
    field, jump = 1, 1
    for kernel, stride in zip(kernels, strides):
        field += (kernel - 1) * jump
        jump *= stride
    return field


RECEPTIVE_FIELD = receptive_field()

SAMPLE_RATE = 16000  # Hz: what every speech backbone and the prepared shards take
PCM16_SCALE = 32768.0  # int16 samples / this = float samples in [-1, 1)


def input_windows(samples: int, length: int) -> list[tuple[int, int]]:
    """[(first, last)) sample spans in which audio of `samples` is read by a model whose
    speech input holds `length` (0: any length): the whole when it fits, else windows of
    `length` one after another, the last one ending with the audio. One rule for a single
    file and a recording's turns: their probabilities are averaged."""
    if not length or samples <= length:
        return [(0, samples)]
    count = -(-samples // length)
    return [(i * length, (i + 1) * length) for i in range(count - 1)] + [
        (samples - length, samples)]
