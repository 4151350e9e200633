"""surrogate: fast, validated generative surrogates for physics simulators.

The public API is :mod:`surrogate.api` (docs/api.md), re-exported here: load, read, read_log,
simulate_showers, simulate_nbody, train, validate (-> ValidationResult), benchmark, export_onnx.
Heavy modules (torch, h5py, pandas) load on first use, so ``import surrogate`` stays light.
"""
__version__ = "0.1.0"

from surrogate import api as _api  # noqa: E402  (after __version__: the modules it loads read it)
from surrogate.api import *  # noqa: E402,F401,F403

__all__ = [*_api.__all__, "__version__"]
