#!/usr/bin/python3
"""Generate the inputs of the example jobs under examples/, deterministically.

Run with Debian's OpenMM Python (package python3-simtk, OpenMM 7.7):

    /usr/bin/python3 tools/make_examples.py            # (re)write everything
    /usr/bin/python3 tools/make_examples.py --verify   # also run sanity MD

The outputs are committed so that the examples run without Python. Running the
script again rewrites the same bytes (fixed positions, fixed seeds, minimisation
on the Reference platform); only a different OpenMM/NumPy/SciPy build could
change the last digits.

What it makes, and why each constant is what it is
==================================================

examples/harmonic-oscillator/  (system.xml, state.xml, job.yaml, hremd.yaml,
                                grid.yaml, adaptive.yaml, adaptive-hremd.yaml,
                                asynchronous.yaml)
    N = 4 particles of mass 12 amu, each tied to the origin by one
    CustomExternalForce "0.5*K*(x^2+y^2+z^2)" with a *global* parameter K.
    The System has no constraints and no CMMotionRemover, so all d = 3N = 12
    coordinates are harmonic and the potential energy is exactly
    U ~ Gamma(shape d/2 = 6, scale k_B T): the tests compare every rung with
    that distribution. (A CMMotionRemover would change the dynamics of the
    centre of mass and constraints would remove degrees of freedom.)
    - K = 4000 kJ/mol/nm^2: omega = sqrt(K/m) = 18.3 /ps, period 0.344 ps =
      172 steps of 0.002 ps, far from the integrator's stability limit.
      LangevinMiddleIntegrator (BAOAB) samples the configurations of a
      harmonic oscillator exactly at any stable timestep, so there is no
      timestep bias to speak of.
    - friction 20 /ps (damping ratio gamma/2omega = 0.55) and
      steps_per_exchange 50 (0.1 ps): for a Langevin oscillator the
      correlation of U between rounds is C_x(0.1 ps)^2 = 0.066, integrated
      autocorrelation time about 1.2 rounds, so each of the 2000 rounds is
      almost an independent sample per rung.
    - T-REMD ladder: 4 rungs geometric 300-600 K (ratio 2^(1/3)); for
      Gamma(6) energies the exact neighbour acceptance is 0.695 for every pair.
    - H-REMD (hremd.yaml): K = 4000, 5657, 8000, 11314 (ratio sqrt 2) at
      300 K, gibbs scheme. Swapping K rungs is the same problem as swapping
      temperatures with the same ratio: neighbour Metropolis acceptance 0.558.
      Highest K: period 86 steps, still well resolved.
    - Grid (grid.yaml): temperatures 300, 330, 363 K x K = 4000, 5657, 8000,
      neighbors along one axis a round: exact acceptance 0.872 along
      temperature (ratio 1.1), 0.558 along K.
    - Adaptive (adaptive.yaml): the T-REMD job from 300, 310, 320, 600 K,
      adapting every 1000 rounds for 3000, then 3000 rounds of production:
      1000 rounds give each pair 500 attempts, so each change measures
      acceptance to about 0.02 and the frozen ladder lands within a few
      percent of the geometric one.
    - Adaptive H-REMD (adaptive-hremd.yaml): the H-REMD job from K = 4000,
      4400, 4800, 11314, adapting every 300 rounds for 1500, then 2000
      rounds of production; the rungs move along K towards the geometric
      ladder, which is the equal one.
    - Asynchronous (asynchronous.yaml): the T-REMD job with exchange.mode
      asynchronous and the gibbs scheme (the one to use with it,
      docs/exchange.md); no checkpoints, since that mode keeps no results.
    - Starting positions 0.02 nm off the origin (the 300 K rms displacement
      per coordinate is sqrt(k_B T/K) = 0.025 nm).

examples/umbrella-double-well/  (system.xml, state.xml, starts/, job.yaml)
    Replica-exchange umbrella sampling over the double well's barrier at
    300 K: bias 0.5*ku*(x-x0)^2, ku = 1000 kJ/mol/nm^2 (window width
    sqrt(k_B T/ku) = 0.050 nm), 10 centres x0 from -0.3 to 0.3 nm (0.067 nm
    apart, so neighbouring windows overlap), x0 the ladder parameter. Each
    window's replica starts at its own centre (replica_starts: a directory).
    job.yaml lists the exact <x> per window (quadrature).

examples/double-well/  (system.xml, state.xml, job.yaml, README.md)
    One particle, mass 12 amu, with
        U = E0*((x/a)^2-1)^2 + c*x + 0.5*ky*(y^2+z^2)
    - E0 = 32 kJ/mol, a = 0.2 nm: the wells sit near x = -a and x = +a; the
      barrier (from the left/right well) is 13.4/12.3 k_BT at 300 K and
      2.0/1.8 k_BT at 2000 K. Well curvature 8*E0/a^2 = 6400 kJ/mol/nm^2, so
      the period in a well is 0.27 ps = 136 steps. Plain Langevin MD at 300 K
      does not cross in 4 ns (the job is 4 ns per replica); at 2000 K it
      crosses every 2-3 ps (see --verify).
    - c = 7 kJ/mol/nm tilts the wells by about 2*c*a = 2.8 kJ/mol: the exact
      300 K population ratio left:right is about 3:1 (the script integrates
      exp(-beta U(x)) numerically on both sides of the barrier top and writes
      the value, per rung, into examples/double-well/README.md).
    - ky = 5000 kJ/mol/nm^2 keeps the particle near the x axis; y and z add
      an exactly exponential (Gamma(1, k_B T)) term to U and do not affect
      the x populations.
    - Ladder 5 rungs geometric 300-2000 K: estimated neighbour acceptance
      about 0.68-0.70 (Monte Carlo over the exact distributions, seeded).
    - friction 10 /ps, steps_per_exchange 100 (0.2 ps), n_rounds 20000: run
      through lib/runner with 8 different seeds, the 300 K left fraction
      (rounds >= 1000) had a standard deviation of 0.009 between seeds and a
      mean within 0.005 of the exact value; with 10000 rounds the spread was
      0.018. The whole job takes about 10 s.
    - The particle starts in the *less* populated right well (x = +a), so the
      300 K rung can only reach the right populations through exchanges.

examples/alanine-dipeptide/  (input.pdb, system.xml, state.xml, job.yaml)
    ACE-ALA-NME in implicit solvent: ForceField('amber99sbildn.xml',
    'amber99_obc.xml'), NoCutoff, HBonds constraints (22 atoms). No Debian
    package ships its PDB, so the heavy atoms are built here from standard
    internal coordinates (Engh & Huber bond lengths and angles, trans
    peptides, L-alanine, phi/psi = -150/150, the extended beta region) by
    NeRF, the hydrogens are added by Modeller.addHydrogens(forcefield) (with
    Python's random module seeded, on the Reference platform), and the whole
    molecule is minimised on the Reference platform. The script checks bond
    lengths, chirality and clashes and prints the energy and phi/psi.
    - T-REMD 8 rungs geometric 300-450 K (ratio 1.06), timestep 0.002 ps,
      friction 1 /ps, steps_per_exchange 500 (1 ps). From short runs here
      (mean U -75 / -38 kJ/mol, sd 12 / 19 kJ/mol at 300 / 450 K) a Gaussian
      estimate of neighbour acceptance is about 0.84; the 80-round job run
      through lib/runner accepted 0.80-0.95 per pair.
    - Platform CPU with Threads=1 per replica: for 22 atoms OpenMM's CPU
      platform spends about 0.25 ms of CPU per step with one thread and more
      with two (synchronisation dominates), so one thread per Context and the
      replicas spread over the cores is fastest. n_rounds = 80 is
      8 * 500 * 80 = 320000 steps; through lib/runner with 2 threads it took
      62 s on 2 cores that were also busy compiling. (The Reference platform
      ran the same job in 11 s: for 22 atoms the CPU platform's per-step
      overhead dominates. CPU is kept because it is the platform real systems
      use on CPUs; switch to `platform: Reference` for 6x more sampling.)
"""

import argparse
import io
import math
import random
import sys
from pathlib import Path

import numpy as np
from scipy import integrate, special

import openmm as mm
from openmm import app, unit

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# kJ/mol/K, the value lib/exchange/ladder.h uses (CODATA 2018).
KB = 8.31446261815324e-3
TIMESTEP_PS = 0.002
SEED = 2026

# --- harmonic oscillator -----------------------------------------------------
HO_N = 4
HO_MASS = 12.0  # amu
HO_K = 4000.0  # kJ/mol/nm^2
HO_FRICTION = 20.0  # /ps
HO_STEPS = 50
HO_ROUNDS = 2000
HO_T = (300.0, 600.0, 4)  # min, max, rungs (geometric)
HO_HREMD_T = 300.0
HO_HREMD_K = [4000.0, 5657.0, 8000.0, 11314.0]  # 4000 * sqrt(2)^k, rounded
# The adaptive example: a poor start, three changes of 1000 rounds each.
HO_ADAPT_T = [300.0, 310.0, 320.0, 600.0]
HO_ADAPT_ROUNDS = 3000
HO_ADAPT_INTERVAL = 1000
HO_ADAPT_N_ROUNDS = 6000
# The adaptive H-REMD example: K crowded at the bottom, moved along K.
HO_ADAPT_K = [4000.0, 4400.0, 4800.0, 11314.0]
HO_ADAPT_K_ROUNDS = 1500
HO_ADAPT_K_INTERVAL = 300
HO_ADAPT_K_N_ROUNDS = 3500
HO_POSITIONS = [(0.02, 0.0, 0.0), (0.0, 0.02, 0.0), (0.0, 0.0, 0.02),
                (-0.012, -0.012, -0.012)]  # nm

# --- double well -------------------------------------------------------------
DW_MASS = 12.0  # amu
DW_E0 = 32.0  # kJ/mol
DW_A = 0.2  # nm
DW_C = 7.0  # kJ/mol/nm
DW_KY = 5000.0  # kJ/mol/nm^2
DW_FRICTION = 10.0
DW_STEPS = 100
DW_ROUNDS = 20000
DW_T = (300.0, 2000.0, 5)
DW_START = (DW_A, 0.0, 0.0)  # nm: the less populated (right) well

# --- alanine dipeptide -------------------------------------------------------
AD_PHI, AD_PSI = -150.0, 150.0  # degrees: extended (beta) region
AD_T = (300.0, 450.0, 8)
AD_FRICTION = 1.0
AD_STEPS = 500
AD_ROUNDS = 80


def geometric(t_min, t_max, n):
    return [t_min * (t_max / t_min) ** (k / (n - 1)) for k in range(n)]


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"  wrote {path.relative_to(ROOT)} ({len(text)} bytes)")


def serialize_state(system, positions):
    """State XML holding positions only (no velocities), via a Reference
    Context so the text is what XmlSerializer produces for a State."""
    context = mm.Context(system, mm.VerletIntegrator(TIMESTEP_PS),
                         mm.Platform.getPlatformByName("Reference"))
    context.setPositions(positions)
    state = context.getState(getPositions=True)
    del context
    return mm.XmlSerializer.serialize(state)


def gamma_swap_acceptance(shape, ratio):
    """Exact mean Metropolis acceptance of a swap between two rungs whose
    energies are Gamma(shape, 1/beta_i) and Gamma(shape, 1/beta_j), with
    ratio = beta_i/beta_j > 1 (or K_j/K_i for H-REMD over a force constant).

    With x = beta_i U_i ~ Gamma(shape, 1) and r = 1/ratio:
      A = E[P(shape, r x)] + r^shape E[exp((1-r) x) Q(shape, x)],
    P and Q the regularised incomplete gamma functions (accept always when
    U_i >= U_j; otherwise integrate exp(-(beta_i-beta_j)(U_j-U_i)) over U_j).
    """
    r = 1.0 / ratio

    def integrand(x):
        if x <= 0:
            return 0.0
        log_x = math.log(x)
        pdf = math.exp((shape - 1) * log_x - x - math.lgamma(shape))
        # pdf * exp((1-r) x), combined so that it cannot overflow
        tilted = math.exp((shape - 1) * log_x - r * x - math.lgamma(shape))
        return (pdf * special.gammainc(shape, r * x) +
                r**shape * tilted * special.gammaincc(shape, x))

    # x ~ Gamma(shape, 1): the integrand is below 1e-30 beyond shape + 100.
    value, _ = integrate.quad(integrand, 0, shape + 100, epsabs=1e-13,
                              epsrel=1e-11, limit=400)
    return value


# =============================================================================
# Harmonic oscillator
# =============================================================================

def harmonic_system():
    system = mm.System()
    force = mm.CustomExternalForce("0.5*K*(x^2+y^2+z^2)")
    force.addGlobalParameter("K", HO_K)
    for i in range(HO_N):
        system.addParticle(HO_MASS)
        force.addParticle(i, [])
    system.addForce(force)
    assert system.getNumConstraints() == 0
    assert not any(isinstance(system.getForce(i), mm.CMMotionRemover)
                   for i in range(system.getNumForces()))
    return system


def reference_job(name, friction, checkpoint_interval):
    """The fields the Reference-platform examples share, up to their ladder."""
    return f"""\
name: {name}
owner: examples
labels: {{kind: example}}
system: system.xml
coordinates: state.xml
platform: Reference
seed: {SEED}
checkpoint_interval: {checkpoint_interval}
integrator: {{timestep_ps: {TIMESTEP_PS:g}, friction_per_ps: {friction:g}}}
"""


def make_harmonic():
    print("harmonic-oscillator")
    out = EXAMPLES / "harmonic-oscillator"
    system = harmonic_system()
    write(out / "system.xml", mm.XmlSerializer.serialize(system))
    write(out / "state.xml",
          serialize_state(system, [mm.Vec3(*p) for p in HO_POSITIONS]))

    dof = 3 * HO_N
    shape = dof / 2
    t_min, t_max, n = HO_T
    temps = geometric(t_min, t_max, n)
    acc = gamma_swap_acceptance(shape, temps[1] / temps[0])
    omega = math.sqrt(HO_K / HO_MASS)
    period_steps = 2 * math.pi / omega / TIMESTEP_PS
    means = ", ".join(f"{t:.1f} K: {shape * KB * t:.2f}" for t in temps)
    print(f"  d = {dof}, U ~ Gamma({shape:g}, k_B T); period {period_steps:.0f}"
          f" steps; T-REMD neighbour acceptance {acc:.4f}")
    write(out / "job.yaml", f"""\
# T-REMD of {HO_N} independent 3-D harmonic oscillators (mass {HO_MASS:g} amu,
# U = sum_i 0.5*K*r_i^2, K = {HO_K:g} kJ/mol/nm^2; no constraints, no
# CMMotionRemover). Made by tools/make_examples.py.
#
# What is analytic (the tests check it):
#   d = 3N = {dof} harmonic degrees of freedom, so at each rung the potential
#   energy is exactly U ~ Gamma(shape d/2 = {shape:g}, scale k_B T), mean d/2 k_B T
#   (kJ/mol) = {means}.
#   The rungs are geometric with ratio {temps[1] / temps[0]:.4f}, so every
#   neighbour pair accepts swaps with the same exact probability
#   E[min(1, exp((beta_i - beta_j)(U_i - U_j)))] = {acc:.4f}.
# Oscillator period {period_steps:.0f} timesteps; with friction {HO_FRICTION:g}/ps
# successive rounds ({HO_STEPS} steps) are nearly uncorrelated (about 1.2 rounds).
{reference_job('harmonic-oscillator', HO_FRICTION, 100)}ladder:
  n_rungs: {n}
  temperature_range_k: {{min: {t_min:g}, max: {t_max:g}, spacing: geometric}}
exchange: {{scheme: neighbors, steps_per_exchange: {HO_STEPS}, n_rounds: {HO_ROUNDS}}}
output: {{frame_interval: 10}}
""")

    ks = HO_HREMD_K
    hacc = [gamma_swap_acceptance(shape, ks[k + 1] / ks[k])
            for k in range(len(ks) - 1)]
    values = ", ".join(f"{k:g}" for k in ks)
    write(out / "hremd.yaml", f"""\
# H-REMD of the same oscillators over the global parameter K (kJ/mol/nm^2)
# at one temperature. Made by tools/make_examples.py.
#
# What is analytic (the tests check it):
#   At its own rung k the reduced potential u_k = beta*K_k*r^2/2 is exactly
#   Gamma({shape:g}, 1) whatever K_k; the same configuration evaluated with rung
#   0's K is Gamma({shape:g}, K_0/K_k), which shows that K moved with the swaps.
#   Swapping K_i <-> K_j is the same problem as swapping temperatures with the
#   same ratio: a Metropolis swap between neighbours (ratio ~sqrt 2) accepts
#   with probability {", ".join(f"{a:.4f}" for a in hacc)}; the gibbs scheme
#   samples the permutation over all pairs.
{reference_job('harmonic-oscillator-hremd', HO_FRICTION, 100)}ladder:
  n_rungs: {len(ks)}
  temperature_k: {HO_HREMD_T:g}
  parameters: [{{name: K, values: [{values}]}}]
exchange: {{scheme: gibbs, steps_per_exchange: {HO_STEPS}, n_rounds: {HO_ROUNDS}}}
output: {{frame_interval: 10}}
""")

    grid_t = [HO_HREMD_T * 1.1 ** i for i in range(3)]
    grid_k = ks[:3]
    t_acc = gamma_swap_acceptance(shape, 1.1)
    k_acc = gamma_swap_acceptance(shape, grid_k[1] / grid_k[0])
    write(out / "grid.yaml", f"""\
# A grid ladder: the same oscillators over temperature x K, 3 x 3 = 9 rungs,
# rung 3 i + j at temperature i and K j (the last axis varies fastest).
# Made by tools/make_examples.py.
#
# What is analytic (the tests check it): as in hremd.yaml with b = K / T in
# place of K, at every grid point u = b r^2 / (2 k_B) is Gamma({shape:g}, 1).
# `neighbors` exchanges along one axis a round; a swap along temperature
# (ratio 1.1) accepts with probability {t_acc:.4f}, along K (ratio ~sqrt 2)
# {k_acc:.4f}.
{reference_job('harmonic-oscillator-grid', HO_FRICTION, 100)}ladder:
  axes:
    - temperatures_k: [{", ".join(f"{t:g}" for t in grid_t)}]
    - parameters: [{{name: K, values: [{", ".join(f"{k:g}" for k in grid_k)}]}}]
exchange: {{scheme: neighbors, steps_per_exchange: {HO_STEPS}, n_rounds: {HO_ROUNDS}}}
output: {{frame_interval: 10}}
""")

    write(out / "adaptive.yaml", f"""\
# An adaptive temperature ladder: the T-REMD example started from a poor
# ladder, {", ".join(f"{t:g}" for t in HO_ADAPT_T)} K (neighbour acceptance
# about 0.95, 0.97 and 0.28), which the adaptation phase re-spaces for equal
# acceptance every {HO_ADAPT_INTERVAL} rounds for its first {HO_ADAPT_ROUNDS}
# rounds, then freezes for the {HO_ADAPT_N_ROUNDS - HO_ADAPT_ROUNDS} rounds of
# production. Made by tools/make_examples.py.
#
# What is analytic (the tests check it): for Gamma({shape:g}) energies the
# ladder of equal acceptance is geometric, {", ".join(f"{t:.1f}" for t in geometric(HO_ADAPT_T[0], HO_ADAPT_T[-1], len(HO_ADAPT_T)))} K
# (acceptance {gamma_swap_acceptance(shape, (HO_ADAPT_T[-1] / HO_ADAPT_T[0]) ** (1 / (len(HO_ADAPT_T) - 1))):.4f}); in production each rung's energy is
# Gamma({shape:g}, k_B T) at the frozen ladder's temperature.
{reference_job('harmonic-oscillator-adaptive', HO_FRICTION, 500)}ladder:
  temperatures_k: [{", ".join(f"{t:g}" for t in HO_ADAPT_T)}]
  adapt: {{rounds: {HO_ADAPT_ROUNDS}, interval: {HO_ADAPT_INTERVAL}}}
exchange: {{scheme: neighbors, steps_per_exchange: {HO_STEPS}, n_rounds: {HO_ADAPT_N_ROUNDS}}}
output: {{frame_interval: 10}}
""")

    ks = HO_ADAPT_K
    crowded = [gamma_swap_acceptance(shape, ks[k + 1] / ks[k])
               for k in range(len(ks) - 1)]
    even_k = geometric(ks[0], ks[-1], len(ks))
    write(out / "adaptive-hremd.yaml", f"""\
# An adaptive parameter ladder: the H-REMD example started from a crowded
# ladder, K = {", ".join(f"{k:g}" for k in ks)} (exact neighbour acceptance
# {", ".join(f"{a:.2f}" for a in crowded)}), which the adaptation phase moves
# along K for equal acceptance every {HO_ADAPT_K_INTERVAL} rounds for its
# first {HO_ADAPT_K_ROUNDS} rounds, then freezes for the
# {HO_ADAPT_K_N_ROUNDS - HO_ADAPT_K_ROUNDS} rounds of production. Made by
# tools/make_examples.py.
#
# What is analytic (the tests check it): swapping K is swapping beta K, so
# the ladder of equal acceptance is geometric in K, {", ".join(f"{k:.0f}" for k in even_k)}
# (acceptance {gamma_swap_acceptance(shape, (ks[-1] / ks[0]) ** (1 / (len(ks) - 1))):.4f}); in production each rung's own reduced
# potential is Gamma({shape:g}, 1), as in hremd.yaml.
{reference_job('harmonic-oscillator-adaptive-hremd', HO_FRICTION, 100)}ladder:
  n_rungs: {len(ks)}
  temperature_k: {HO_HREMD_T:g}
  parameters: [{{name: K, values: [{", ".join(f"{k:g}" for k in ks)}]}}]
  adapt: {{rounds: {HO_ADAPT_K_ROUNDS}, interval: {HO_ADAPT_K_INTERVAL}}}
exchange: {{scheme: gibbs, steps_per_exchange: {HO_STEPS}, n_rounds: {HO_ADAPT_K_N_ROUNDS}}}
output: {{frame_interval: 10}}
""")

    write(out / "asynchronous.yaml", f"""\
# Asynchronous exchange: the T-REMD example's ladder with exchange.mode
# asynchronous, so no replica waits for the slowest; the replicas waiting
# between segments exchange among themselves, by gibbs (docs/exchange.md).
# Runs with `replex run` and in the cluster (`replexctl submit`). Made by
# tools/make_examples.py.
#
# What is analytic (the tests check it): each rung's energy is
# Gamma({shape:g}, k_B T), as in job.yaml.
{reference_job('harmonic-oscillator-asynchronous', HO_FRICTION, 0)}ladder:
  n_rungs: {n}
  temperature_range_k: {{min: {t_min:g}, max: {t_max:g}, spacing: geometric}}
exchange: {{scheme: gibbs, steps_per_exchange: {HO_STEPS}, n_rounds: {HO_ROUNDS}, mode: asynchronous}}
""")


# =============================================================================
# NPT: an ideal gas of harmonic dimers
# =============================================================================

NPT_MOLECULES = 64
NPT_MASS = 12.0  # amu per atom
NPT_K = 4000.0  # kJ/mol/nm^2, bond with rest length 0
NPT_PRESSURE = 1.0  # bar
NPT_FREQUENCY = 10  # steps between barostat moves
NPT_STEPS = 20
NPT_ROUNDS = 6000
NPT_FRICTION = 20.0
NPT_T = (300.0, 400.0, 4)
BAR_NM3 = 6.02214076e-2  # kJ/mol per bar nm^3


def npt_system(box_nm):
    """Dimers that do not interact: U is the bonds' energy alone. Bonds
    measured through the periodic boundaries make the System periodic, which
    a barostat needs."""
    system = mm.System()
    system.setDefaultPeriodicBoxVectors(mm.Vec3(box_nm, 0, 0),
                                        mm.Vec3(0, box_nm, 0),
                                        mm.Vec3(0, 0, box_nm))
    bonds = mm.CustomBondForce("0.5*kb*r^2")
    bonds.addGlobalParameter("kb", NPT_K)
    bonds.setUsesPeriodicBoundaryConditions(True)
    for m in range(NPT_MOLECULES):
        a = system.addParticle(NPT_MASS)
        b = system.addParticle(NPT_MASS)
        bonds.addBond(a, b, [])
    system.addForce(bonds)
    system.addForce(mm.MonteCarloBarostat(NPT_PRESSURE, NPT_T[0],
                                          NPT_FREQUENCY))
    return system


def make_npt():
    print("npt-ideal-gas")
    out = EXAMPLES / "npt-ideal-gas"
    t_min, t_max, n = NPT_T
    # Start at the lowest rung's mean volume, (M + 1) k_B T / p.
    volume = (NPT_MOLECULES + 1) * KB * t_min / (NPT_PRESSURE * BAR_NM3)
    box = volume ** (1 / 3)
    system = npt_system(box)
    side = 4  # molecules on a 4x4x4 grid, 0.05 nm dimers
    positions = []
    for m in range(NPT_MOLECULES):
        i, j, k = m % side, (m // side) % side, m // (side * side)
        centre = [(c + 0.5) * box / side for c in (i, j, k)]
        positions.append(mm.Vec3(centre[0] - 0.025, centre[1], centre[2]))
        positions.append(mm.Vec3(centre[0] + 0.025, centre[1], centre[2]))
    write(out / "system.xml", mm.XmlSerializer.serialize(system))
    write(out / "state.xml", serialize_state(system, positions))
    temps = geometric(t_min, t_max, n)
    means = ", ".join(
        f"{t:.0f} K: {(NPT_MOLECULES + 1) * KB * t / (NPT_PRESSURE * BAR_NM3):.0f}"
        for t in temps)
    write(out / "job.yaml", f"""\
# NPT T-REMD of an ideal gas of {NPT_MOLECULES} harmonic dimers (mass {NPT_MASS:g} amu per
# atom, bond energy 0.5*kb*r^2, kb = {NPT_K:g} kJ/mol/nm^2, no other interaction),
# with a MonteCarloBarostat at {NPT_PRESSURE:g} bar moving every {NPT_FREQUENCY} steps.
# Made by tools/make_examples.py.
#
# What is analytic (the tests check it), per rung at temperature T:
#   The barostat scales the dimers' centres, never their bonds, and samples
#   p(V) ~ V^M exp(-p V / k_B T) over M = {NPT_MOLECULES} molecules: V ~ Gamma(M + 1 =
#   {NPT_MOLECULES + 1}, k_B T / p), mean (nm^3) {means}.
#   Each bond vector is a 3-D harmonic oscillator: U ~ Gamma(3M/2 = {3 * NPT_MOLECULES // 2},
#   k_B T), independent of V.
#   Exchanges must use u = beta (U + p V): with the p V term left out, the
#   volumes carried between rungs by accepted swaps bias every rung's V.
{reference_job('npt-ideal-gas', NPT_FRICTION, 500)}ladder:
  n_rungs: {n}
  temperature_range_k: {{min: {t_min:g}, max: {t_max:g}, spacing: geometric}}
exchange: {{scheme: neighbors, steps_per_exchange: {NPT_STEPS}, n_rounds: {NPT_ROUNDS}}}
""")


# =============================================================================
# Double well
# =============================================================================

DW_EXPRESSION = "E0*((x/a)^2-1)^2 + c*x + 0.5*ky*(y^2+z^2)"


def dw_u(x):
    return DW_E0 * ((x / DW_A) ** 2 - 1) ** 2 + DW_C * x


def dw_stationary_points():
    """Roots of dU/dx = 4 E0 x (x^2 - a^2)/a^4 + c: left minimum, barrier
    top, right minimum."""
    roots = np.roots([4 * DW_E0 / DW_A**4, 0.0, -4 * DW_E0 / DW_A**2, DW_C])
    assert np.all(np.abs(roots.imag) < 1e-12)
    return tuple(float(r) for r in np.sort(roots.real))


def dw_populations(temperature):
    """Exact P(x < x_b) and P(x > x_b) at `temperature` (y, z factor out)."""
    x_left, x_b, x_right = dw_stationary_points()
    beta = 1.0 / (KB * temperature)
    u0 = dw_u(x_left)

    def weight(x):
        return math.exp(-beta * (dw_u(x) - u0))

    lo, hi = -4 * DW_A, 4 * DW_A  # U there is >= 225 E0: weight < e^-400
    left, _ = integrate.quad(weight, lo, x_b, points=[x_left], epsabs=0,
                             epsrel=1e-12, limit=400)
    right, _ = integrate.quad(weight, x_b, hi, points=[x_right], epsabs=0,
                              epsrel=1e-12, limit=400)
    return left / (left + right), right / (left + right)


def dw_acceptance(temps, samples=400_000):
    """Monte Carlo (seeded) estimate of the mean neighbour acceptance from the
    exact distributions: x by inverse CDF on a fine grid, the y-z energy
    exponential with mean k_B T."""
    rng = np.random.default_rng(SEED)
    grid = np.linspace(-4 * DW_A, 4 * DW_A, 400_001)
    u_grid = dw_u(grid)
    energies = []
    for t in temps:
        p = np.exp(-(u_grid - u_grid.min()) / (KB * t))
        cdf = np.cumsum(p)
        cdf /= cdf[-1]
        x = np.interp(rng.random(samples), cdf, grid)
        energies.append(dw_u(x) + rng.exponential(KB * t, samples))
    acc = []
    for k in range(len(temps) - 1):
        delta = (1 / (KB * temps[k]) - 1 / (KB * temps[k + 1])) * (
            energies[k] - energies[k + 1])
        acc.append(float(np.mean(np.exp(np.minimum(delta, 0.0)))))
    return acc


def double_well_system():
    system = mm.System()
    system.addParticle(DW_MASS)
    force = mm.CustomExternalForce(DW_EXPRESSION)
    for name, value in (("E0", DW_E0), ("a", DW_A), ("c", DW_C),
                        ("ky", DW_KY)):
        force.addGlobalParameter(name, value)
    force.addParticle(0, [])
    system.addForce(force)
    return system


def make_double_well():
    print("double-well")
    out = EXAMPLES / "double-well"
    system = double_well_system()
    write(out / "system.xml", mm.XmlSerializer.serialize(system))
    write(out / "state.xml", serialize_state(system, [mm.Vec3(*DW_START)]))

    x_left, x_b, x_right = dw_stationary_points()
    t_min, t_max, n = DW_T
    temps = geometric(t_min, t_max, n)
    acc = dw_acceptance(temps)
    rows = []
    for t in temps:
        kt = KB * t
        p_left, p_right = dw_populations(t)
        rows.append((t, kt, (dw_u(x_b) - dw_u(x_left)) / kt,
                     (dw_u(x_b) - dw_u(x_right)) / kt, p_left, p_right))
    p300 = rows[0][4] / rows[0][5]
    print(f"  stationary points x = {x_left:.6f}, {x_b:.6f}, {x_right:.6f} nm")
    print(f"  exact {t_min:g} K population ratio P(x<x_b)/P(x>x_b) = "
          f"{p300:.6f} (left fraction {rows[0][4]:.6f})")
    print("  neighbour acceptance (MC estimate) " +
          ", ".join(f"{a:.3f}" for a in acc))
    curvature = 8 * DW_E0 / DW_A**2
    period_steps = 2 * math.pi / math.sqrt(curvature / DW_MASS) / TIMESTEP_PS
    ladder_text = ", ".join(f"{t:.1f}" for t in temps)

    write(out / "job.yaml", f"""\
# T-REMD of one particle in a tilted double well (mass {DW_MASS:g} amu):
#   U = {DW_EXPRESSION}
#   E0 = {DW_E0:g} kJ/mol, a = {DW_A:g} nm, c = {DW_C:g} kJ/mol/nm, ky = {DW_KY:g} kJ/mol/nm^2
# Made by tools/make_examples.py; README.md has the exact numbers.
#
# What is analytic: at each rung the population ratio of the two wells,
# P(x < x_b)/P(x > x_b) with x_b = {x_b:.6f} nm the barrier top, is
# int exp(-beta U(x)) dx on each side (numerical quadrature); at {t_min:g} K it
# is {p300:.4f}. The barrier is {rows[0][2]:.1f}/{rows[0][3]:.1f} k_BT (left/right well) at
# {t_min:g} K, so plain MD there does not cross within this job, and
# {rows[-1][2]:.1f}/{rows[-1][3]:.1f} k_BT at {t_max:g} K, where it crosses freely. The particle
# starts in the less populated right well. Estimated neighbour acceptance
# {", ".join(f"{a:.2f}" for a in acc)}.
{reference_job('double-well', DW_FRICTION, 500)}ladder:
  n_rungs: {n}
  temperature_range_k: {{min: {t_min:g}, max: {t_max:g}, spacing: geometric}}
exchange: {{scheme: neighbors, steps_per_exchange: {DW_STEPS}, n_rounds: {DW_ROUNDS}}}
output: {{frame_interval: 100}}
""")

    table = "\n".join(
        f"| {k} | {t:.2f} | {kt:.4f} | {bl:.2f} | {br:.2f} | {pl:.5f} | "
        f"{pl / pr:.5f} |" for k, (t, kt, bl, br, pl, pr) in enumerate(rows))
    acc_table = "\n".join(
        f"| {k}-{k + 1} | {a:.3f} |" for k, a in enumerate(acc))
    write(out / "README.md", f"""\
# Double well

Generated by `tools/make_examples.py` (do not edit by hand; rerun
`/usr/bin/python3 tools/make_examples.py`).

One particle of mass {DW_MASS:g} amu in

    U(x, y, z) = E0*((x/a)^2 - 1)^2 + c*x + 0.5*ky*(y^2 + z^2)

| constant | value | why |
|---|---|---|
| E0 | {DW_E0:g} kJ/mol | barrier {rows[0][2]:.1f}/{rows[0][3]:.1f} k_BT at {t_min:g} K, {rows[-1][2]:.1f}/{rows[-1][3]:.1f} k_BT at {t_max:g} K |
| a | {DW_A:g} nm | wells near x = ±a; curvature 8 E0/a² = {curvature:g} kJ/mol/nm², period in a well {period_steps:.0f} steps |
| c | {DW_C:g} kJ/mol/nm | tilt ≈ 2ca = {2 * DW_C * DW_A:.1f} kJ/mol: left well favoured about 3:1 at {t_min:g} K |
| ky | {DW_KY:g} kJ/mol/nm² | keeps y, z near 0; adds an exactly Gamma(1, k_BT) term to U |
| mass | {DW_MASS:g} amu | |
| timestep | {TIMESTEP_PS:g} ps | |
| friction | {DW_FRICTION:g} /ps | |

Stationary points of U along x (roots of dU/dx = 4 E0 x (x² − a²)/a⁴ + c):
left minimum x = {x_left:.6f} nm, barrier top x_b = {x_b:.6f} nm, right
minimum x = {x_right:.6f} nm.

## The exact answer

Because y and z separate from x, the probability of each well at temperature
T is

    P_left  ∝ ∫_{{-4a}}^{{x_b}} exp(-U(x)/k_BT) dx,    P_right ∝ ∫_{{x_b}}^{{4a}} exp(-U(x)/k_BT) dx

(U(±4a) ≥ 225 E0, so the tails beyond ±4a are below e^-400), computed with
`scipy.integrate.quad` (relative tolerance 1e-12), k_B = {KB} kJ/mol/K.

**At {t_min:g} K: P_left/P_right = {p300:.6f}** (P_left = {rows[0][4]:.6f}).

Every rung of the job (geometric {t_min:g}–{t_max:g} K, {n} rungs):

| rung | T (K) | k_BT (kJ/mol) | barrier from left (k_BT) | barrier from right (k_BT) | P_left | P_left/P_right |
|---|---|---|---|---|---|---|
{table}

Expected neighbour acceptance (Monte Carlo over the exact energy
distributions, {400_000} samples per rung, numpy seed {SEED}; ±0.001):

| pair | acceptance |
|---|---|
{acc_table}

## What the example shows

Plain MD at {t_min:g} K stays in the well it starts in: the barrier is more
than 12 k_BT (`--verify` runs 4 ns of Langevin MD at {t_min:g} K from each well
and counts the crossings: none; at {t_max:g} K it crosses every
2–3 ps). The job starts the particle in the *less* populated right well
(x = +a), so the {t_min:g} K rung can only reach the left:right ≈ {p300:.2f}:1
ratio through exchanges with the hot rungs.

How precisely one run pins the answer down: during development the job was
run through replex's runner (lib/runner, Reference platform) with 8
different seeds, counting rounds 1000 onwards. With {DW_ROUNDS} rounds of
{DW_STEPS} steps (ladder {ladder_text} K) the {t_min:g} K left fraction had a
standard deviation of 0.009 between seeds (0.018 with 10000 rounds), and
the 8-seed mean, 0.757, was within 2 standard errors of the exact
{rows[0][4]:.3f}; the seed in job.yaml gave 0.748. Neighbour acceptance came
out at 0.68–0.69, as estimated above. The integrator's timestep error for
this anharmonic potential is below that resolution. Expect the rungs'
fractions to fluctuate together: with only {n} replicas, a run whose replicas
happen to sit more in one well shifts every rung the same way.

Classify a frame by x < x_b (left) or x > x_b (right).
""")


# =============================================================================
# Alanine dipeptide
# =============================================================================

def place(a, b, c, bond, angle, torsion):
    """NeRF: the point d with |cd| = bond (A), angle bcd = angle (degrees)
    and dihedral abcd = torsion (degrees)."""
    a, b, c = (np.asarray(v, dtype=float) for v in (a, b, c))
    theta, tau = math.radians(angle), math.radians(torsion)
    bc = (c - b) / np.linalg.norm(c - b)
    normal = np.cross(b - a, bc)
    normal /= np.linalg.norm(normal)
    m = np.cross(normal, bc)
    d = np.array([-bond * math.cos(theta),
                  bond * math.sin(theta) * math.cos(tau),
                  bond * math.sin(theta) * math.sin(tau)])
    return c + d[0] * bc + d[1] * m + d[2] * normal


def dihedral(p0, p1, p2, p3):
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1 = b1 / np.linalg.norm(b1)
    v = b0 - np.dot(b0, b1) * b1
    w = b2 - np.dot(b2, b1) * b1
    return math.degrees(math.atan2(np.dot(np.cross(b1, v), w), np.dot(v, w)))


# Engh & Huber (1991) geometry, Angstrom and degrees.
C_N, N_CA, CA_C, C_O, CA_CB, CH3_C = 1.33, 1.46, 1.52, 1.23, 1.53, 1.52
CA_C_N, C_N_CA, N_CA_C, O_C_N, N_CA_CB = 116.2, 121.7, 111.2, 123.0, 110.5
OMEGA = 180.0  # trans peptides
# Dihedral C-N-CA-CB of an L-amino acid (checked on crystal structures; the
# chirality check below would catch a D-alanine).
C_N_CA_CB = -122.5


def alanine_heavy_atoms(phi, psi):
    """(residue, atom name, element, position in A) of ACE-ALA-NME."""
    p = {}
    p["ACE CH3"] = np.zeros(3)
    p["ACE C"] = np.array([CH3_C, 0.0, 0.0])
    t = math.radians(CA_C_N)
    p["ALA N"] = p["ACE C"] + C_N * np.array([-math.cos(t), math.sin(t), 0.0])
    p["ALA CA"] = place(p["ACE CH3"], p["ACE C"], p["ALA N"], N_CA, C_N_CA,
                        OMEGA)
    p["ALA C"] = place(p["ACE C"], p["ALA N"], p["ALA CA"], CA_C, N_CA_C, phi)
    p["NME N"] = place(p["ALA N"], p["ALA CA"], p["ALA C"], C_N, CA_C_N, psi)
    p["NME C"] = place(p["ALA CA"], p["ALA C"], p["NME N"], N_CA, C_N_CA,
                       OMEGA)
    # Carbonyl O cis to the next residue's CA in a trans peptide.
    p["ACE O"] = place(p["ALA CA"], p["ALA N"], p["ACE C"], C_O, O_C_N, 0.0)
    p["ALA O"] = place(p["NME C"], p["NME N"], p["ALA C"], C_O, O_C_N, 0.0)
    p["ALA CB"] = place(p["ALA C"], p["ALA N"], p["ALA CA"], CA_CB, N_CA_CB,
                        C_N_CA_CB)
    order = ["ACE CH3", "ACE C", "ACE O", "ALA N", "ALA CA", "ALA C", "ALA O",
             "ALA CB", "NME N", "NME C"]
    return [(key.split()[0], key.split()[1], key.split()[1][0], p[key])
            for key in order]


def heavy_atom_pdb(atoms):
    lines = []
    res_ids = {"ACE": 1, "ALA": 2, "NME": 3}
    for i, (res, name, element, (x, y, z)) in enumerate(atoms, start=1):
        field = name if len(name) == 4 else " " + name
        lines.append(f"ATOM  {i:5d} {field:<4s} {res:3s} A{res_ids[res]:4d}    "
                     f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          "
                     f"{element:>2s}")
    return "\n".join(lines + ["TER", "END"]) + "\n"


def chirality(positions, index):
    """(N - CA) . ((C - CA) x (CB - CA)): positive for L-amino acids."""
    ca = positions[index["ALA CA"]]
    return float(np.dot(positions[index["ALA N"]] - ca,
                        np.cross(positions[index["ALA C"]] - ca,
                                 positions[index["ALA CB"]] - ca)))


def check_alanine(system, topology, positions_nm, energy):
    """Sanity checks on the minimised structure; prints what it finds."""
    pos = np.array(positions_nm) * 10.0  # A
    index = {f"{a.residue.name} {a.name}": a.index for a in topology.atoms()}
    assert topology.getNumAtoms() == 22, topology.getNumAtoms()

    # Bonds: every HarmonicBondForce term within 0.05 A of its r0 (constrained
    # X-H bonds are exact), and no bonds other than the topology's.
    worst = 0.0
    for f in system.getForces():
        if isinstance(f, mm.HarmonicBondForce):
            for k in range(f.getNumBonds()):
                i, j, r0, _ = f.getBondParameters(k)
                r = np.linalg.norm(pos[i] - pos[j])
                worst = max(worst, abs(r - r0.value_in_unit(unit.angstrom)))
    assert worst < 0.05, f"bond off its equilibrium by {worst:.3f} A"

    # Clashes: atoms 3 bonds apart (1-4 pairs, e.g. vicinal hydrogens, about
    # 2.3-2.5 A) must be > 1.9 A apart, atoms further apart > 2.2 A.
    n = len(pos)
    graph = [[] for _ in range(n)]
    for b in topology.bonds():
        graph[b[0].index].append(b[1].index)
        graph[b[1].index].append(b[0].index)
    closest = (np.inf, None)
    for i in range(n):
        dist = {i: 0}
        frontier = [i]
        while frontier:
            nxt = []
            for u in frontier:
                for v in graph[u]:
                    if v not in dist:
                        dist[v] = dist[u] + 1
                        nxt.append(v)
            frontier = nxt
        for j in range(i + 1, n):
            hops = dist.get(j, 99)
            if hops >= 3:
                r = float(np.linalg.norm(pos[i] - pos[j]))
                limit = 1.9 if hops == 3 else 2.2
                assert r > limit, f"clash: atoms {i}, {j} at {r:.2f} A"
                if hops > 3 and r < closest[0]:
                    closest = (r, (i, j))
    chiral = chirality(pos, index)
    assert chiral > 0, "CA is D, not L"
    phi = dihedral(pos[index["ACE C"]], pos[index["ALA N"]],
                   pos[index["ALA CA"]], pos[index["ALA C"]])
    psi = dihedral(pos[index["ALA N"]], pos[index["ALA CA"]],
                   pos[index["ALA C"]], pos[index["NME N"]])
    omegas = [dihedral(pos[index["ACE CH3"]], pos[index["ACE C"]],
                       pos[index["ALA N"]], pos[index["ALA CA"]]),
              dihedral(pos[index["ALA CA"]], pos[index["ALA C"]],
                       pos[index["NME N"]], pos[index["NME C"]])]
    assert all(abs(abs(w) - 180) < 20 for w in omegas), omegas
    assert energy < 0, energy
    atoms = list(topology.atoms())
    i, j = closest[1]
    print(f"  minimised potential energy {energy:.3f} kJ/mol")
    print(f"  phi {phi:.1f}, psi {psi:.1f}, omega {omegas[0]:.1f} / "
          f"{omegas[1]:.1f} degrees; chirality volume {chiral:.2f} A^3 (L)")
    print(f"  largest bond deviation {worst:.4f} A; closest atoms 4+ bonds "
          f"apart: {atoms[i].residue.name} {atoms[i].name} - "
          f"{atoms[j].residue.name} {atoms[j].name} {closest[0]:.2f} A")
    return phi, psi


def make_alanine():
    print("alanine-dipeptide")
    out = EXAMPLES / "alanine-dipeptide"
    reference = mm.Platform.getPlatformByName("Reference")
    forcefield = app.ForceField("amber99sbildn.xml", "amber99_obc.xml")

    heavy = alanine_heavy_atoms(AD_PHI, AD_PSI)
    index = {f"{r} {n}": i for i, (r, n, _, _) in enumerate(heavy)}
    assert chirality(np.array([a[3] for a in heavy]), index) > 0
    pdb = app.PDBFile(io.StringIO(heavy_atom_pdb(heavy)))
    modeller = app.Modeller(pdb.topology, pdb.positions)
    random.seed(SEED)  # addHydrogens places hydrogens with `random`
    modeller.addHydrogens(forcefield, platform=reference)

    system = forcefield.createSystem(modeller.topology,
                                     nonbondedMethod=app.NoCutoff,
                                     constraints=app.HBonds)
    context = mm.Context(system, mm.VerletIntegrator(TIMESTEP_PS), reference)
    context.setPositions(modeller.positions)
    context.applyConstraints(1e-8)
    mm.LocalEnergyMinimizer.minimize(context, 0.1, 0)
    state = context.getState(getPositions=True, getEnergy=True)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    positions = state.getPositions()
    del context
    phi, psi = check_alanine(
        system, modeller.topology,
        state.getPositions(asNumpy=True).value_in_unit(unit.nanometer), energy)

    text = io.StringIO()
    app.PDBFile.writeFile(modeller.topology, positions, text, keepIds=False)
    # Drop the "CREATED WITH OPENMM ..., <date>" remark: the file must not
    # change when nothing else does.
    pdb_text = "".join(line + "\n" for line in text.getvalue().splitlines()
                       if not line.startswith("REMARK"))
    write(out / "input.pdb", pdb_text)
    write(out / "system.xml", mm.XmlSerializer.serialize(system))
    write(out / "state.xml", serialize_state(system, positions))

    t_min, t_max, n = AD_T
    write(out / "job.yaml", f"""\
# T-REMD of alanine dipeptide (ACE-ALA-NME) in implicit solvent:
# amber99sbildn + OBC (amber99_obc.xml), NoCutoff, HBonds constraints.
# Made by tools/make_examples.py: heavy atoms built from standard internal
# coordinates (phi/psi {AD_PHI:g}/{AD_PSI:g}), hydrogens by Modeller.addHydrogens,
# minimised to {energy:.1f} kJ/mol (phi {phi:.0f}, psi {psi:.0f}).
# input.pdb is the same structure, for topology in analysis (mdtraj, VMD).
# {n} rungs geometric {t_min:g}-{t_max:g} K: neighbour acceptance about 0.8-0.9.
# {n} x {AD_STEPS} x {AD_ROUNDS} = {n * AD_STEPS * AD_ROUNDS} steps: about 60 s with --threads=2 on 2 cores.
# One thread per Context: for 22 atoms the CPU platform is fastest that way.
# (For a molecule this small `platform: Reference` is about 6x faster still.)
name: alanine-dipeptide
owner: examples
labels: {{kind: example}}
system: system.xml
coordinates: state.xml
platform: CPU
platform_properties: {{Threads: "1"}}
seed: {SEED}
checkpoint_interval: 10
integrator: {{timestep_ps: {TIMESTEP_PS:g}, friction_per_ps: {AD_FRICTION:g}}}
ladder:
  n_rungs: {n}
  temperature_range_k: {{min: {t_min:g}, max: {t_max:g}, spacing: geometric}}
exchange: {{scheme: neighbors, steps_per_exchange: {AD_STEPS}, n_rounds: {AD_ROUNDS}}}
""")


# =============================================================================
# --verify: short MD checks of the claims above (not needed to make inputs)
# =============================================================================

def verify_double_well():
    """Counts barrier crossings of plain Langevin MD (300 K from both wells,
    4 ns; 2000 K, 400 ps), then runs a small Python T-REMD of the example's
    ladder and compares the per-rung left fraction with the exact value."""
    print("verify double-well")
    system = double_well_system()
    reference = mm.Platform.getPlatformByName("Reference")
    x_b = dw_stationary_points()[1]

    def context_at(t, x0, seed):
        integrator = mm.LangevinMiddleIntegrator(t, DW_FRICTION, TIMESTEP_PS)
        integrator.setRandomNumberSeed(seed)
        context = mm.Context(system, integrator, reference)
        context.setPositions([mm.Vec3(x0, 0, 0)])
        context.setVelocitiesToTemperature(t, seed)
        return context, integrator

    def x_of(context):
        return context.getState(getPositions=True).getPositions()[0][0] \
            .value_in_unit(unit.nanometer)

    for t, x0, steps in ((300, -DW_A, 2_000_000), (300, DW_A, 2_000_000),
                         (2000, -DW_A, 200_000)):
        context, integrator = context_at(t, x0, SEED)
        side, crossings = np.sign(x0), 0
        for _ in range(steps // 100):
            integrator.step(100)
            x = x_of(context)
            if side < 0 and x > DW_A / 2 or side > 0 and x < -DW_A / 2:
                side, crossings = -side, crossings + 1
        print(f"  plain MD {t} K from x = {x0:+g}: {crossings} crossings in "
              f"{steps * TIMESTEP_PS:g} ps")

    temps = geometric(*DW_T)
    n, rounds = len(temps), DW_ROUNDS
    replicas = [context_at(t, DW_START[0], SEED + k)
                for k, t in enumerate(temps)]
    rung = list(range(n))
    rng = np.random.default_rng(SEED)
    left, count = np.zeros(n), np.zeros(n)
    accepted, attempted = np.zeros(n - 1), np.zeros(n - 1)
    for r in range(rounds):
        energy = np.zeros(n)
        for i, (context, integrator) in enumerate(replicas):
            integrator.step(DW_STEPS)
            s = context.getState(getEnergy=True, getPositions=True)
            energy[i] = s.getPotentialEnergy().value_in_unit(
                unit.kilojoule_per_mole)
            if r >= rounds // 10:
                count[rung[i]] += 1
                left[rung[i]] += s.getPositions()[0][0].value_in_unit(
                    unit.nanometer) < x_b
        at = {rung[i]: i for i in range(n)}
        for k in range(r % 2, n - 1, 2):
            i, j = at[k], at[k + 1]
            delta = (1 / (KB * temps[k]) - 1 / (KB * temps[k + 1])) * (
                energy[i] - energy[j])
            attempted[k] += 1
            if delta >= 0 or rng.random() < math.exp(delta):
                accepted[k] += 1
                rung[i], rung[j] = k + 1, k
                for rep, t_new in ((i, temps[k + 1]), (j, temps[k])):
                    context, integrator = replicas[rep]
                    t_old = integrator.getTemperature().value_in_unit(
                        unit.kelvin)
                    integrator.setTemperature(t_new)
                    v = context.getState(getVelocities=True).getVelocities(
                        asNumpy=True)
                    context.setVelocities(v * math.sqrt(t_new / t_old))
    print(f"  Python T-REMD, {rounds} rounds (300 K left fraction: expect "
          f"+-0.01 around the exact value): acceptance " +
          ", ".join(f"{a:.3f}" for a in accepted / attempted))
    for k, t in enumerate(temps):
        exact = dw_populations(t)[0]
        print(f"  {t:7.1f} K: left fraction {left[k] / count[k]:.3f} "
              f"(exact {exact:.3f})")


# --- umbrella sampling (REUS) on the double well ------------------------------
US_K = 8000.0  # kJ/mol/nm^2: well above the barrier top's curvature (-3200)
US_CENTRES = [-0.25 + 0.5 * k / 20 for k in range(21)]  # nm, 0.025 apart
US_STEPS = 100
US_ROUNDS = 400
US_EXPRESSION = DW_EXPRESSION + " + 0.5*ku*(x-x0)^2"


def umbrella_mean_x(x0, temperature=300.0):
    """Exact <x> in the window centred at x0 (y, z factor out)."""
    beta = 1.0 / (KB * temperature)

    def u(x):
        return dw_u(x) + 0.5 * US_K * (x - x0) ** 2

    u0 = min(u(x) for x in np.linspace(-4 * DW_A, 4 * DW_A, 4001))

    def weight(x):
        return math.exp(-beta * (u(x) - u0))

    lo, hi = -4 * DW_A, 4 * DW_A
    z, _ = integrate.quad(weight, lo, hi, points=[x0], epsabs=0, epsrel=1e-12,
                          limit=400)
    m, _ = integrate.quad(lambda x: x * weight(x), lo, hi, points=[x0],
                          epsabs=0, epsrel=1e-12, limit=400)
    return m / z


def make_umbrella():
    print("umbrella-double-well")
    out = EXAMPLES / "umbrella-double-well"
    system = mm.System()
    system.addParticle(DW_MASS)
    force = mm.CustomExternalForce(US_EXPRESSION)
    for name, value in (("E0", DW_E0), ("a", DW_A), ("c", DW_C),
                        ("ky", DW_KY), ("ku", US_K), ("x0", 0.0)):
        force.addGlobalParameter(name, value)
    force.addParticle(0, [])
    system.addForce(force)
    write(out / "system.xml", mm.XmlSerializer.serialize(system))
    # The job's own coordinates (its topology-free reference) and one start
    # per window, at the window's centre: window k's replica begins where its
    # bias holds it instead of climbing there from one shared structure.
    write(out / "state.xml", serialize_state(system, [mm.Vec3(0, 0, 0)]))
    for k, x0 in enumerate(US_CENTRES):
        write(out / "starts" / f"window-{k:02d}.xml",
              serialize_state(system, [mm.Vec3(x0, 0, 0)]))
    means = [umbrella_mean_x(x0) for x0 in US_CENTRES]
    centres = ", ".join(f"{x0:.4f}" for x0 in US_CENTRES)
    write(out / "job.yaml", f"""\
# Replica-exchange umbrella sampling (REUS) of the double well's barrier
# crossing at 300 K: {len(US_CENTRES)} windows, bias 0.5*ku*(x-x0)^2 with
# ku = {US_K:g} kJ/mol/nm^2 and the centre x0 as the ladder parameter, each
# window's replica starting at its centre (starts/window-NN.xml).
#   U = {US_EXPRESSION}
# Made by tools/make_examples.py. Exact <x> per window (quadrature, nm):
#   {", ".join(f"{m:.4f}" for m in means)}
name: umbrella-double-well
owner: examples
labels: {{kind: example}}
system: system.xml
coordinates: state.xml
replica_starts: starts
platform: Reference
seed: {SEED}
integrator: {{timestep_ps: {TIMESTEP_PS:g}, friction_per_ps: {DW_FRICTION:g}}}
ladder:
  temperature_k: 300
  parameters:
    - name: x0
      values: [{centres}]
exchange: {{scheme: neighbors, steps_per_exchange: {US_STEPS}, n_rounds: {US_ROUNDS}}}
output: {{frame_interval: 10}}
""")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verify", action="store_true",
                        help="also run short MD checks of the double well "
                             "(about 20 s)")
    parser.add_argument("--only", choices=["harmonic", "double-well",
                                           "alanine", "npt", "umbrella"],
                        help="make one example only")
    args = parser.parse_args()
    if mm.version.version.split(".")[:2] != ["7", "7"]:
        print(f"note: made with OpenMM 7.7, this is {mm.version.version}",
              file=sys.stderr)
    if args.only in (None, "harmonic"):
        make_harmonic()
    if args.only in (None, "double-well"):
        make_double_well()
    if args.only in (None, "alanine"):
        make_alanine()
    if args.only in (None, "npt"):
        make_npt()
    if args.only in (None, "umbrella"):
        make_umbrella()
    if args.verify:
        verify_double_well()


if __name__ == "__main__":
    main()
