"""surrogate: fast, validated generative surrogates for physics simulators."""
__version__ = "0.1.0"
