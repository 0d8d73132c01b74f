"""The network: one tower per modality (`towers`: speech, text, mocap), the speech
backbones behind one contract (`speech`: TF-Hub wav2vec2, Hugging Face checkpoints,
Whisper), shared layers (`layers`), fusion by concatenation (`fusion`) and the masked losses for
arousal, valence and dominance (`losses`).

Imports io, frames, layout, registry, config and data; nothing above them.
"""
