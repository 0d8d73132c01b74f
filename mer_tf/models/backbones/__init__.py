"""Pretrained speech backbones written in Keras 3 (no heavy imports here).

- `wav2vec2_family`: wav2vec2 / HuBERT / WavLM encoders (`Wav2Vec2FamilyBackbone`).
- `hf_checkpoint`: `load_hf_speech_checkpoint(directory)` builds one from a local
  Hugging Face `config.json` + `model.safetensors`, strictly.
- `whisper`: `whisper_encoder_from_preset(preset)`, raw 16 kHz waveforms to every
  Whisper encoder layer's hidden states with keras-hub's log-mel converter in the graph.
"""
