"""Tracking cuts and step limits: the knobs that trade accuracy for speed."""
from __future__ import annotations

from dataclasses import dataclass

from surrogate.errors import SurrogateError


@dataclass(frozen=True)
class TrackingCuts:
    """When particles stop being followed, and how long a charged step may be.

    electron_cut_mev: e+- below this kinetic energy deposit it on the spot (positrons then annihilate
        at rest); Compton and photo-electrons born below it are never tracked.
    low_energy_mev: below this kinetic energy e+- are followed only to settle where their energy ends
        up: they stop on the spot once their whole range (collision loss only, an overestimate) is
        shorter than the distance to their slab's faces (range rejection, exact for the split between
        active and passive slabs), and their steps may scatter by up to ``low_energy_scattering_rad``.
    photon_cut_mev: photons below this energy are absorbed on the spot, and bremsstrahlung below it is
        treated as continuous loss.
    max_loss_fraction: a charged step loses at most this fraction of the kinetic energy continuously.
    max_scattering_rad: a charged step's Highland width may not exceed this angle above
        ``low_energy_mev``...
    low_energy_scattering_rad: ...and this one below it, where electrons diffuse (steps of about a
        transport mean free path).
    """

    electron_cut_mev: float = 0.1
    low_energy_mev: float = 5.0
    photon_cut_mev: float = 0.05
    max_loss_fraction: float = 0.2
    max_scattering_rad: float = 0.3
    low_energy_scattering_rad: float = 1.0

    def __post_init__(self) -> None:
        if self.electron_cut_mev <= 0 or self.photon_cut_mev <= 0:
            raise SurrogateError("tracking cuts must be positive energies in MeV")
        if not 0 < self.max_loss_fraction < 1 or min(self.max_scattering_rad, self.low_energy_scattering_rad) <= 0:
            raise SurrogateError("max_loss_fraction must lie in (0, 1) and the scattering limits be positive")
