"""Every speech backbone, behind one contract (`backbone.py` states it; no heavy imports
here).

- `backbone`: the contract; `kinds`: `speech_backbone_kind(handle)`, `load_speech_backbone(config)`.
- `tfhub`: the paper's TF-Hub wav2vec2 SavedModel (`TFHubSpeechBackbone`).
- `hf`: Hugging Face wav2vec2 / HuBERT / WavLM checkpoints (`HFSpeechBackbone`) over
  `wav2vec2_encoder` (`Wav2Vec2FamilyEncoder`, the Keras 3 port), `wav2vec2_layers` and
  `hf_checkpoint` (the strict safetensors loader).
- `whisper`: keras-hub Whisper presets (`WhisperSpeechBackbone` over `WhisperAudioEncoder`).
- `states`: the last layer or a learned weighted sum of all, and per-layer masked means.
"""
