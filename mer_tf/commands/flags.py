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

from mer_tf.io.quiet import add_verbose_flag
from mer_tf.presets import PRESETS

_GROUPS = {"data": "data", "model": "model", "train": "training"}
_HARDWARE = ("strategy", "tpu", "mixed_precision", "jit_compile")


def setting_fields() -> list[tuple]:
    """(section, dotted field path, dataclass field) of every field that has a flag."""
    from mer_tf.config import ModelConfig
    from mer_tf.training.run_config import DataConfig, TrainConfig

    found = []

    def walk(section, cls, prefix=""):
        for field in dataclasses.fields(cls):
            if dataclasses.is_dataclass(field.default):
                walk(section, type(field.default), f"{prefix}{field.name}.")
            elif field.metadata.get("flag"):
                found.append((section, prefix + field.name, field))

    walk("data", DataConfig)
    walk("model", ModelConfig)
    walk("train", TrainConfig)
    return found


def _dest(field) -> str:
    return field.metadata["flag"].lstrip("-").replace("-", "_")


def preset_values(section: str, path: str) -> dict:
    """{preset: the value it gives a setting} (the dataclass default where it is silent)."""
    from mer_tf.training.run_config import settings_of

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


def add_setting(parser, section: str, path: str, **overrides) -> None:
    """One declared setting as a flag of another command (`experiments.audit`), with its
    own help and choices; `overrides` change what that command needs (a default)."""
    field = next(f for s, p, f in setting_fields() if (s, p) == (section, path))
    meta = field.metadata
    options = {"choices": meta["choices"] or None, "default": field.default,
               "help": meta["help"] + " (default: %(default)s)", **overrides}
    parser.add_argument(meta["flag"], dest=_dest(field), **options)


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = {name: parser.add_argument_group(title) for name, title in _GROUPS.items()}
    groups["run"] = parser.add_argument_group("run")
    groups["hardware"] = parser.add_argument_group("hardware")
    groups["data"].add_argument("--data-dir", help="prepared data (python -m experiments.prepare)"
                                "; omitted: the built-in demo corpus and demo backbones")
    for section, path, field in setting_fields():
        meta = field.metadata
        group = groups["hardware" if path in _HARDWARE else section]
        help_text = meta["help"] + _default_text(section, path, field)
        options = {k: meta[k] for k in ("nargs", "const") if k in meta}
        mapping = meta.get("to_field")
        if isinstance(field.default, bool) and not isinstance(mapping, dict) or (
                isinstance(mapping, dict) and set(mapping) == {True}):
            group.add_argument(meta["flag"], dest=_dest(field), action="store_true",
                               help=help_text)
            continue
        choices = tuple(mapping) if isinstance(mapping, dict) else (meta["choices"] or None)
        kind = None if callable(mapping) or choices else type(field.default)
        group.add_argument(meta["flag"], dest=_dest(field), type=kind, choices=choices,
                           help=help_text, **options)
    runs = groups["run"]
    runs.add_argument("--run-dir", help="where the run goes (default: runs/EXPERIMENT/TIMESTAMP); "
                                        "an existing run with the same settings resumes")
    runs.add_argument("--preset", choices=tuple(PRESETS),
                      help="named settings the flags given then override (default: demo "
                           "without --data-dir, paper with it; see mer_tf/presets.py)")
    runs.add_argument("--runs-root", default="runs", help="parent of default run folders "
                                                          "(default: %(default)s)")
    runs.add_argument("--overwrite", action="store_true",
                      help="train again in a --run-dir that holds a run (without it, a "
                           "finished run is reported and an unfinished one resumes)")
    runs.add_argument("--quiet", action="store_true", help="no progress output")
    add_verbose_flag(runs)
    runs.add_argument("--seeds", metavar="0,1,2",
                      help="repeat the run once per seed (RUN_DIR/seedN each) and report mean "
                           "± sample sd over seeds (LOSO: also over seeds x folds)")
    groups["model"].add_argument("--freeze", default="",
                                 help="comma-separated pretrained towers to freeze: speech, "
                                      "text (default: none)")
    return parser


def _split(text: str) -> tuple:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def given_flags(parser: argparse.ArgumentParser, argv) -> dict:
    """The flags actually on the command line (not argparse's defaults)."""
    saved = {action.dest: action.default for action in parser._actions}
    try:
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        return vars(parser.parse_args(argv))
    finally:
        for action in parser._actions:
            action.default = saved[action.dest]


def flag_overrides(given: dict) -> dict:
    """Given flags -> nested overrides {"model": {...}, "train": {...}, "data": {...}}."""
    overrides = {"model": {}, "train": {}, "data": {}}
    for section, path, field in setting_fields():
        if _dest(field) not in given:
            continue
        value = given[_dest(field)]
        mapping = field.metadata.get("to_field")
        if callable(mapping):
            value = mapping(value)
        elif isinstance(mapping, dict):
            value = mapping[value]
        target = overrides[section]
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    freeze = set(_split(given.get("freeze", "")))
    unknown = freeze - {"speech", "text"}
    if unknown:
        raise SystemExit(f"--freeze takes speech and/or text, not {', '.join(sorted(unknown))}")
    for name in freeze:
        overrides["model"].setdefault(name, {})["freeze"] = True
    return overrides
