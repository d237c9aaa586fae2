#!/usr/bin/python3
"""Generate the "bring your own system" inputs: alanine dipeptide in TIP3P
water, the same system in the four formats tools/replex-prepare.py reads.

Run with Debian's OpenMM Python and ParmEd (python3-simtk, python3-parmed):

    /usr/bin/python3 tools/make_prepare_inputs.py   # about a minute

It writes examples/alanine-dipeptide-water/inputs/:

    amber/alanine-dipeptide-water.prmtop, .inpcrd      AMBER
    gromacs/alanine-dipeptide-water.top, .gro          GROMACS (self-contained)
    charmm/alanine-dipeptide-water.psf, .crd, .par     CHARMM (box: 2.8 nm)
    pdb/alanine-dipeptide-water.pdb                    PDB, for amber14-all.xml
                                                       + amber14/tip3p.xml
    pdb/alanine-dipeptide.pdb                          the peptide alone, for
                                                       --solvate

How: the peptide of examples/alanine-dipeptide/input.pdb (made by
tools/make_examples.py) is solvated by Modeller.addSolvent in a cubic box of
BOX_NM (amber14-all + amber14/tip3p), minimised on the Reference platform for
MIN_ITERATIONS iterations, and its positions rounded to 0.001 nm, so every
format holds the same coordinates exactly (a .gro file has three decimals in
nm, a PDB three in Angstrom). ParmEd converts the OpenMM-parameterised
structure (flexible, so that every bond and angle carries its parameters) to
the other formats.

Atom types are the force field's atom classes (CT, CX, HC, ... and OW/HW for
water), so the AMBER and GROMACS files read like ones made by the AMBER and
GROMACS tools. The CHARMM files need two changes, because a CHARMM
parameter file looks parameters up by atom types alone:
  - AMBER's periodic impropers are written as ordinary dihedrals (OpenMM's
    CHARMM reader treats every IMPROPER entry as harmonic); an improper
    C-N-CX-H and the proper dihedral H-N-CX-C of the same types would then
    share one parameter entry, so the peptide's types are made per residue
    (CT_ACE, N_ALA, ...), which keeps every entry unique;
  - AMBER scales 1-4 electrostatics by 1/1.2 and 1-4 Lennard-Jones by 1/2:
    the parameter file says e14fac 0.8333 and gives halved 1-4 epsilons.

The script checks what it wrote: each format, read back with OpenMM's own
loader (PME, 0.9 nm cutoff, HBonds, rigid water), must give the energy of the
original System term by term, with three differences that come from the
formats and loaders, not from the parameters:
  - AMBER keeps the water H-O-H angle terms under rigid water, CHARMM those
    and the bond terms of constrained bonds (constants once MD starts, as
    constraints fix that geometry; the check leaves them out);
  - OpenMM's CHARMM loader leaves out the long-range dispersion correction,
    as CHARMM does;
  - a .top file holds charges with 8 significant digits.

Deterministic: a second run writes the same bytes (dates and user names that
ParmEd and OpenMM write into headers are replaced by fixed text).
"""

import io
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

import openmm as mm
from openmm import app, unit
import parmed

ROOT = Path(__file__).resolve().parent.parent
PEPTIDE_PDB = ROOT / "examples" / "alanine-dipeptide" / "input.pdb"
OUT = ROOT / "examples" / "alanine-dipeptide-water" / "inputs"
NAME = "alanine-dipeptide-water"

FORCEFIELD = ("amber14-all.xml", "amber14/tip3p.xml")
BOX_NM = 2.8  # cubic: 673 waters, 2041 atoms; over twice the 0.9 nm cutoff
CUTOFF_NM = 0.9
MIN_ITERATIONS = 300
WATER_CLASSES = {"tip3p-O": "OW", "tip3p-H": "HW"}  # AMBER's names
SCEE, SCNB = 1.2, 2.0  # AMBER's 1-4 scaling (amber14-all.xml: 0.8333, 0.5)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"  wrote {path.relative_to(ROOT)} ({len(text)} bytes)")


def pdb_text(topology, positions, remark):
    """PDBFile output with OpenMM's dated REMARK replaced by `remark`."""
    out = io.StringIO()
    app.PDBFile.writeFile(topology, positions, out)
    lines = out.getvalue().splitlines(keepends=True)
    assert lines[0].startswith("REMARK   1 CREATED WITH OPENMM")
    return f"REMARK   1 {remark}\n" + "".join(lines[1:])


def solvated_minimised(forcefield):
    """The peptide in a BOX_NM cube of water, minimised, on a 0.001 nm grid."""
    peptide = app.PDBFile(str(PEPTIDE_PDB))
    modeller = app.Modeller(peptide.topology, peptide.positions)
    box = mm.Vec3(BOX_NM, BOX_NM, BOX_NM) * unit.nanometer
    modeller.addSolvent(forcefield, model="tip3p", boxSize=box)
    topology = modeller.topology
    system = forcefield.createSystem(
        topology, nonbondedMethod=app.PME,
        nonbondedCutoff=CUTOFF_NM * unit.nanometer, constraints=app.HBonds)
    context = mm.Context(system, mm.VerletIntegrator(0.001),
                         mm.Platform.getPlatformByName("Reference"))
    context.setPositions(modeller.positions)
    kj = unit.kilojoule_per_mole
    before = context.getState(getEnergy=True).getPotentialEnergy()
    mm.LocalEnergyMinimizer.minimize(context, 10.0, MIN_ITERATIONS)
    state = context.getState(getEnergy=True, getPositions=True)
    xyz = np.round(state.getPositions(asNumpy=True).value_in_unit(
        unit.nanometer), 3)
    print(f"  {topology.getNumAtoms()} atoms, {topology.getNumResidues() - 3} "
          f"waters; minimised {before.value_in_unit(kj):.1f} -> "
          f"{state.getPotentialEnergy().value_in_unit(kj):.1f} kJ/mol")
    return topology, xyz


def atom_classes(forcefield, topology):
    """The force field's atom class of every atom (water renamed OW/HW).
    ForceField has no public atom-to-type map; these are the calls its own
    createSystem makes (OpenMM 7.7)."""
    bonded = forcefield._buildBondedToAtomList(topology)
    classes = []
    for residue in topology.residues():
        template, matches = forcefield._getResidueTemplateMatches(residue,
                                                                  bonded)
        for k in matches:
            name = forcefield._atomTypes[template.atoms[k].type].atomClass
            classes.append(WATER_CLASSES.get(name, name))
    return classes


def structure(topology, flexible_system, xyz, type_names):
    """A ParmEd Structure of the System with one shared AtomType per name."""
    struct = parmed.openmm.load_topology(topology, flexible_system,
                                         xyz=xyz * 10.0,
                                         condense_atom_types=False)
    types = {}
    for atom, name in zip(struct.atoms, type_names):
        old, new = atom.atom_type, types.get(name)
        if new is None:
            new = parmed.AtomType(name, None, old.mass, old.atomic_number)
            new.set_lj_params(old.epsilon, old.rmin, old.epsilon_14,
                              old.rmin_14)
            types[name] = new
        elif (new.epsilon, new.rmin, new.mass) != (old.epsilon, old.rmin,
                                                   old.mass):
            sys.exit(f"atom type {name}: atoms differ in mass or LJ")
        atom.atom_type, atom.type = new, name
    return struct


def saved(struct, suffix):
    """What ParmEd writes for `suffix`, as text."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{NAME}{suffix}"
        struct.save(str(path))
        return path.read_text()


def charmm_parameters(struct):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{NAME}.par"
        parmed.charmm.CharmmParameterSet.from_structure(struct).write(
            par=str(path))
        return path.read_text()


def scrub_top(text):
    """ParmEd's .top header names the user, host, date and command line."""
    body = text[text.index("[ defaults ]"):]
    return (f"; {NAME}: alanine dipeptide in TIP3P water, amber14-all +\n"
            "; amber14/tip3p, written by ParmEd for\n"
            "; tools/make_prepare_inputs.py (self-contained: no #include)\n\n"
            + body)


def scrub_prmtop(text):
    return re.sub(r"DATE = [0-9/]+ +[0-9:]+", "DATE = 01/01/26  00:00:00",
                  text, count=1)


def make_files(forcefield, topology, xyz):
    flexible = forcefield.createSystem(
        topology, nonbondedMethod=app.PME,
        nonbondedCutoff=CUTOFF_NM * unit.nanometer, constraints=None,
        rigidWater=False)
    classes = atom_classes(forcefield, topology)
    files = {}

    amber = structure(topology, flexible, xyz, classes)
    files["amber/.prmtop"] = scrub_prmtop(saved(amber, ".prmtop"))
    files["amber/.inpcrd"] = saved(amber, ".inpcrd")
    files["gromacs/.top"] = scrub_top(saved(amber, ".top"))
    files["gromacs/.gro"] = saved(amber, ".gro")

    per_residue = [c if atom.residue.name == "HOH"
                   else f"{c}_{atom.residue.name}"
                   for c, atom in zip(classes, topology.atoms())]
    charmm = structure(topology, flexible, xyz, per_residue)
    for dihedral_type in charmm.dihedral_types:
        dihedral_type.scee, dihedral_type.scnb = SCEE, SCNB
    for dihedral in charmm.dihedrals:
        dihedral.improper = False  # periodic: see the module docstring
    files["charmm/.psf"] = saved(charmm, ".psf")
    files["charmm/.crd"] = saved(charmm, ".crd")
    files["charmm/.par"] = charmm_parameters(charmm)

    positions = xyz * unit.nanometer
    files["pdb/.pdb"] = pdb_text(
        topology, positions,
        "ALANINE DIPEPTIDE IN TIP3P WATER, tools/make_prepare_inputs.py")
    peptide = app.Modeller(topology, positions)
    peptide.deleteWater()
    peptide.topology.setPeriodicBoxVectors(None)
    files["pdb/alanine-dipeptide.pdb"] = pdb_text(
        peptide.topology, peptide.positions,
        "ALANINE DIPEPTIDE, tools/make_prepare_inputs.py")

    for key, text in files.items():
        folder, name = key.split("/")
        write(OUT / folder / (name if not name.startswith(".")
                              else NAME + name), text)


# --- the check: every format gives the original System's energy -------------

def drop_constrained_terms(system, topology):
    """Zeroes the bond terms of constrained bonds and the angle terms of
    water, which the AMBER and CHARMM loaders keep beside the constraints."""
    constrained = {frozenset(system.getConstraintParameters(i)[:2])
                   for i in range(system.getNumConstraints())}
    water = {atom.index for atom in topology.atoms()
             if atom.residue.name == "HOH"}
    for force in system.getForces():
        if isinstance(force, mm.HarmonicBondForce):
            for i in range(force.getNumBonds()):
                a, b, length, _ = force.getBondParameters(i)
                if frozenset((a, b)) in constrained:
                    force.setBondParameters(i, a, b, length, 0.0)
        elif isinstance(force, mm.HarmonicAngleForce):
            for i in range(force.getNumAngles()):
                a, b, c, angle, _ = force.getAngleParameters(i)
                if {a, b, c} <= water:
                    force.setAngleParameters(i, a, b, c, angle, 0.0)
    return system


def energies(system, positions, box):
    """Potential energy by force class (kJ/mol) on the Reference platform."""
    system.setDefaultPeriodicBoxVectors(*box)
    names = {}
    for i, force in enumerate(system.getForces()):
        force.setForceGroup(i)
        names[i] = type(force).__name__
    context = mm.Context(system, mm.VerletIntegrator(0.001),
                         mm.Platform.getPlatformByName("Reference"))
    context.setPositions(positions)
    result = {}
    for i, name in names.items():
        e = context.getState(getEnergy=True, groups={i}).getPotentialEnergy()
        result[name] = result.get(name, 0.0) + e.value_in_unit(
            unit.kilojoule_per_mole)
    return result


def check_formats(forcefield):
    print("check: each format read back by OpenMM, energy by force class")
    options = dict(nonbondedMethod=app.PME,
                   nonbondedCutoff=CUTOFF_NM * unit.nanometer,
                   constraints=app.HBonds, rigidWater=True)
    path = {suffix: str(OUT / folder / f"{NAME}{suffix}")
            for folder, suffixes in (("amber", ".prmtop .inpcrd"),
                                     ("gromacs", ".top .gro"),
                                     ("charmm", ".psf .crd .par"),
                                     ("pdb", ".pdb"))
            for suffix in suffixes.split()}
    pdb = app.PDBFile(path[".pdb"])
    box = pdb.topology.getPeriodicBoxVectors()
    reference = energies(forcefield.createSystem(pdb.topology, **options),
                         pdb.positions, box)

    prmtop = app.AmberPrmtopFile(path[".prmtop"])
    inpcrd = app.AmberInpcrdFile(path[".inpcrd"])
    gro = app.GromacsGroFile(path[".gro"])
    top = app.GromacsTopFile(path[".top"],
                             periodicBoxVectors=gro.getPeriodicBoxVectors())
    psf = app.CharmmPsfFile(path[".psf"])
    psf.setBox(BOX_NM * unit.nanometer, BOX_NM * unit.nanometer,
               BOX_NM * unit.nanometer)
    charmm = drop_constrained_terms(psf.createSystem(
        app.CharmmParameterSet(path[".par"]), **options), psf.topology)
    for force in charmm.getForces():
        if isinstance(force, mm.NonbondedForce):
            assert not force.getUseDispersionCorrection()
            force.setUseDispersionCorrection(True)  # to compare the rest
    results = {
        "amber": energies(
            drop_constrained_terms(prmtop.createSystem(**options),
                                   prmtop.topology),
            inpcrd.positions, inpcrd.boxVectors),
        "gromacs": energies(top.createSystem(**options), gro.positions,
                            gro.getPeriodicBoxVectors()),
        "charmm (with dispersion correction)": energies(
            charmm, app.CharmmCrdFile(path[".crd"]).positions, box),
    }
    # The formats round: charges to 8 significant digits, angles in degrees.
    tolerance = 1e-6  # relative: a wrong parameter costs 0.1 kJ/mol or more
    print("  pdb + amber14: " + ", ".join(f"{k} {v:.4f}"
                                          for k, v in reference.items()))
    for name, result in results.items():
        diffs = []
        for force, value in reference.items():
            got = result.get(force, 0.0)  # CHARMM: bonds + Urey-Bradley (none)
            diff = got - value
            if abs(diff) > tolerance * max(1.0, abs(value)):
                sys.exit(f"check failed: {name} {force} {got} vs {value}")
            diffs.append(f"{force} {diff:+.2e}")
        extra = {k: v for k, v in result.items()
                 if k not in reference and abs(v) > 1e-9}
        if extra:
            sys.exit(f"check failed: {name} has extra energy terms {extra}")
        print(f"  {name}: differences " + ", ".join(diffs))


def main():
    if mm.__version__ != "7.7" or parmed.__version__ != "3.4.3":
        print(f"note: made with OpenMM 7.7 and ParmEd 3.4.3; this is "
              f"{mm.__version__} and {parmed.__version__}", file=sys.stderr)
    forcefield = app.ForceField(*FORCEFIELD)
    print("alanine-dipeptide-water inputs")
    topology, xyz = solvated_minimised(forcefield)
    make_files(forcefield, topology, xyz)
    check_formats(forcefield)


if __name__ == "__main__":
    main()
