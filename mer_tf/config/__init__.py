"""Settings: every setting declared once on a frozen dataclass, and the presets.

- `settings`: `setting` (a field with its help and flag), choice checks, JSON round trip;
- `model`: the model's settings (`ModelConfig` and one dataclass per built-in tower);
- `run`: a run's (`RunConfig`: the model's, `DataConfig`, `TrainConfig`), its config.json;
- `presets`: the paper's and the demo's settings, and `run_config`, the one way from a
  preset and overrides to a `RunConfig`.

May import `mer_tf.io`, `mer_tf.layout` and `mer_tf.registry`; nothing above them.
"""

from mer_tf.config.model import (
    DEFAULT_SPEECH_MODEL,
    DEFAULT_TEXT_PRESET,
    MODALITIES,
    MocapConfig,
    ModelConfig,
    SpeechConfig,
    TextConfig,
)
from mer_tf.config.run import DataConfig, RunConfig, TrainConfig
from mer_tf.config.settings import check_choices, from_dict, setting, to_dict

__all__ = ["DEFAULT_SPEECH_MODEL", "DEFAULT_TEXT_PRESET", "MODALITIES", "DataConfig",
           "MocapConfig", "ModelConfig", "RunConfig", "SpeechConfig", "TextConfig",
           "TrainConfig", "check_choices", "from_dict", "setting", "to_dict"]
