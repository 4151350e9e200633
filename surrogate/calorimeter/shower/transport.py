"""The condensed-history transport loop: all particles of all showers of a batch advance together.

Each pass moves every photon to its next interaction and every charged particle by one step; the
secondaries join the next pass. Photons fly through the slab structure analytically (one interaction
per pass). Charged steps end at slab boundaries, after a set fraction of continuous energy loss or of
scattering width, or at a discrete bremsstrahlung / annihilation, whichever comes first; ionisation
and sub-cut bremsstrahlung are deposited at the step's midpoint, and the direction is deflected by a
Highland-width angle at its end.
"""
from __future__ import annotations

import math

import numpy as np

from surrogate.calorimeter.geometry import Geometry
from surrogate.calorimeter.shower import samplers
from surrogate.calorimeter.shower.crosssections import ELECTRON_MASS_MEV as ME
from surrogate.calorimeter.shower.cuts import TrackingCuts
from surrogate.calorimeter.shower.deposits import DepositLedger, ShowerTally
from surrogate.calorimeter.shower.medium import SlabMedium
from surrogate.calorimeter.shower.particles import Particles
from surrogate.calorimeter.shower.tables import COMPTON, PHOTO, build_tables

PARTICLES = ("e-", "e+", "gamma")


class ShowerTransport:
    """Transports batches of showers through one geometry with fixed cuts."""

    def __init__(self, geometry: Geometry, cuts: TrackingCuts):
        self.geometry = geometry
        self.cuts = cuts
        self.medium = SlabMedium.from_geometry(geometry)
        self.tables = build_tables(self.medium.materials)
        self._mu_total = self.tables.photon_mu_per_mm.sum(axis=1)

    def run(self, particle: str, energies_mev: np.ndarray, rng: np.random.Generator) -> ShowerTally:
        """Showers of ``particle`` entering at the origin along +z with kinetic energies ``energies_mev``."""
        n = energies_mev.size
        ledger = DepositLedger(self.geometry, self.medium, n)
        primaries = Particles.at(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, energies_mev, np.arange(n), particle == "e+")
        slab0 = np.zeros(n, dtype=np.intp)
        if particle == "gamma":
            photons, charged = self._keep_photons(primaries, slab0, ledger), Particles.empty()
        else:
            photons, charged = Particles.empty(), self._keep_charged(primaries, slab0, ledger, rng)[0]
        while photons.size or charged.size:
            new_charged, new_photons = Particles.empty(), Particles.empty()
            if photons.size:
                photons, new_charged = self._photon_pass(photons, ledger, rng)
            if charged.size:
                charged, new_photons = self._charged_pass(charged, ledger, rng)
            photons = Particles.concatenate([photons, new_photons])
            charged = Particles.concatenate([charged, new_charged])
        return ledger.tally()

    # -- creation of secondaries ------------------------------------------------------------------

    def _keep_photons(self, p: Particles, slab: np.ndarray, ledger: DepositLedger) -> Particles:
        """Photons above the cut; the others are absorbed where they are."""
        keep = p.energy >= self.cuts.photon_cut_mev
        low = ~keep
        ledger.deposit(p.shower[low], p.x[low], p.y[low], p.z[low], slab[low], p.energy[low])
        return p.take(keep)

    def _keep_charged(self, p: Particles, slab: np.ndarray, ledger: DepositLedger,
                      rng: np.random.Generator) -> tuple[Particles, Particles]:
        """Charged particles still to track, and the annihilation photons of positrons that stop here.

        A particle stops below the tracking cut, or below ``low_energy_mev`` when even its full range
        would not take it out of its slab (so the active/passive split of its energy is exact).
        """
        low = p.energy < self.cuts.electron_cut_mev
        candidates = np.nonzero(~low & (p.energy < self.cuts.low_energy_mev))[0]
        if candidates.size:
            z, w = p.z[candidates], p.w[candidates]
            here, z_lo, z_hi = self.medium.locate(z, w)
            index, weight = self.tables.grid.locate(p.energy[candidates])
            material = self.medium.material_index[here]
            charge = p.positron[candidates].astype(np.intp)
            table = self.tables.range_mm
            reach = table[material, charge, index] * (1 - weight) + table[material, charge, index + 1] * weight
            low[candidates[reach < np.minimum(z - z_lo, z_hi - z)]] = True
        keep = ~low
        ledger.deposit(p.shower[low], p.x[low], p.y[low], p.z[low], slab[low], p.energy[low])
        stopped_positrons = low & p.positron
        photons = self._annihilate_at_rest(p.take(stopped_positrons), slab[stopped_positrons], ledger, rng)
        return p.take(keep), photons

    def _annihilate_at_rest(self, p: Particles, slab: np.ndarray, ledger: DepositLedger,
                            rng: np.random.Generator) -> Particles:
        """Two back-to-back 511 keV photons, isotropic, for each stopped positron."""
        if p.size == 0:
            return Particles.empty()
        u, v, w = samplers.isotropic(rng, p.size)
        both = Particles.concatenate([
            Particles.at(p.x, p.y, p.z, u, v, w, np.full(p.size, ME), p.shower),
            Particles.at(p.x, p.y, p.z, -u, -v, -w, np.full(p.size, ME), p.shower),
        ])
        return self._keep_photons(both, np.concatenate([slab, slab]), ledger)

    # -- photons ------------------------------------------------------------------------------------

    def _photon_pass(self, g: Particles, ledger: DepositLedger,
                     rng: np.random.Generator) -> tuple[Particles, Particles]:
        """Move every photon to its next interaction; returns (surviving photons, new e+-)."""
        tables, medium = self.tables, self.medium
        index, weight = tables.grid.locate(g.energy)
        mu_all = self._mu_total[:, index] * (1 - weight) + self._mu_total[:, index + 1] * weight
        path, slab = medium.photon_flight(g.z, g.w, rng.standard_exponential(g.size), mu_all)
        g.x, g.y, g.z = g.x + path * g.u, g.y + path * g.v, g.z + path * g.w
        out = (g.z < 0) | (g.z > medium.depth_mm)
        ledger.escape(g.shower[out], g.energy[out])
        inside = ~out
        g, slab, index, weight = g.take(inside), slab[inside], index[inside], weight[inside]
        material = medium.material_index[slab]
        table = tables.photon_mu_per_mm
        mu = table[material, :, index] * (1 - weight)[:, None] + table[material, :, index + 1] * weight[:, None]
        pick = rng.random(g.size) * mu.sum(axis=1)
        photo = pick < mu[:, PHOTO]
        compton = ~photo & (pick < mu[:, PHOTO] + mu[:, COMPTON])
        pair = ~photo & ~compton

        # photoelectric: the photon is absorbed, an electron carries its energy on (binding neglected)
        electrons = [self._keep_charged(g.take(photo), slab[photo], ledger, rng)[0]]
        scattered, recoil = self._compton(g.take(compton), slab[compton], ledger, rng)
        electrons.append(recoil)
        pairs, annihilation = self._pair(g.take(pair), slab[pair], material[pair], ledger, rng)
        electrons.append(pairs)
        return Particles.concatenate([scattered, annihilation]), Particles.concatenate(electrons)

    def _compton(self, g: Particles, slab: np.ndarray, ledger: DepositLedger,
                 rng: np.random.Generator) -> tuple[Particles, Particles]:
        """Klein-Nishina scattering: (scattered photons, recoil electrons), both subject to the cuts."""
        if g.size == 0:
            return Particles.empty(), Particles.empty()
        k = g.energy / ME
        eps = samplers.klein_nishina(rng, k)
        cos_t = np.clip(1 - (1 / eps - 1) / k, -1.0, 1.0)
        sin_t = np.sqrt(1 - cos_t**2)
        u1, v1, w1 = samplers.rotate(g.u, g.v, g.w, cos_t, sin_t, rng.uniform(0, 2 * math.pi, g.size))
        e_photon = eps * g.energy
        # recoil momentum = incoming photon momentum - outgoing photon momentum
        pu, pv, pw = g.energy * g.u - e_photon * u1, g.energy * g.v - e_photon * v1, g.energy * g.w - e_photon * w1
        norm = np.maximum(np.sqrt(pu**2 + pv**2 + pw**2), 1e-300)
        recoil = Particles.at(g.x, g.y, g.z, pu / norm, pv / norm, pw / norm, g.energy - e_photon, g.shower)
        scattered = Particles.at(g.x, g.y, g.z, u1, v1, w1, e_photon, g.shower)
        return self._keep_photons(scattered, slab, ledger), self._keep_charged(recoil, slab, ledger, rng)[0]

    def _pair(self, g: Particles, slab: np.ndarray, material: np.ndarray, ledger: DepositLedger,
              rng: np.random.Generator) -> tuple[Particles, Particles]:
        """An electron and a positron along the photon's direction sharing E - 2 m_e."""
        if g.size == 0:
            return Particles.empty(), Particles.empty()
        eps = samplers.pair_fraction(rng, self.tables, material, g.energy)
        t_minus = np.maximum(eps * g.energy - ME, 0.0)
        t_plus = np.maximum(g.energy - 2 * ME - t_minus, 0.0)
        both = Particles.concatenate([
            Particles.at(g.x, g.y, g.z, g.u, g.v, g.w, t_minus, g.shower, False),
            Particles.at(g.x, g.y, g.z, g.u, g.v, g.w, t_plus, g.shower, True),
        ])
        return self._keep_charged(both, np.concatenate([slab, slab]), ledger, rng)

    # -- electrons and positrons ----------------------------------------------------------------------

    def _charged_pass(self, c: Particles, ledger: DepositLedger,
                      rng: np.random.Generator) -> tuple[Particles, Particles]:
        """One condensed-history step for every e+-; returns (surviving e+-, new photons)."""
        tables, medium, cuts = self.tables, self.medium, self.cuts
        n = c.size
        slab, z_lo, z_hi = medium.locate(c.z, c.w)
        material = medium.material_index[slab]
        x0 = tables.x0_mm[material]
        kinetic = c.energy
        total = kinetic + ME
        index, weight = tables.grid.locate(kinetic)
        charge = c.positron.astype(np.intp)
        dedx = (tables.dedx_mev_per_mm[material, charge, index] * (1 - weight)
                + tables.dedx_mev_per_mm[material, charge, index + 1] * weight)

        # bremsstrahlung: photons above the cut are discrete, the rest is continuous loss
        y_max = kinetic / total
        y_cut = np.minimum(cuts.photon_cut_mev / total, y_max)
        radiates = y_cut < y_max
        brems_rate = np.where(radiates, (4 / 3 * np.log(y_max / y_cut) - 4 / 3 * (y_max - y_cut)
                                         + 0.5 * (y_max**2 - y_cut**2)) / x0, 0.0)
        soft_loss = total / x0 * (4 / 3 * y_cut - 2 / 3 * y_cut**2 + y_cut**3 / 3)
        loss_rate = dedx + soft_loss
        annihilation_rate = np.where(
            c.positron,
            tables.electrons_per_mm3[material] * (tables.annihilation_mm2[index] * (1 - weight)
                                                  + tables.annihilation_mm2[index + 1] * weight),
            0.0)
        discrete_rate = brems_rate + annihilation_rate

        # step length: the shortest of boundary, energy loss, scattering width and discrete interaction
        with np.errstate(divide="ignore"):
            to_boundary = np.where(c.w > 0, (z_hi - c.z) / c.w, np.where(c.w < 0, (z_lo - c.z) / c.w, np.inf))
            to_interaction = rng.standard_exponential(n) / discrete_rate
        momentum = np.sqrt(kinetic * (kinetic + 2 * ME))
        by_loss = cuts.max_loss_fraction * kinetic / loss_rate
        # at low energy electrons diffuse and a looser scattering limit applies
        theta_max = np.where(kinetic < cuts.low_energy_mev, cuts.low_energy_scattering_rad,
                             cuts.max_scattering_rad)
        by_scattering = x0 * (theta_max * momentum * momentum / total / samplers.HIGHLAND_MEV) ** 2
        step = np.minimum(np.minimum(by_loss, by_scattering), np.minimum(to_boundary, to_interaction))
        hits_boundary = step == to_boundary
        interacts = (step == to_interaction) & ~hits_boundary

        # continuous loss, deposited at the midpoint
        loss = np.minimum(loss_rate * step, kinetic)
        half = 0.5 * step
        ledger.deposit(c.shower, c.x + half * c.u, c.y + half * c.v, c.z + half * c.w, slab, loss)
        c.x, c.y = c.x + step * c.u, c.y + step * c.v
        c.z = np.where(hits_boundary, np.where(c.w > 0, z_hi, z_lo), c.z + step * c.w)
        theta0 = samplers.highland_theta0(np.maximum(kinetic - 0.5 * loss, 1e-6), step / x0)
        c.energy = kinetic - loss

        # leaving the calorimeter (front or back face, moving outwards)
        out = ((c.z <= 0) & (c.w < 0)) | ((c.z >= medium.depth_mm) & (c.w > 0))
        ledger.escape(c.shower[out], c.energy[out] + np.where(c.positron[out], 2 * ME, 0.0))
        alive = ~out

        # discrete interactions at the end of the step
        annihilates = alive & interacts & (rng.random(n) * discrete_rate < annihilation_rate)
        radiating = alive & interacts & ~annihilates
        new_photons = [
            self._bremsstrahlung(c, radiating, rng),
            self._annihilate_in_flight(c.take(annihilates), slab[annihilates], ledger, rng),
        ]
        alive &= ~annihilates

        # multiple scattering of the survivors, then the tracking cut
        theta = theta0[alive] * np.sqrt(-2 * np.log1p(-rng.random(int(alive.sum()))))
        survivors = c.take(alive)
        survivors.u, survivors.v, survivors.w = samplers.rotate(
            survivors.u, survivors.v, survivors.w, np.cos(theta), np.sin(theta),
            rng.uniform(0, 2 * math.pi, survivors.size))
        survivors, annihilation = self._keep_charged(survivors, slab[alive], ledger, rng)
        new_photons.append(annihilation)
        return survivors, Particles.concatenate(new_photons)

    def _bremsstrahlung(self, c: Particles, radiating: np.ndarray, rng: np.random.Generator) -> Particles:
        """Emit one photon (along the emitter's direction) from each radiating particle; updates ``c``."""
        if not radiating.any():
            return Particles.empty()
        kinetic = c.energy[radiating]
        total = kinetic + ME
        y_max = kinetic / total
        y_cut = np.minimum(self.cuts.photon_cut_mev / total, y_max)
        photon = samplers.brems_fraction(rng, y_cut, y_max) * total
        photon = np.minimum(photon, kinetic)
        c.energy[radiating] = kinetic - photon
        e = c.take(radiating)
        return Particles.at(e.x, e.y, e.z, e.u, e.v, e.w, photon, e.shower)

    def _annihilate_in_flight(self, p: Particles, slab: np.ndarray, ledger: DepositLedger,
                              rng: np.random.Generator) -> Particles:
        """Two photons sharing T + 2 m_e with Heitler's spectrum, momentum conserved."""
        if p.size == 0:
            return Particles.empty()
        gamma = 1 + p.energy / ME
        eps = samplers.annihilation_fraction(rng, gamma)
        available = p.energy + 2 * ME
        e1 = eps * available
        cos_t = np.clip((eps * (gamma + 1) - 1) / (eps * np.sqrt(gamma**2 - 1)), -1.0, 1.0)
        u1, v1, w1 = samplers.rotate(p.u, p.v, p.w, cos_t, np.sqrt(1 - cos_t**2),
                                     rng.uniform(0, 2 * math.pi, p.size))
        momentum = np.sqrt(p.energy * (p.energy + 2 * ME))
        qu, qv, qw = momentum * p.u - e1 * u1, momentum * p.v - e1 * v1, momentum * p.w - e1 * w1
        norm = np.maximum(np.sqrt(qu**2 + qv**2 + qw**2), 1e-300)
        both = Particles.concatenate([
            Particles.at(p.x, p.y, p.z, u1, v1, w1, e1, p.shower),
            Particles.at(p.x, p.y, p.z, qu / norm, qv / norm, qw / norm, available - e1, p.shower),
        ])
        return self._keep_photons(both, np.concatenate([slab, slab]), ledger)
