"""The errors a shared folder can raise, one type per failure family, so callers can catch each on its own.

Every one is also an ``OSError`` or a ``ValueError`` (as the standard library would raise for the
same problem), and every message names the file and what was expected.
"""
from __future__ import annotations

__all__ = ["MissingFileError", "ChecksumError", "FormatVersionError", "ConfigMismatchError", "ConfigTypeError",
           "WeightsMismatchError", "CorruptFileError", "UnsafePathError"]


class MissingFileError(FileNotFoundError):
    """A file the folder needs is absent, or the manifest does not list it."""


class ChecksumError(ValueError):
    """A listed file's size or sha256 differs from the manifest: it changed after saving."""


class FormatVersionError(ValueError):
    """A manifest, config or recipe carries a ``format_version`` this library cannot read."""


class ConfigMismatchError(ValueError):
    """``config.json`` names another config class, or its fields differ from the class's fields."""


class ConfigTypeError(ConfigMismatchError):
    """A saved config value does not have its dataclass field's type (e.g. ``"n_lower": "4"``)."""


class WeightsMismatchError(ValueError):
    """The saved tensors' names or shapes differ from those of the model they are loaded into."""


class CorruptFileError(ValueError):
    """A file is not what its name says: bad UTF-8, bad JSON, a malformed safetensors header."""


class UnsafePathError(ValueError):
    """A name would leave its folder (a path given as a task name), or a saved file is a symbolic link."""
