"""Typed configuration loaded from TOML files in ``configs/``.

Options resolve in one order everywhere: dataclass defaults, then a TOML
file, then explicit arguments (the CLI's flags)."""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
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
    unknown keys so that a typo in a config file is an error, not a no-op,
    and values of the wrong type (:func:`check_types`)."""
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
    check_types(cls, kwargs, where)
    return cls(**kwargs)


def check_types(cls: type, values: dict[str, Any], where: str) -> None:
    """Each value against the annotation of the dataclass field of its name,
    so that a file's ``crf = "high"`` is a one-line error naming the key,
    not a failure deep inside a run. Keys that are not fields are left to
    the caller."""
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if key in hints and not type_matches(value, hints[key]):
            raise OptionError(f"{where}: {key} must be {describe_type(hints[key])}, got {_shown(value)}")


def type_matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` (as TOML or JSON gives it) fits the annotation
    ``hint``: no bool for a number, no float for an int, a list for a list.
    An annotation it cannot judge lets the value through."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None) or hint is None:
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(type_matches(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, os.PathLike):
        return isinstance(value, (str, os.PathLike))
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(type_matches(v, a) for v, a in zip(value, args))
        item = args[0] if args else Any
        return all(type_matches(v, item) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, (dict, hint))
    return True


_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a table"}


def describe_type(hint: Any) -> str:
    """An annotation in a user's words: ``int | None`` is "an integer" (a
    file cannot say None), ``str | list[str]`` "a string or a list of strings"."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(arg) for arg in args if arg is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(_shown(arg) for arg in args)
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        items = describe_type(args[0]) if args else ""
        plural = {"an integer": "integers", "a number": "numbers", "a string": "strings", "a table": "tables"}.get(items)
        return f"a list of {plural}" if plural else "a list"
    if hint in _NAMES:
        return _NAMES[hint]
    if isinstance(hint, type) and issubclass(hint, os.PathLike):
        return "a path (a string)"
    if dataclasses.is_dataclass(hint) or origin is dict:
        return "a table"
    return getattr(hint, "__name__", str(hint))


def _shown(value: Any) -> str:
    """A value as the file wrote it: ``"high"``, ``[5]``, ``true``."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def merge(base: T, **overrides: Any) -> T:
    """``base`` with every override that is not None applied."""
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


def vidstyle_home() -> Path:
    """Where a user's own styles and vidstyle's caches live:
    ``$VIDSTYLE_HOME``, else ``~/.cache/vidstyle``."""
    home = os.environ.get("VIDSTYLE_HOME")
    return Path(home).expanduser() if home else Path("~/.cache/vidstyle").expanduser()


def option(default: Any = dataclasses.MISSING, help: str = "", *, flags: tuple[str, ...] = (), metavar: str | None = None,
           default_text: str | None = None, switch: bool = False, cli_type: Any = None) -> Any:
    """A dataclass field that is also a command-line flag, so that the flag,
    the config and job-file key and the reference docs come from one place.

    The flag is ``--`` + the field's name with dashes; ``flags`` adds other
    spellings (``-s``, ``--pix-fmt``). ``help`` is the flag's help without
    its default, which the CLI appends from the field's default, or from
    ``default_text`` where the default is worked out at run time. A bool
    field is an on/off pair (``--audio/--no-audio``) unless ``switch``.
    ``cli_type`` is the flag's type where the field's (``float | str``)
    is more than a command line can parse."""
    metadata = {"help": help, "flags": flags, "metavar": metavar, "default_text": default_text, "switch": switch, "cli_type": cli_type}
    if isinstance(default, (list, dict, set)):
        raise TypeError("a mutable default: use a tuple")
    return dataclasses.field(default=default, metadata=metadata)
