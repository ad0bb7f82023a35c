"""The package version, importable from any layer (also as ``vidstyle.__version__``)."""

__version__ = "0.13.0"
