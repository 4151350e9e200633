"""Cosmology: particle-mesh N-body reference simulator, density maps, map models, observables."""
