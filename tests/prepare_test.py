#!/usr/bin/python3
"""tools/replex-prepare.py on the committed inputs of
examples/alanine-dipeptide-water (AMBER, GROMACS, CHARMM, PDB + force field).

For each format: the energy of the written system.xml at the written
positions equals the energy OpenMM's own loader gives for the same files
(PME, 0.9 nm, HBonds, rigid water) to 1e-6 relative on the Reference
platform; topology.pdb has a CRYST1 matching the box and one atom per
particle; job.yaml parses and names the written files. Then the options
(HMR, barostat, minimisation, a tiny equilibration, solvation, a GROMACS
topology that #includes Debian's gromacs-data), and bad inputs: each exits 2
with one line naming the file and the problem, never a traceback. Last, the
committed example's job.yaml and files.

Needs Debian's OpenMM Python (python3-simtk) and python3-yaml; exits 77
(skipped) without them. About 30 s on 2 cores.

  /usr/bin/python3 tests/prepare_test.py [-v]
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SKIP = 77
try:
    import openmm as mm
    from openmm import app, unit
    import yaml
except ImportError as e:
    print(f"prepare_test: skipped, {e} (needs python3-simtk python3-yaml; "
          "run with /usr/bin/python3)")
    sys.exit(SKIP)

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "replex-prepare.py"
EXAMPLE = ROOT / "examples" / "alanine-dipeptide-water"
INPUTS = EXAMPLE / "inputs"
NAME = "alanine-dipeptide-water"
FORCEFIELD = ["amber14-all.xml", "amber14/tip3p.xml"]
BOX_NM = 2.8
GROMACS_TOP = Path("/usr/share/gromacs/top")
SETTINGS = dict(nonbondedMethod=app.PME, nonbondedCutoff=0.9 * unit.nanometer,
                constraints=app.HBonds, rigidWater=True)


def inp(folder, suffix):
    return str(INPUTS / folder / f"{NAME}{suffix}")


AMBER = ["--prmtop", inp("amber", ".prmtop"),
         "--inpcrd", inp("amber", ".inpcrd")]
GROMACS = ["--top", inp("gromacs", ".top"), "--gro", inp("gromacs", ".gro")]
CHARMM_FILES = ["--psf", inp("charmm", ".psf"), "--crd", inp("charmm", ".crd"),
                "--charmm-params", inp("charmm", ".par")]
CHARMM = CHARMM_FILES + ["--box", str(BOX_NM), str(BOX_NM), str(BOX_NM)]
PDB = ["--pdb", inp("pdb", ".pdb"), "--forcefield"] + FORCEFIELD
DRY_PDB = str(INPUTS / "pdb" / "alanine-dipeptide.pdb")

REFERENCE = mm.Platform.getPlatformByName("Reference")
KJ = unit.kilojoule_per_mole


def run_tool(args, out, env=None):
    return subprocess.run([sys.executable, str(TOOL)] + args + ["--out", out],
                          capture_output=True, text=True, timeout=300,
                          env=env)


def energy(system, positions, box):
    context = mm.Context(system, mm.VerletIntegrator(0.001), REFERENCE)
    if box is not None:
        context.setPeriodicBoxVectors(*box)
    context.setPositions(positions)
    return context.getState(getEnergy=True).getPotentialEnergy() \
        .value_in_unit(KJ)


def written(out):
    """(System, State) from a replex-prepare output folder."""
    system = mm.XmlSerializer.deserialize(Path(out, "system.xml").read_text())
    state = mm.XmlSerializer.deserialize(Path(out, "state.xml").read_text())
    return system, state


def written_energy(out):
    system, state = written(out)
    return energy(system, state.getPositions(), state.getPeriodicBoxVectors())


def cubic(edge_nm):
    return tuple(mm.Vec3(*[edge_nm if i == j else 0.0 for j in range(3)])
                 for i in range(3)) * unit.nanometer


# What OpenMM's own loaders give for the committed files (its documented
# recipes, with the settings above).

def loader_energy_amber():
    prmtop = app.AmberPrmtopFile(inp("amber", ".prmtop"))
    inpcrd = app.AmberInpcrdFile(inp("amber", ".inpcrd"))
    return energy(prmtop.createSystem(**SETTINGS), inpcrd.positions,
                  inpcrd.boxVectors)


def loader_energy_gromacs(top=inp("gromacs", ".top"),
                          gro=inp("gromacs", ".gro"), include_dir=None):
    gro = app.GromacsGroFile(gro)
    box = gro.getPeriodicBoxVectors()
    top = app.GromacsTopFile(top, periodicBoxVectors=box,
                             includeDir=include_dir)
    return energy(top.createSystem(**SETTINGS), gro.positions, box)


def loader_energy_charmm():
    psf = app.CharmmPsfFile(inp("charmm", ".psf"))
    psf.setBox(BOX_NM * unit.nanometer, BOX_NM * unit.nanometer,
               BOX_NM * unit.nanometer)
    params = app.CharmmParameterSet(inp("charmm", ".par"))
    crd = app.CharmmCrdFile(inp("charmm", ".crd"))
    return energy(psf.createSystem(params, **SETTINGS), crd.positions,
                  cubic(BOX_NM))


def loader_energy_pdb():
    pdb = app.PDBFile(inp("pdb", ".pdb"))
    system = app.ForceField(*FORCEFIELD).createSystem(pdb.topology, **SETTINGS)
    return energy(system, pdb.positions, pdb.topology.getPeriodicBoxVectors())


FORMATS = {
    "amber": (AMBER, loader_energy_amber),
    "gromacs": (GROMACS, loader_energy_gromacs),
    "charmm": (CHARMM, loader_energy_charmm),
    "pdb": (PDB, loader_energy_pdb),
}


def cryst1(pdb_text):
    for line in pdb_text.splitlines():
        if line.startswith("CRYST1"):
            return [float(line[i:i + 9]) for i in (6, 15, 24)] + \
                [float(line[i:i + 7]) for i in (33, 40, 47)]
    return None


def atom_records(pdb_text):
    return sum(1 for line in pdb_text.splitlines()
               if line.startswith(("ATOM  ", "HETATM")))


def hydrogen_masses(system, topology_pdb):
    """{residue is water: set of hydrogen masses} from topology.pdb."""
    pdb = app.PDBFile(topology_pdb)
    masses = {True: set(), False: set()}
    for atom in pdb.topology.atoms():
        if atom.element == app.element.hydrogen:
            masses[atom.residue.name == "HOH"].add(round(
                system.getParticleMass(atom.index).value_in_unit(unit.amu), 3))
    return masses


class PrepareTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="prepare_test.")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def out(self, name):
        return os.path.join(self.tmp, name)

    def prepare(self, args, name, env=None):
        result = run_tool(args, self.out(name), env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        return self.out(name)

    def check_outputs(self, out, kind):
        system, state = written(out)
        n = system.getNumParticles()
        # (b) topology.pdb: the box as CRYST1 and one atom per particle.
        text = Path(out, "topology.pdb").read_text()
        self.assertEqual(atom_records(text), n)
        box = state.getPeriodicBoxVectors().value_in_unit(unit.angstrom)
        a, b, c, alpha, beta, gamma = cryst1(text)
        for got, vector in zip((a, b, c), box):
            self.assertAlmostEqual(got, sum(x * x for x in vector) ** 0.5,
                                   delta=1e-3)
        self.assertEqual((alpha, beta, gamma), (90.0, 90.0, 90.0))
        # (c) job.yaml parses and names the written files.
        job = yaml.safe_load(Path(out, "job.yaml").read_text())
        self.assertEqual(job["system"], "system.xml")
        self.assertEqual(job["coordinates"], "state.xml")
        for key in ("system", "coordinates"):
            self.assertTrue(Path(out, job[key]).is_file())
        self.assertEqual(job["platform"], "CPU")
        self.assertEqual(job["labels"]["prepared_from"], kind)
        self.assertGreater(job["exchange"]["steps_per_exchange"], 0)
        self.assertGreater(job["exchange"]["n_rounds"], 0)
        self.assertGreater(job["checkpoint_interval"], 0)
        self.assertGreater(job["output"]["frame_interval"], 0)
        header = Path(out, "job.yaml").read_text()
        self.assertIn(f"OpenMM {mm.__version__}", header)
        return job

    # --- the four formats -------------------------------------------------

    def check_format(self, kind):
        args, loader_energy = FORMATS[kind]
        out = self.prepare(args, kind)
        got, expected = written_energy(out), loader_energy()
        print(f"\n  {kind}: system.xml {got:.6f} kJ/mol, OpenMM's loader "
              f"{expected:.6f} kJ/mol, relative difference "
              f"{abs(got - expected) / abs(expected):.1e}")
        self.assertLess(abs(got - expected), 1e-6 * abs(expected))
        self.check_outputs(out, kind)
        return out

    def test_amber(self):
        out = self.check_format("amber")
        # The example was made from these inputs with these System settings
        # and a barostat (NPT), which adds no energy.
        out = self.prepare(AMBER + ["--pressure", "1"], "amber-npt")
        self.assertEqual(Path(out, "system.xml").read_text(),
                         (EXAMPLE / "system.xml").read_text(),
                         "examples/alanine-dipeptide-water/system.xml is not "
                         "what the tool writes today; remake it (README.md)")

    def test_gromacs(self):
        self.check_format("gromacs")

    def test_charmm(self):
        self.check_format("charmm")

    def test_pdb(self):
        self.check_format("pdb")

    # --- options ----------------------------------------------------------

    def test_hmr_barostat_minimise_equilibrate(self):
        out = self.prepare(AMBER + [
            "--hmr", "--pressure", "1", "--minimize", "20",
            "--equilibrate-ps", "0.02", "--temperatures", "300", "340",
            "--rungs", "6", "--rounds", "7"], "options")
        system, state = written(out)
        masses = hydrogen_masses(system, str(Path(out, "topology.pdb")))
        self.assertEqual(masses[False], {4.0})    # the peptide's hydrogens
        self.assertEqual(masses[True], {1.008})   # water's stay as they are
        barostats = [f for f in system.getForces()
                     if isinstance(f, mm.MonteCarloBarostat)]
        self.assertEqual(len(barostats), 1)
        self.assertEqual(barostats[0].getDefaultTemperature()
                         .value_in_unit(unit.kelvin), 300)
        self.assertEqual(barostats[0].getDefaultPressure()
                         .value_in_unit(unit.bar), 1)
        velocities = state.getVelocities(asNumpy=True)
        self.assertGreater(float((velocities ** 2).sum()._value), 0)
        minimised = re.search(r"minimised \(at most 20 iterations\): (\S+) -> "
                              r"(\S+) kJ/mol",
                              Path(out, "job.yaml").read_text())
        self.assertLess(float(minimised.group(2)), float(minimised.group(1)))
        self.assertTrue(-1e5 < written_energy(out) < 0)
        job = self.check_outputs(out, "amber")
        self.assertEqual(job["integrator"]["timestep_ps"], 0.004)
        self.assertEqual(job["exchange"]["steps_per_exchange"], 250)
        self.assertEqual(job["exchange"]["n_rounds"], 7)
        self.assertEqual(job["ladder"]["n_rungs"], 6)
        self.assertEqual(job["ladder"]["temperature_range_k"]["max"], 340)
        header = Path(out, "job.yaml").read_text()
        self.assertIn("MonteCarloBarostat at 1 bar", header)
        self.assertIn("each rung's barostat runs at the rung's temperature", header)
        self.assertIn("equilibrated 0.02 ps NPT at 300 K", header)

    def test_solvate(self):
        out = self.prepare(["--pdb", DRY_PDB, "--forcefield"] + FORCEFIELD + [
            "--solvate", "--padding", "0.8", "--ionic-strength", "0.15",
            "--temperatures", "300", "310", "320"], "solvate")
        system, state = written(out)
        self.assertGreater(system.getNumParticles(), 1000)
        names = {r.name for r in
                 app.PDBFile(str(Path(out, "topology.pdb"))).topology
                 .residues()}
        self.assertTrue({"HOH", "NA", "CL"} <= names, names)
        self.assertTrue(any(isinstance(f, mm.NonbondedForce) and
                            f.getNonbondedMethod() == mm.NonbondedForce.PME
                            for f in system.getForces()))
        job = self.check_outputs(out, "pdb")
        self.assertEqual(job["ladder"]["temperatures_k"], [300, 310, 320])

    @unittest.skipUnless((GROMACS_TOP / "amber99sb-ildn.ff").is_dir(),
                         "no /usr/share/gromacs/top (package gromacs-data)")
    def test_gromacs_include_dir(self):
        """A .top that #includes GROMACS's own amber99sb-ildn and TIP3P."""
        top, gro = self.water_box()
        out = self.prepare(["--top", top, "--gro", gro], "gromacs-include")
        got = written_energy(out)
        expected = loader_energy_gromacs(top, gro, str(GROMACS_TOP))
        self.assertLess(abs(got - expected), 1e-6 * abs(expected))

    def water_box(self):
        """The example's waters alone, as a .gro and a .top of includes."""
        lines = Path(inp("gromacs", ".gro")).read_text().splitlines()
        atoms = [line for line in lines[2:-1] if line[5:10] == "HOH  "]
        gro = self.out("water.gro")
        Path(gro).write_text("water\n%5d\n" % len(atoms) + "\n".join(atoms)
                             + "\n" + lines[-1] + "\n")
        top = self.out("water.top")
        Path(top).write_text(
            '#include "amber99sb-ildn.ff/forcefield.itp"\n'
            '#include "amber99sb-ildn.ff/tip3p.itp"\n\n'
            f"[ system ]\nwater\n\n[ molecules ]\nSOL {len(atoms) // 3}\n")
        return top, gro

    # --- bad inputs -------------------------------------------------------

    def expect_error(self, args, *substrings, env=None, name="bad"):
        result = run_tool(args, self.out(name), env=env)
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        for s in substrings:
            self.assertIn(s, lines[0])
        print(f"\n  {lines[0]}")
        return lines[0]

    def edited(self, source, name, edit):
        path = self.out(name)
        Path(path).write_text(edit(Path(source).read_text()))
        return path

    def test_missing_file(self):
        self.expect_error(["--prmtop", self.out("absent.prmtop"), "--inpcrd",
                           inp("amber", ".inpcrd")],
                          "absent.prmtop", "no such file")

    def test_residue_without_template(self):
        pdb = self.edited(inp("pdb", ".pdb"), "xyz.pdb",
                          lambda t: t.replace(" ALA A   2", " XYZ A   2"))
        self.expect_error(["--pdb", pdb, "--forcefield"] + FORCEFIELD,
                          "xyz.pdb", "residue XYZ 2", "no template",
                          "amber14-all.xml")

    def test_water_model_missing(self):
        self.expect_error(["--pdb", inp("pdb", ".pdb"), "--forcefield",
                           "amber14-all.xml"],
                          f"{NAME}.pdb", "residue HOH", "no template",
                          "amber14/tip3p.xml")

    def test_hydrogens_missing(self):
        pdb = self.edited(DRY_PDB, "no-h.pdb", lambda t: "".join(
            line for line in t.splitlines(keepends=True)
            if not (line.startswith("HETATM") and line[76:78] == " H")))
        self.expect_error(["--pdb", pdb, "--forcefield"] + FORCEFIELD,
                          "no-h.pdb", "residue ACE 1", "hydrogen",
                          "--add-hydrogens")

    def test_one_atom_fewer_gro(self):
        def drop_last(text):
            lines = text.splitlines()
            return "\n".join([lines[0], "%5d" % (int(lines[1]) - 1)]
                             + lines[2:-2] + [lines[-1]]) + "\n"
        gro = self.edited(inp("gromacs", ".gro"), "short.gro", drop_last)
        self.expect_error(["--top", inp("gromacs", ".top"), "--gro", gro],
                          "short.gro", "has 2040 atoms", "has 2041")

    def test_one_atom_fewer_inpcrd(self):
        def drop_last(text):
            lines = text.splitlines()
            numbers = " ".join(lines[2:-1]).split()[:-3]
            rows = ["".join("%12.7f" % float(x) for x in numbers[i:i + 6])
                    for i in range(0, len(numbers), 6)]
            return "\n".join([lines[0], "%6d" % (len(numbers) // 3)] + rows
                             + [lines[-1]]) + "\n"
        inpcrd = self.edited(inp("amber", ".inpcrd"), "short.inpcrd",
                             drop_last)
        self.expect_error(["--prmtop", inp("amber", ".prmtop"), "--inpcrd",
                           inpcrd], "short.inpcrd", "has 2040 atoms",
                          "has 2041")

    def test_one_atom_fewer_crd(self):
        def drop_last(text):
            lines = text.splitlines()
            count = next(i for i, line in enumerate(lines)
                         if not line.startswith("*"))
            n = int(lines[count].split()[0]) - 1
            lines[count] = "%10d  EXT" % n
            return "\n".join(lines[:-1]) + "\n"
        crd = self.edited(inp("charmm", ".crd"), "short.crd", drop_last)
        args = list(CHARMM)
        args[args.index("--crd") + 1] = crd
        self.expect_error(args, "short.crd", "has 2040 atoms", "has 2041")

    def test_pme_without_box_charmm(self):
        self.expect_error(CHARMM_FILES + ["--nonbonded", "PME"],
                          f"{NAME}.crd", "no periodic box", "PME", "--box")

    def test_pme_without_box_pdb(self):
        pdb = self.edited(inp("pdb", ".pdb"), "no-box.pdb", lambda t: "".join(
            line for line in t.splitlines(keepends=True)
            if not line.startswith("CRYST1")))
        self.expect_error(["--pdb", pdb, "--forcefield"] + FORCEFIELD
                          + ["--nonbonded", "PME"],
                          "no-box.pdb", "no periodic box", "CRYST1")

    def test_box_too_small_for_cutoff(self):
        self.expect_error(CHARMM_FILES + ["--box", "1.5", "1.5", "1.5"],
                          "--box", "too small", "0.9 nm cutoff")

    def test_unreadable_format(self):
        self.expect_error(["--prmtop", inp("gromacs", ".gro"), "--inpcrd",
                           inp("amber", ".inpcrd")],
                          f"{NAME}.gro", "not an AMBER prmtop file")
        self.expect_error(["--top", inp("gromacs", ".top"), "--gro",
                           inp("amber", ".prmtop")],
                          f"{NAME}.prmtop", "cannot read it as a GROMACS .gro")

    def test_missing_forcefield_file(self):
        self.expect_error(["--pdb", inp("pdb", ".pdb"), "--forcefield",
                           "amber14-all.xml", "amber14/tip3q.xml"],
                          "amber14/tip3q.xml", "no such force field file")

    def test_gromacs_include_not_found(self):
        top, gro = self.water_box()
        self.expect_error(["--top", top, "--gro", gro,
                           "--gromacs-include-dir", self.tmp],
                          "water.top", "amber99sb-ildn.ff/forcefield.itp",
                          "--gromacs-include-dir")

    def test_charmm_parameter_file_name(self):
        args = list(CHARMM)
        args[args.index("--charmm-params") + 1] = DRY_PDB
        self.expect_error(args, "alanine-dipeptide.pdb", ".prm or .par")

    def test_charmm_parameter_missing(self):
        par = self.edited(inp("charmm", ".par"), "missing.par",
                          lambda t: "".join(
                              line for line in t.splitlines(keepends=True)
                              if not line.startswith("CT_ACE HC_ACE ")))
        args = list(CHARMM)
        args[args.index("--charmm-params") + 1] = par
        self.expect_error(args, f"{NAME}.psf", "Missing bond type", "CT_ACE",
                          "missing.par", "--charmm-params")

    def test_openmm_version_mismatch(self):
        """A libOpenMM 8.1 installed beside this 7.7 Python: refused."""
        bin_dir = Path(self.out("fake-bin"))
        bin_dir.mkdir(exist_ok=True)
        fake = bin_dir / "dpkg-query"
        fake.write_text('#!/bin/sh\necho "ii  libopenmm8.1 8.1.1+dfsg-1"\n')
        fake.chmod(0o755)
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ.get('PATH', '')}")
        self.expect_error(AMBER, "OpenMM", f"openmm is {mm.__version__}",
                          "8.1.1", env=env)

    def test_existing_outputs_kept(self):
        out = self.prepare(AMBER, "exists")
        self.expect_error(AMBER, "system.xml", "exists", "--overwrite",
                          name="exists")
        self.assertTrue(Path(out, "system.xml").is_file())

    def test_usage_error_is_one_line(self):
        self.expect_error(AMBER + GROMACS, "exactly one input form")

    # --- the committed example -----------------------------------------------

    def test_example(self):
        text = (EXAMPLE / "job.yaml").read_text()
        job = yaml.safe_load(text)
        self.assertEqual(job["platform"], "CPU")
        ladder = job["ladder"]
        self.assertTrue(4 <= ladder["n_rungs"] <= 6)
        self.assertEqual(ladder["temperature_range_k"]["min"], 300)
        self.assertEqual(ladder["temperature_range_k"]["max"], 340)
        for key in ("steps_per_exchange", "n_rounds"):
            self.assertGreater(job["exchange"][key], 0)
        self.assertGreater(job["checkpoint_interval"], 0)
        self.assertGreater(job["output"]["frame_interval"], 0)
        self.assertIn("prmtop", text)  # the header names its inputs
        self.assertEqual(job["system"], "system.xml")
        system, state = written(EXAMPLE)
        self.assertEqual(job["coordinates"], "state.xml")
        barostats = [f for f in system.getForces()
                     if isinstance(f, mm.MonteCarloBarostat)]
        self.assertEqual(len(barostats), 1, "the example is NPT")
        self.assertEqual(barostats[0].getDefaultPressure()
                         .value_in_unit(unit.bar), 1)
        n = system.getNumParticles()
        self.assertEqual(len(state.getPositions()), n)
        self.assertEqual(atom_records((EXAMPLE / "topology.pdb").read_text()),
                         n)
        self.assertIn(f"OpenMM {mm.__version__}", text)


if __name__ == "__main__":
    unittest.main(warnings="ignore")  # OpenMM's own files warn on reading
