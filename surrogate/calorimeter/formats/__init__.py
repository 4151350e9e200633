"""Shower file layouts: CaloChallenge and CaloGAN HDF5, ROOT trees; binning XMLs and dataset cards.

Use :mod:`surrogate.calorimeter.formats.showers` (``read``, ``iter_read``, ``write``, ``open_writer``,
``inspect``, ``merge``) and :func:`~surrogate.calorimeter.formats.layout.geometry_of`; the layout
modules themselves (``calochallenge``, ``calogan``, ``rootfile``) import h5py or uproot.
"""
