"""mer_tf: multimodal speech emotion recognition on IEMOCAP.

Speech (wav2vec2 from TF-Hub), text (BERT from keras-hub) and motion capture
(a Keras transformer) fused by concatenation, after Patamia et al.,
"Multimodal Speech Emotion Recognition Using Modality-specific
Self-Supervised Frameworks".

The package imports TensorFlow lazily, so `import mer_tf` and `--help` stay fast.
"""

__version__ = "0.1.0"
