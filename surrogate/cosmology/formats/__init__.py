"""Map files: the N-body HDF5 layout written by ``surrogate simulate nbody``, Gadget-style HDF5
snapshots (painted into maps), and CAMELS-CMD style map stacks (.npy + parameter table).

Every reader returns an EventSet of maps: events (M, P, P) float32, conditions (M, n) float64 named
after the cosmological parameters.

The layouts live in one module each (``nbody``, ``gadget``, ``camels``; ``layouts`` names them and
detects them, ``mapfiles`` reads and writes any of them); the names below are the public ones.
"""
from surrogate.cosmology.formats.camels import find_parameter_table, parameter_table_candidates, read_parameter_table
from surrogate.cosmology.formats.gadget import gadget_density, read_gadget_particles
from surrogate.cosmology.formats.layouts import (
    CAMELS, CAMELS_BOX_MPC_H, CAMELS_PARAMETERS, CONTRAST, FORMAT_TAG, FORMAT_VERSION, GADGET, GENERIC_QUANTITY, NBODY,
    detect_format,
)
from surrogate.cosmology.formats.mapfiles import (
    READER_OPTIONS, check_reader_options, count, inspect, iter_conditions, iter_read, read, write,
)
from surrogate.cosmology.formats.nbody import NbodyRunWriter, merge, write_nbody

__all__ = ["read", "count", "iter_read", "iter_conditions", "check_reader_options", "READER_OPTIONS", "write", "inspect", "merge", "detect_format", "write_nbody", "NbodyRunWriter",
           "read_gadget_particles", "gadget_density", "parameter_table_candidates", "find_parameter_table",
           "read_parameter_table", "NBODY", "GADGET", "CAMELS", "FORMAT_TAG", "FORMAT_VERSION", "CONTRAST",
           "GENERIC_QUANTITY", "CAMELS_PARAMETERS", "CAMELS_BOX_MPC_H"]
