"""The modalities the package knows, in canonical order, and where each one's tower lives.

A modality is one tower class (`mer_tf.models.towers.base.Tower`) in one file. Adding
one is that file plus `register_modality(name, "package.module:Class")`: the data
pipeline, the feature cache, export and inference ask the tower what to do and never
test names. Towers are named by import path and imported on first use, so importing
this module (and `mer_tf.config`, which checks names against it) stays light.
"""

from __future__ import annotations

import importlib

_TOWERS = {
    "speech": "mer_tf.models.towers.speech:SpeechTower",
    "text": "mer_tf.models.towers.text:TextTower",
    "mocap": "mer_tf.models.towers.mocap:MocapTower",
}


def register_modality(name: str, tower) -> None:
    """Registers a modality's tower (a class, or "module:Class"); it sorts after the others."""
    if not name.isidentifier():
        raise ValueError(f"a modality name must be an identifier, got {name!r}")
    _TOWERS[name] = tower


def unregister_modality(name: str) -> None:
    if name in ("speech", "text", "mocap"):
        raise ValueError(f"{name} is built in")
    _TOWERS.pop(name, None)


def modalities() -> tuple[str, ...]:
    """Every registered modality, in the canonical order models and inputs follow."""
    return tuple(_TOWERS)


def tower_class(name: str):
    """The tower class of a registered modality (imported on first use)."""
    if name not in _TOWERS:
        raise ValueError(f"unknown modality {name!r}; registered: {', '.join(_TOWERS)}")
    tower = _TOWERS[name]
    if isinstance(tower, str):
        module, _, attribute = tower.partition(":")
        tower = _TOWERS[name] = getattr(importlib.import_module(module), attribute)
    return tower
