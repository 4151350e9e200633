"""Materials: PDG constants and the mixture rules that give a stack's effective X0, E_c and R_M."""
from __future__ import annotations

import pytest

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.materials import MATERIALS, SCALE_ENERGY_MEV, effective, get_material, mixture
from surrogate.errors import SurrogateError


def test_element_lengths_match_the_pdg_values_in_cm():
    tungsten = get_material("W")
    assert tungsten.x0_mm == pytest.approx(3.504, rel=1e-9)
    assert tungsten.moliere_radius_mm == pytest.approx(9.33, rel=1e-9)
    assert tungsten.dedx_min_mev_mm == pytest.approx(2.21, rel=1e-9)
    assert get_material("LAr").x0_mm == pytest.approx(140.0, rel=1e-9)


@pytest.mark.parametrize("name", sorted(MATERIALS))
def test_moliere_radius_follows_from_x0_and_critical_energy(name):
    material = MATERIALS[name]
    expected = SCALE_ENERGY_MEV * material.x0_mm / material.critical_energy_mev
    assert material.moliere_radius_mm == pytest.approx(expected, rel=0.01)


def test_ds2_stack_has_the_expected_effective_constants():
    stack = effective(get_geometry("ds2"))
    assert stack.x0_mm == pytest.approx(4.22, abs=0.01)
    assert stack.critical_energy_mev == pytest.approx(8.2, abs=0.05)
    assert stack.moliere_radius_mm == pytest.approx(10.9, abs=0.05)
    assert stack.density_g_cm3 == pytest.approx((1.4 * 19.3 + 0.3 * 2.329) / 1.7)


def test_calogan_stack_reproduces_its_readout_depths_in_x0():
    stack = effective(get_geometry("calogan"))
    # the CaloGAN readout depths 90 / 347 / 43 mm are about 5.8 / 22.3 / 2.8 X0
    assert 90 / stack.x0_mm == pytest.approx(5.8, abs=0.1)
    assert 347 / stack.x0_mm == pytest.approx(22.3, abs=0.2)


def test_mixture_rules_by_mass_fraction():
    w, si = get_material("W"), get_material("Si")
    mixed = mixture("half", [(w, 2.0), (si, 2.0)], density_g_cm3=5.0)  # fractions are normalised
    assert 1 / mixed.x0_g_cm2 == pytest.approx(0.5 / w.x0_g_cm2 + 0.5 / si.x0_g_cm2)
    assert 1 / mixed.moliere_radius_g_cm2 == pytest.approx(0.5 / w.moliere_radius_g_cm2 + 0.5 / si.moliere_radius_g_cm2)
    assert mixed.dedx_min_mev_cm2_g == pytest.approx(0.5 * (w.dedx_min_mev_cm2_g + si.dedx_min_mev_cm2_g))
    assert {el.symbol: f for el, f in mixed.composition} == pytest.approx({"W": 0.5, "Si": 0.5})
    assert w.mean_excitation_ev > mixed.mean_excitation_ev > si.mean_excitation_ev


def test_a_mixture_of_one_material_is_that_material():
    lead = get_material("Pb")
    same = mixture("lead", [(lead, 1.0)], lead.density_g_cm3)
    for attribute in ("x0_mm", "critical_energy_mev", "moliere_radius_mm", "dedx_min_mev_mm", "mean_excitation_ev"):
        assert getattr(same, attribute) == pytest.approx(getattr(lead, attribute))


def test_unknown_material_and_empty_mixture_are_user_errors():
    with pytest.raises(SurrogateError, match="unknown material"):
        get_material("unobtainium")
    with pytest.raises(SurrogateError):
        mixture("nothing", [], 1.0)
