"""The command-line flags every experiment shares, derived from the config dataclasses.

Each setting is declared once, on its dataclass field (`mer_tf.config.setting`: default,
help, flag, choices); this module walks the fields of `ModelConfig`, `DataConfig` and
`TrainConfig` and makes the parser, the flag-to-field table and `--help` from them, so
the help shows the default each preset really applies and cannot drift from it. Flags
that are not given leave the preset's value alone: `given_flags` tells them apart from
argparse's defaults, and `flag_overrides` turns them into nested config overrides, as
the presets are written. Flags that are no field (where the run goes, --freeze over two
towers, --seeds) are declared here.
"""

from __future__ import annotations

import argparse
import dataclasses

from mer_tf.commands.runner import DATA_DIR_HELP, new_parser
from mer_tf.config.presets import PRESETS

_GROUPS = {"data": "data", "model": "model", "train": "training"}
_HARDWARE = ("strategy", "tpu", "mixed_precision", "jit_compile")


def flagged_fields(cls, prefix: str = "") -> list[tuple]:
    """(dotted field path, dataclass field) of every field of `cls` that has a flag,
    nested settings dataclasses walked."""
    found = []
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(field.default):
            found += flagged_fields(type(field.default), f"{prefix}{field.name}.")
        elif field.metadata.get("flag"):
            found.append((prefix + field.name, field))
    return found


def setting_fields() -> list[tuple]:
    """(section, dotted field path, dataclass field) of every run setting that has a flag."""
    from mer_tf.config import DataConfig, ModelConfig, TrainConfig

    return [(section, path, field) for section, cls in
            (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig))
            for path, field in flagged_fields(cls)]


def _dest(field) -> str:
    return field.metadata["flag"].lstrip("-").replace("-", "_")


def preset_values(section: str, path: str) -> dict:
    """{preset: the value it gives a setting} (the dataclass default where it is silent)."""
    from mer_tf.config.presets import settings_of

    out = {}
    for name in PRESETS:
        value = settings_of(name)[section]
        for key in path.split("."):
            value = value[key]
        out[name] = value
    return out


def _shown(value) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value)) or "all"
    if isinstance(value, float):
        return f"{value:g}"
    if value == "":
        return "none"
    return str(value)


def _default_text(section: str, path: str, field) -> str:
    values = preset_values(section, path)
    back = {v: k for k, v in field.metadata.get("to_field", {}).items()} \
        if isinstance(field.metadata.get("to_field"), dict) else {}
    shown = {name: _shown(back.get(v, v)) for name, v in values.items()}
    if field.metadata["flag"].startswith("--no-"):
        return ""
    if len(set(shown.values())) == 1:
        return f" (default: {next(iter(shown.values()))})"
    return " (default: " + "; ".join(f"{name}: {v}" for name, v in shown.items()) + ")"


_ARGPARSE_OPTIONS = ("nargs", "const", "metavar", "required", "type")


def _add_flag(group, field, help_text: str) -> None:
    """A field's flag: a switch for a bool, else a value of the field's type or choices."""
    meta = field.metadata
    options = {k: meta[k] for k in _ARGPARSE_OPTIONS if k in meta}
    mapping = meta.get("to_field")
    if isinstance(field.default, bool) and not isinstance(mapping, dict) or (
            isinstance(mapping, dict) and set(mapping) == {True}):
        group.add_argument(meta["flag"], dest=_dest(field), action="store_true", help=help_text)
        return
    choices = tuple(mapping) if isinstance(mapping, dict) else (meta["choices"] or None)
    if "type" not in options:
        options["type"] = None if callable(mapping) or choices else type(field.default)
    group.add_argument(meta["flag"], dest=_dest(field), choices=choices, help=help_text,
                       **options)


def add_flags(group, cls) -> None:
    """Every flagged field of a settings dataclass (`PrepareConfig`, `SyntheticConfig`) as
    a flag of `group`, its default the dataclass's; `flag_values` reads them back."""
    for _, field in flagged_fields(cls):
        default = field.default
        shown = "" if field.metadata.get("required") or default in (None, False) else \
            f" (default: {_shown(default)})"
        _add_flag(group, field, field.metadata["help"] + shown)


def _field_value(field, value):
    mapping = field.metadata.get("to_field")
    if callable(mapping):
        return mapping(value)
    if isinstance(mapping, dict):
        return mapping[value]
    return value


def flag_values(cls, given: dict) -> dict:
    """{field: value} of the flags of `cls` on the command line (`args.given`)."""
    return {path: _field_value(field, given[_dest(field)])
            for path, field in flagged_fields(cls) if _dest(field) in given}


def add_setting(parser, section: str, path: str, **overrides) -> None:
    """One declared setting as a flag of another command (`experiments.audit`), with its
    own help and choices; `overrides` change what that command needs (a default)."""
    field = next(f for s, p, f in setting_fields() if (s, p) == (section, path))
    meta = field.metadata
    options = {"choices": meta["choices"] or None, "default": field.default,
               "help": meta["help"] + " (default: %(default)s)", **overrides}
    if not meta["choices"] and isinstance(field.default, (int, float)):
        options.setdefault("type", type(field.default))
    parser.add_argument(meta["flag"], dest=_dest(field), **options)


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, description)
    groups = {name: parser.add_argument_group(title) for name, title in _GROUPS.items()}
    groups["run"] = parser.add_argument_group("run")
    groups["hardware"] = parser.add_argument_group("hardware")
    groups["data"].add_argument("--data-dir", action="append", help=DATA_DIR_HELP
                                + "; given twice or more, the corpora are trained on as one")
    for section, path, field in setting_fields():
        group = groups["hardware" if path in _HARDWARE else section]
        _add_flag(group, field, field.metadata["help"] + _default_text(section, path, field))
    runs = groups["run"]
    runs.add_argument("--run-dir", help="where the run goes (default: runs/EXPERIMENT/TIMESTAMP); "
                                        "an existing run with the same settings resumes")
    runs.add_argument("--preset", choices=tuple(PRESETS),
                      help="named settings the flags given then override (default: demo "
                           "without --data-dir, paper with it; see mer_tf/config/presets.py)")
    runs.add_argument("--runs-root", default="runs", help="parent of default run folders "
                                                          "(default: %(default)s)")
    runs.add_argument("--overwrite", action="store_true",
                      help="train again in a --run-dir that holds a run (without it, a "
                           "finished run is reported and an unfinished one resumes)")
    runs.add_argument("--quiet", action="store_true", help="no progress output")
    runs.add_argument("--seeds", metavar="0,1,2",
                      help="repeat the run once per seed (RUN_DIR/seedN each) and report mean "
                           "± sample sd over seeds (LOSO: also over seeds x folds)")
    groups["model"].add_argument("--freeze", default="",
                                 help="comma-separated pretrained towers to freeze: speech, "
                                      "text (default: none)")
    return parser


def _split(text: str) -> tuple:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def flag_overrides(given: dict) -> dict:
    """Given flags -> nested overrides {"model": {...}, "train": {...}, "data": {...}}."""
    overrides = {"model": {}, "train": {}, "data": {}}
    for section, path, field in setting_fields():
        if _dest(field) not in given:
            continue
        value = _field_value(field, given[_dest(field)])
        target = overrides[section]
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    freeze = set(_split(given.get("freeze", "")))
    unknown = freeze - {"speech", "text"}
    if unknown:
        raise ValueError(f"--freeze takes speech and/or text, not {', '.join(sorted(unknown))}")
    for name in freeze:
        overrides["model"].setdefault(name, {})["freeze"] = True
    return overrides
