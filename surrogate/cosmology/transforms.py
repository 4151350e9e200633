"""Invertible pixel transforms for map GANs, and the map preprocessor built on them.

The transforms act on a non-negative map quantity x (for density-contrast maps x = 1 + delta =
rho / rho_mean); both work on numpy arrays and torch tensors:

- s(x) = 2x / (x + a) - 1 (Rodriguez et al. 2018; a = 4 by default) maps [0, inf) onto [-1, 1),
  compressing the rare bright pixels; its inverse is x = a (1 + s) / (1 - s).
- log(x + epsilon), inverse exp(y) - epsilon (epsilon keeps empty pixels finite).

The map preprocessor that uses them for training lives in :mod:`surrogate.cosmology.models`.
"""
from __future__ import annotations

import numpy as np

DEFAULT_A = 4.0
DEFAULT_LOG_EPSILON = 1e-3
TRANSFORMS = ("s", "log")
#: Largest |s| the inverse accepts before clamping: keeps x finite in float32.
_S_LIMIT = 1.0 - 1e-6


def s_transform(x, a: float = DEFAULT_A):
    """s(x) = 2x / (x + a) - 1."""
    return 2.0 * x / (x + a) - 1.0


def inverse_s_transform(s, a: float = DEFAULT_A):
    """x = a (1 + s) / (1 - s), the inverse of :func:`s_transform` (s clamped just below 1)."""
    s = s.clamp(max=_S_LIMIT) if hasattr(s, "clamp") else np.minimum(s, _S_LIMIT)
    return a * (1.0 + s) / (1.0 - s)


def log_transform(x, epsilon: float = DEFAULT_LOG_EPSILON):
    """log(x + epsilon)."""
    shifted = x + epsilon
    return shifted.log() if hasattr(shifted, "log") else np.log(shifted)


def inverse_log_transform(y, epsilon: float = DEFAULT_LOG_EPSILON):
    """exp(y) - epsilon, the inverse of :func:`log_transform`."""
    return (y.exp() if hasattr(y, "exp") else np.exp(y)) - epsilon
