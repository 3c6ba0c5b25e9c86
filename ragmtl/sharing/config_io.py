"""A dataclass config as JSON and back, exactly: ``config_from_dict(cls, config_to_dict(c)) == c``.

JSON has no tuples, sets or classes, so the field type hints of the dataclass decide how a value is
read back: a list becomes a ``tuple[...]`` or ``frozenset[...]`` where the hint says so, and an
object becomes a nested dataclass. Values JSON cannot hold (tensors, functions, NaN) are an error at
saving time, never a surprise at loading time. On loading every value is checked against its field's
type hint (``"n_lower": "4"`` or ``"train_shared": "no"`` is a :class:`ConfigTypeError` naming the
field), so a value of the wrong type is never accepted silently.
"""
from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any, Mapping

from .errors import ConfigMismatchError, ConfigTypeError

__all__ = ["config_to_dict", "config_from_dict", "check_round_trip"]

_SCALARS = (str, int, float, bool, type(None))


def _to_json(value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"config field {where} is {value}: JSON cannot hold NaN or infinity")
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (tuple, list)):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return sorted(_to_json(v, where) for v in value)
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _to_json(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise ValueError(f"config field {where} is a {type(value).__name__}, which JSON cannot hold; "
                     "expected str, int, float, bool, None, a list/tuple/set of those, a dict with str "
                     "keys, or a nested dataclass")


def config_to_dict(config: Any) -> dict[str, Any]:
    """The init fields of a dataclass instance as a JSON-ready dict (nested dataclasses as dicts).

    Raises ``TypeError`` when ``config`` is not a dataclass instance and ``ValueError`` naming the
    first field whose value JSON cannot hold.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance as the config, got {type(config).__name__}")
    name = type(config).__name__
    return {f.name: _to_json(getattr(config, f.name), f"{name}.{f.name}")
            for f in dataclasses.fields(config) if f.init}


def _from_json(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:  # the first dataclass or container type the JSON value fits
            wants_dict = dataclasses.is_dataclass(arg) or typing.get_origin(arg) is dict
            wants_list = typing.get_origin(arg) in (tuple, list, set, frozenset)
            if (wants_dict and isinstance(value, dict)) or (wants_list and isinstance(value, list)):
                return _from_json(arg, value)
        return value
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return config_from_dict(hint, value)
    if origin is tuple and isinstance(value, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in value)
        return tuple(_from_json(a, v) for a, v in zip(args, value)) if args else tuple(value)
    if origin in (list, frozenset, set) and isinstance(value, list):
        items = [_from_json(args[0], v) for v in value] if args else value
        return origin(items)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return {k: _from_json(args[1], v) for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # JSON writes 16.0 as 16 in some hands
    return value


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) if isinstance(hint, type) else str(hint).replace("typing.", "")


def _fits(hint: Any, value: Any) -> bool:
    """Whether ``value`` (as rebuilt by :func:`_from_json`) has the type ``hint`` says."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_fits(arg, value) for arg in args)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(args[0], v) for v in value)
        return not args or (len(args) == len(value) and all(_fits(a, v) for a, v in zip(args, value)))
    if origin in (list, set, frozenset):
        return isinstance(value, origin) and (not args or all(_fits(args[0], v) for v in value))
    if origin is dict:
        return isinstance(value, dict) and (len(args) != 2 or all(
            _fits(args[0], k) and _fits(args[1], v) for k, v in value.items()))
    return True  # a hint this reader does not know (a Callable, a Protocol): not checked


def config_from_dict(config_cls: type, data: Mapping[str, Any]) -> Any:
    """Build ``config_cls`` from a dict written by :func:`config_to_dict`.

    Raises :class:`ConfigMismatchError` when ``data`` is not an object, has fields the class lacks
    or lacks fields the class has (a config saved by another version of the class), or when the
    dataclass's own ``__post_init__`` checks refuse a value; :class:`ConfigTypeError` naming the
    first field whose value does not have the field's type.
    """
    if not dataclasses.is_dataclass(config_cls) or not isinstance(config_cls, type):
        raise TypeError(f"config_cls must be a dataclass class, got {config_cls!r}")
    if not isinstance(data, Mapping):
        raise ConfigTypeError(f"a saved {config_cls.__name__} must be a JSON object, got {type(data).__name__} "
                              f"{data!r:.80}")
    hints = typing.get_type_hints(config_cls)
    names = [f.name for f in dataclasses.fields(config_cls) if f.init]
    unknown, missing = sorted(set(data) - set(names)), [n for n in names if n not in data]
    if unknown or missing:
        raise ConfigMismatchError(f"saved config does not fit {config_cls.__name__}: fields the class does not "
                                  f"have {unknown}, fields the file lacks {missing}")
    values = {}
    for n in names:
        values[n] = _from_json(hints[n], data[n])
        if not _fits(hints[n], values[n]):
            raise ConfigTypeError(f"config field {config_cls.__name__}.{n} is {data[n]!r:.80} "
                                  f"({type(data[n]).__name__}): expected {_hint_name(hints[n])}")
    try:
        return config_cls(**values)
    except (ValueError, TypeError) as err:
        if isinstance(err, ConfigMismatchError):
            raise
        raise ConfigMismatchError(f"saved {config_cls.__name__} is not valid: {err}") from None


def check_round_trip(config: Any) -> dict[str, Any]:
    """Return ``config_to_dict(config)`` after checking it reads back to an equal config.

    Raises ``ValueError`` naming the fields that would come back different (e.g. a field typed
    ``tuple`` holding a list, or a value whose type hint does not say how to rebuild it).
    """
    data = config_to_dict(config)
    back = config_from_dict(type(config), json.loads(json.dumps(data, allow_nan=False)))
    if back != config:
        fields = [f.name for f in dataclasses.fields(config) if f.init
                  and getattr(back, f.name) != getattr(config, f.name)]
        raise ValueError(f"{type(config).__name__} does not survive a JSON round trip: fields {fields} come back "
                         "different (check that their type hints match the values they hold)")
    return data
