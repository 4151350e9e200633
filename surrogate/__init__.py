"""surrogate: fast, validated generative surrogates for physics simulators.

The public API is :mod:`surrogate.api` (docs/api.md), re-exported here: load, read, read_log,
simulate_showers, simulate_nbody, train, validate (-> ValidationResult), benchmark, export_onnx.
Heavy modules (torch, h5py, pandas) load on first use, so ``import surrogate`` stays light.
"""
from surrogate import api as _api
from surrogate._version import __version__
from surrogate.api import *  # noqa: F401,F403

__all__ = [*_api.__all__, "__version__"]
