"""Calorimeter materials from PDG constants, and the mixture rules that give a stack's effective values.

Mass quantities are kept per gram (X0 in g/cm^2, stopping power in MeV cm^2/g) because the mixture rules
add mass fractions; the ``*_mm`` properties turn them into lengths for the material's own density.
Values: PDG "Atomic and nuclear properties of materials" (X0, critical energy for electrons, minimum
ionisation, Moliere radius, mean excitation energy).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from surrogate.errors import SurrogateError

#: Scale energy of multiple scattering, m_e c^2 sqrt(4 pi / alpha), in MeV (R_M = E_s X0 / E_c).
SCALE_ENERGY_MEV = 21.2052


@dataclass(frozen=True)
class Element:
    """A chemical element as a constituent of a material (its share given by a mass fraction)."""

    symbol: str
    z: int
    a_g_mol: float


@dataclass(frozen=True)
class Material:
    """A homogeneous material (an element or a mixture by mass) with its shower constants.

    composition: (element, mass fraction) pairs summing to 1.
    x0_g_cm2: radiation length; critical_energy_mev: Rossi's definition, for electrons;
    dedx_min_mev_cm2_g: minimum ionisation; moliere_radius_g_cm2; mean_excitation_ev: Bethe's I.
    """

    name: str
    composition: tuple[tuple[Element, float], ...]
    density_g_cm3: float
    x0_g_cm2: float
    critical_energy_mev: float
    dedx_min_mev_cm2_g: float
    moliere_radius_g_cm2: float
    mean_excitation_ev: float

    @property
    def x0_mm(self) -> float:
        return 10.0 * self.x0_g_cm2 / self.density_g_cm3

    @property
    def moliere_radius_mm(self) -> float:
        return 10.0 * self.moliere_radius_g_cm2 / self.density_g_cm3

    @property
    def dedx_min_mev_mm(self) -> float:
        return 0.1 * self.dedx_min_mev_cm2_g * self.density_g_cm3

    @property
    def z_over_a(self) -> float:
        """Electrons per nucleon, sum of w_j Z_j / A_j (mol/g)."""
        return sum(w * el.z / el.a_g_mol for el, w in self.composition)


def _element(symbol: str, z: int, a_g_mol: float, density_g_cm3: float, x0_cm: float, ec_mev: float,
             dedx_mev_cm: float, moliere_cm: float, mean_excitation_ev: float) -> Material:
    """A one-element material from the PDG table's values in cm (converted to per-gram quantities)."""
    return Material(
        name=symbol, composition=((Element(symbol, z, a_g_mol), 1.0),), density_g_cm3=density_g_cm3,
        x0_g_cm2=x0_cm * density_g_cm3, critical_energy_mev=ec_mev,
        dedx_min_mev_cm2_g=dedx_mev_cm / density_g_cm3, moliere_radius_g_cm2=moliere_cm * density_g_cm3,
        mean_excitation_ev=mean_excitation_ev,
    )


MATERIALS: dict[str, Material] = {
    "W": _element("W", 74, 183.84, 19.30, 0.3504, 7.97, 22.10, 0.933, 727.0),
    "Si": _element("Si", 14, 28.0855, 2.329, 9.370, 40.19, 3.876, 4.944, 173.0),
    "Pb": _element("Pb", 82, 207.2, 11.35, 0.5612, 7.43, 12.74, 1.602, 823.0),
    "LAr": _element("Ar", 18, 39.948, 1.396, 14.00, 32.84, 2.120, 9.043, 188.0),
}


def get_material(name: str) -> Material:
    """A built-in material by name (W, Si, Pb, LAr)."""
    if name not in MATERIALS:
        raise SurrogateError(f"unknown material {name!r}; built in: {', '.join(MATERIALS)}")
    return MATERIALS[name]


def mixture(name: str, parts: Sequence[tuple[Material, float]], density_g_cm3: float) -> Material:
    """Mix materials by mass fraction.

    1/X0 = sum w_j / X0_j and 1/R_M = sum w_j / R_M,j (per g/cm^2); stopping powers add by mass, so
    E_c / X0 (the ionisation loss per g/cm^2 at the critical energy) does too; ln I is averaged with
    electron-number weights (Bragg's rule).
    """
    total = sum(w for _, w in parts)
    if not parts or total <= 0:
        raise SurrogateError(f"mixture {name!r} needs positive mass fractions")
    weights = [(m, w / total) for m, w in parts]
    x0 = 1.0 / sum(w / m.x0_g_cm2 for m, w in weights)
    loss_per_x0 = sum(w * m.critical_energy_mev / m.x0_g_cm2 for m, w in weights)
    moliere = 1.0 / sum(w / m.moliere_radius_g_cm2 for m, w in weights)
    electrons = sum(w * m.z_over_a for m, w in weights)
    ln_i = sum(w * m.z_over_a * math.log(m.mean_excitation_ev) for m, w in weights) / electrons
    composition: dict[Element, float] = {}
    for m, w in weights:
        for el, fraction in m.composition:
            composition[el] = composition.get(el, 0.0) + w * fraction
    return Material(
        name=name, composition=tuple(composition.items()), density_g_cm3=density_g_cm3, x0_g_cm2=x0,
        critical_energy_mev=x0 * loss_per_x0,
        dedx_min_mev_cm2_g=sum(w * m.dedx_min_mev_cm2_g for m, w in weights),
        moliere_radius_g_cm2=moliere, mean_excitation_ev=math.exp(ln_i),
    )


def effective(geometry) -> Material:
    """The stack of ``geometry`` smeared into one homogeneous material (its X0, E_c, R_M, density)."""
    if not geometry.stack:
        raise SurrogateError(f"geometry {geometry.name!r} has no material stack")
    masses = [(get_material(s.material), s.thickness_mm * get_material(s.material).density_g_cm3)
              for s in geometry.stack]
    thickness_mm = sum(s.thickness_mm for s in geometry.stack)
    return mixture(f"{geometry.name}-effective", masses, sum(m for _, m in masses) / thickness_mm)
