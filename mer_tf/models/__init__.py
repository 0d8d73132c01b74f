"""Modality towers (speech, text, mocap) and their fusion."""
