"""Calorimeter showers: geometries, file layouts, the reference shower simulator, models, observables."""
