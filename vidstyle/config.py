"""Typed configuration loaded from TOML files in ``configs/``.

Options resolve in one order everywhere: dataclass defaults, then a TOML
file, then explicit arguments (the CLI's flags)."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import OptionError

T = TypeVar("T")


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise OptionError(f"no such config file: {path}")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise OptionError(f"invalid TOML in {path}: {exc}") from exc


def build(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Instantiate a (possibly nested) dataclass from a dict, rejecting
    unknown keys so that a typo in a config file is an error, not a no-op."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise OptionError(f"unknown option(s) in {where}: {', '.join(sorted(unknown))}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = build(hint, value, f"{where}.{key}")
        kwargs[key] = value
    return cls(**kwargs)


def merge(base: T, **overrides: Any) -> T:
    """``base`` with every override that is not None applied."""
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


def vidstyle_home() -> Path:
    """Where a user's own styles and vidstyle's caches live:
    ``$VIDSTYLE_HOME``, else ``~/.cache/vidstyle``."""
    home = os.environ.get("VIDSTYLE_HOME")
    return Path(home).expanduser() if home else Path("~/.cache/vidstyle").expanduser()
