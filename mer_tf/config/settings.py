"""A setting declared once on its dataclass field, and frozen configs to and from JSON.

The parser, `--help`, the flag-to-field table and the choice checks are all derived
from the field declarations (`mer_tf.commands.flags`), so none can drift from them.
"""

from __future__ import annotations

import dataclasses
import typing


def setting(default, help: str, flag: str | None = None, choices: tuple = (),
            **argparse_options):
    """A config field declared once: its default, its help and, for a command-line
    setting, its flag (`--speech-head`) and choices. The parser, `--help` (with the
    default each preset applies), the flag-to-field table and the choice checks are all
    derived from these (`mer_tf.commands.flags`, `check_choices`); `argparse_options` go to
    `add_argument` as they are (`nargs`, `const`, `to_field`: a flag value -> the
    field's)."""
    metadata = {"help": help, "flag": flag, "choices": tuple(choices), **argparse_options}
    return dataclasses.field(default=default, metadata=metadata)


def comma_separated_floats(text) -> tuple:
    """"1,5" (a flag) or [1, 5] (JSON) -> (1.0, 5.0)."""
    if isinstance(text, (list, tuple)):
        return tuple(float(v) for v in text)
    return tuple(float(v) for v in str(text).split(",") if v.strip())


def comma_separated_ints(text) -> tuple:
    """"1,2,3" -> (1, 2, 3): a flag's value for a tuple of integers."""
    try:
        return tuple(int(t) for t in str(text).split(",") if t.strip())
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None


def check_choices(config) -> None:
    """Raises for a field whose value is not one of its declared choices."""
    for field in dataclasses.fields(config):
        choices = field.metadata.get("choices")
        value = getattr(config, field.name)
        if choices and value not in choices:
            raise ValueError(f"{type(config).__name__}.{field.name} must be one of "
                             f"{', '.join(map(str, choices))}, got {value!r}")


def to_dict(config) -> dict:
    """JSON-ready dict; an empty `extra` (no registered modality's settings) is left out."""
    return _drop_empty_extra(dataclasses.asdict(config))


def _drop_empty_extra(value):
    if isinstance(value, dict):
        return {k: _drop_empty_extra(v) for k, v in value.items() if not (k == "extra" and v == {})}
    return value


def from_dict(cls, data: dict, where: str = ""):
    """Rebuilds nested frozen dataclasses from `to_dict` output (lists -> tuples). A key
    that is no field is refused by its dotted name: a renamed or misspelt setting never
    falls back silently to a default."""
    hints = typing.get_type_hints(cls)
    names = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown setting {', '.join(where + k for k in unknown)} "
                         f"(the settings of {cls.__name__}: {', '.join(sorted(names))})")
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value, kind = data[field.name], hints[field.name]
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            value = from_dict(kind, value, f"{where}{field.name}.")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)
