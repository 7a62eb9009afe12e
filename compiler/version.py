"""The version of synthc (the package's `__version__`), in a module of its own so that a pass can name it without
importing the package's API."""

__version__ = "0.1.0"
