"""The errors a shared folder can raise on loading, so callers can catch each kind on its own."""
from __future__ import annotations

__all__ = ["MissingFileError", "ChecksumError", "FormatVersionError", "ConfigMismatchError",
           "WeightsMismatchError"]


class MissingFileError(FileNotFoundError):
    """A file the folder needs is absent, or the manifest does not list it."""


class ChecksumError(ValueError):
    """A listed file's size or sha256 differs from the manifest: it changed after saving."""


class FormatVersionError(ValueError):
    """A manifest, config or recipe carries a ``format_version`` this library cannot read."""


class ConfigMismatchError(ValueError):
    """``config.json`` names another config class, or its fields differ from the class's fields."""


class WeightsMismatchError(ValueError):
    """The saved tensors' names or shapes differ from those of the model they are loaded into."""
