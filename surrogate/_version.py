"""The library's version, in a module of its own so that the core reads it without importing the package root."""
__version__ = "0.1.0"
