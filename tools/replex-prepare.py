#!/usr/bin/python3
"""Prepare a replex job from a system of your own.

Reads exactly one of

  AMBER    --prmtop X.prmtop --inpcrd X.inpcrd
  GROMACS  --top X.top --gro X.gro [--gromacs-include-dir DIR]
  CHARMM   --psf X.psf (--crd X.crd | --pdb X.pdb) --charmm-params P [P ...]
           [--box A B C]
  PDB      --pdb X.pdb --forcefield F.xml [F.xml ...] [--add-hydrogens]
           [--solvate [--padding NM] [--ionic-strength M] [--water-model M]]

builds the OpenMM System with OpenMM's own loader for that format, optionally
minimises and equilibrates it (CPU or Reference platform, fixed seed), and
writes into --out DIR:

  system.xml    the System (XmlSerializer), what replex's engine loads
  state.xml     positions, the box, and velocities if equilibrated
  topology.pdb  the same atoms with the box as CRYST1, for analysis tools
  job.yaml      a T-REMD job over these files that `replex run` runs as is

Run it with Debian's OpenMM Python (python3-simtk), the OpenMM that replex's
engine links: /usr/bin/python3 tools/replex-prepare.py ... (or the
tools/replex-prepare wrapper). docs/bring-your-own-system.md is the tutorial.

A problem with the inputs is one line on stderr naming the file and what is
wrong, and exit status 2.
"""

import argparse
import contextlib
import hashlib
import io
import json
import math
import os
import re
import shlex
import subprocess
import sys

USER_ERROR = 2
PROG = "replex-prepare"
DEFAULT_GROMACS_TOP = "/usr/share/gromacs/top"  # Debian's gromacs-data


class InputError(Exception):
    """A problem with what the user gave; main prints it as one line."""


def fail(where, what):
    raise InputError(f"{where}: {what}")


def say(text):
    """Progress on stdout; a reader that went away (| head) stops nothing."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


try:
    import openmm as mm
    from openmm import app, unit
except ImportError as e:
    print(f"{PROG}: cannot import OpenMM's Python ({one_line(e)}); run this "
          "with Debian's OpenMM Python: /usr/bin/python3 "
          "tools/replex-prepare.py (package python3-simtk)", file=sys.stderr)
    sys.exit(USER_ERROR)

NM = unit.nanometer
KJ = unit.kilojoule_per_mole


# =============================================================================
# Checks that apply to every input form
# =============================================================================

def major_minor(version):
    """(7, 7) from "7.7", "7.7.0" or a Debian version "7.7.0+dfsg-9+b1"."""
    match = re.match(r"(?:\d+:)?(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def installed_libopenmm():
    """{package: version} of the installed libopenmmX.Y packages: the
    OpenMM replex's engine links. {} where dpkg cannot say."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Package} "
             "${Version}\n", "libopenmm[0-9]*"],
            capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    packages = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0].startswith("ii"):
            packages[fields[1]] = fields[2]
    return packages


def check_openmm_versions():
    """The XML must be written by the OpenMM that will read it: this
    Python's openmm, the libOpenMM it loaded and the installed one the
    engine links must be the same major.minor. Returns a description."""
    python_version = mm.__version__
    library_version = mm.Platform.getOpenMMVersion()
    if major_minor(python_version) != major_minor(library_version):
        fail("OpenMM", f"this Python's openmm package is {python_version} but "
             f"the libOpenMM it loaded is {library_version}; reinstall "
             "OpenMM's Python so that both are the same version")
    packages = installed_libopenmm()
    for package, version in sorted(packages.items()):
        if major_minor(version) != major_minor(python_version):
            fail("OpenMM", f"this Python's openmm is {python_version} but "
                 "the installed libOpenMM that replex's engine links is "
                 f"{version} (Debian package {package}): system.xml must be "
                 "written by the OpenMM that reads it; run this with "
                 "/usr/bin/python3 and Debian's python3-simtk of the same "
                 "version")
    if not packages:
        print(f"{PROG}: note: no Debian libopenmm package found, so the "
              f"OpenMM replex's engine links was not checked; this is OpenMM "
              f"{python_version}, and the engine must use the same",
              file=sys.stderr)
        return f"OpenMM {python_version} (Python openmm {python_version})"
    described = ", ".join(f"{p} {v}" for p, v in sorted(packages.items()))
    return (f"OpenMM {python_version} (Python openmm {python_version}, "
            f"libOpenMM {library_version}; installed: {described})")


def require_file(path, role):
    if not os.path.exists(path):
        fail(path, f"no such file (the {role})")
    if not os.path.isfile(path):
        fail(path, f"not a regular file (the {role})")
    if not os.access(path, os.R_OK):
        fail(path, f"cannot be read: permission denied (the {role})")


@contextlib.contextmanager
def reading(path, what):
    """Turns whatever a loader raises into one line naming the file."""
    try:
        yield
    except InputError:
        raise
    except Exception as e:  # the loaders raise anything from IndexError on
        fail(path, f"cannot read it as {what}: {one_line(e)}")


def check_count(coordinates_file, n_coordinates, topology_file, n_topology):
    if n_coordinates != n_topology:
        fail(coordinates_file,
             f"has {n_coordinates} atoms but {topology_file} has "
             f"{n_topology}; the coordinates must list the topology's atoms "
             "one to one, in the same order")


def box_or_none(vectors):
    """Box vectors as a tuple of Vec3 in nm, or None for no (or a zero) box.
    The loaders return a Quantity of vectors or a list of Quantity vectors."""
    if vectors is None:
        return None
    if unit.is_quantity(vectors):
        vectors = vectors.value_in_unit(NM)
    box = tuple(mm.Vec3(*(v.value_in_unit(NM) if unit.is_quantity(v) else v))
                for v in vectors)
    if any(box[i][i] <= 0 for i in range(3)):
        return None
    return box


def rectangular_box(lengths):
    a, b, c = lengths
    return (mm.Vec3(a, 0, 0), mm.Vec3(0, b, 0), mm.Vec3(0, 0, c))


def norm(v):
    return math.sqrt(v[0]**2 + v[1]**2 + v[2]**2)


def box_lengths(box):
    return " x ".join(f"{norm(v):g}" for v in box) + " nm"


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# =============================================================================
# One loader per input form
# =============================================================================

class Loaded:
    """What a loader found: the topology, the positions (nm), the box, how
    to create the System, and where each came from (for messages)."""

    def __init__(self, kind, files, coordinates, topology, positions, box,
                 box_file, box_hint, create_system):
        self.kind = kind                    # "AMBER", "GROMACS", ...
        self.files = files                  # [(role, path)]
        self.topology_file = files[0][1]
        self.coordinates = coordinates      # the file the positions came from
        self.topology = topology
        self.positions = positions          # list of Vec3, nm
        self.box = box                      # tuple of Vec3 (nm) or None
        self.box_file = box_file            # what a box would come from
        self.box_hint = box_hint            # how to give one
        self.create_system = create_system  # (**createSystem kwargs) -> System


def positions_nm(positions):
    return [mm.Vec3(*p) for p in positions.value_in_unit(NM)]


def load_amber(args):
    require_file(args.prmtop, "AMBER topology, --prmtop")
    require_file(args.inpcrd, "AMBER coordinates, --inpcrd")
    with open(args.prmtop, errors="replace") as f:
        first = f.readline()
    if not first.startswith("%"):
        fail(args.prmtop, "is not an AMBER prmtop file (a prmtop starts with "
             "%VERSION or %FLAG)")
    with reading(args.prmtop, "an AMBER prmtop file"):
        prmtop = app.AmberPrmtopFile(args.prmtop)
    with reading(args.inpcrd, "an AMBER inpcrd/restart file"):
        inpcrd = app.AmberInpcrdFile(args.inpcrd)
    check_count(args.inpcrd, len(inpcrd.positions), args.prmtop,
                prmtop.topology.getNumAtoms())
    prmtop_box = box_or_none(prmtop.topology.getPeriodicBoxVectors())
    box = box_or_none(inpcrd.boxVectors) or prmtop_box

    def create(**kwargs):
        if kwargs["nonbondedMethod"] != app.NoCutoff and prmtop_box is None:
            fail(args.prmtop, "has no periodic box (IFBOX 0), which OpenMM "
                 "needs for a periodic nonbonded method; write the prmtop of "
                 "a periodic system (tleap: solvateBox or setBox) or use "
                 "--nonbonded NoCutoff")
        with reading(args.prmtop, "an AMBER prmtop file"):
            return prmtop.createSystem(**kwargs)

    return Loaded("AMBER", [("prmtop", args.prmtop), ("inpcrd", args.inpcrd)],
                  args.inpcrd, prmtop.topology,
                  positions_nm(inpcrd.positions), box,
                  args.inpcrd, "an inpcrd of a periodic system ends with a "
                  "box line", create)


def load_gromacs(args):
    require_file(args.top, "GROMACS topology, --top")
    require_file(args.gro, "GROMACS coordinates, --gro")
    include_dir = args.gromacs_include_dir
    if include_dir is not None and not os.path.isdir(include_dir):
        fail(include_dir, "no such directory (--gromacs-include-dir)")
    if include_dir is None and os.path.isdir(DEFAULT_GROMACS_TOP):
        include_dir = DEFAULT_GROMACS_TOP
    with reading(args.gro, "a GROMACS .gro file"):
        gro = app.GromacsGroFile(args.gro)
    box = box_or_none(gro.getPeriodicBoxVectors())
    try:
        top = app.GromacsTopFile(args.top, periodicBoxVectors=box,
                                 includeDir=include_dir)
    except Exception as e:
        missing = re.search(r"Could not locate #include file: (\S+)", str(e))
        if missing:
            where = include_dir or "no include directory"
            fail(args.top, f'#include "{missing.group(1)}" is neither beside '
                 f"the .top nor in {where}; give GROMACS's force-field "
                 "directory with --gromacs-include-dir (Debian's "
                 "gromacs-data installs /usr/share/gromacs/top)")
        fail(args.top, f"cannot read it as a GROMACS .top file: {one_line(e)}")
    check_count(args.gro, len(gro.positions), args.top,
                top.topology.getNumAtoms())

    def create(**kwargs):
        with reading(args.top, "a GROMACS .top file"):
            return top.createSystem(**kwargs)

    return Loaded("GROMACS", [("top", args.top), ("gro", args.gro)],
                  args.gro, top.topology, positions_nm(gro.positions), box,
                  args.gro,
                  "the last line of a .gro file gives the box", create)


def read_pdb(path, role):
    require_file(path, role)
    with open(path, errors="replace") as f:
        if not any(line.startswith(("ATOM  ", "HETATM")) for line in f):
            fail(path, "has no ATOM or HETATM records; is it a PDB file?")
    with reading(path, "a PDB file"):
        return app.PDBFile(path)


def charmm_parameters(paths):
    known = (".prm", ".par", ".rtf", ".top", ".str", ".inp")
    for path in paths:
        require_file(path, "CHARMM parameters, --charmm-params")
        name = os.path.basename(path)
        if not name.endswith(known) or (
                name.endswith(".inp") and "par" not in name
                and "top" not in name):
            fail(path, "OpenMM tells CHARMM files apart by their names: "
                 "parameters end in .prm or .par, topologies in .rtf or .top, "
                 "streams in .str (.inp files need 'par' or 'top' in the "
                 "name); rename it")
    try:
        return app.CharmmParameterSet(*paths)
    except Exception as e:
        fail(", ".join(paths),
             f"cannot read them as CHARMM parameter files: {one_line(e)}")


def load_charmm(args):
    require_file(args.psf, "CHARMM topology, --psf")
    if (args.crd is None) == (args.pdb is None):
        fail("--psf", "give the coordinates as exactly one of --crd X.crd "
             "and --pdb X.pdb")
    with reading(args.psf, "a CHARMM PSF file"):
        psf = app.CharmmPsfFile(args.psf)
    if args.crd is not None:
        require_file(args.crd, "CHARMM coordinates, --crd")
        with reading(args.crd, "a CHARMM coordinate (CRD) file"):
            positions = app.CharmmCrdFile(args.crd).positions
        coordinates, pdb_box = args.crd, None
    else:
        pdb = read_pdb(args.pdb, "coordinates, --pdb")
        positions = pdb.positions
        coordinates = args.pdb
        pdb_box = box_or_none(pdb.topology.getPeriodicBoxVectors())
    params = charmm_parameters(args.charmm_params)
    check_count(coordinates, len(positions), args.psf,
                psf.topology.getNumAtoms())
    if args.box is not None:
        box, box_file = rectangular_box(args.box), "--box"
    else:
        box, box_file = pdb_box, coordinates
    if box is not None:
        a, b, c = box
        angles = [math.degrees(math.acos(sum(x * y for x, y in zip(u, v))
                                         / (norm(u) * norm(v))))
                  for u, v in ((b, c), (a, c), (a, b))]
        psf.setBox(norm(a) * NM, norm(b) * NM, norm(c) * NM,
                   *(x * unit.degree for x in angles))

    def create(**kwargs):
        try:
            return psf.createSystem(params, **kwargs)
        except Exception as e:
            if type(e).__name__ == "MissingParameter":
                fail(args.psf, f"{one_line(e)} in "
                     f"{', '.join(args.charmm_params)}; add the parameter or "
                     "stream file that defines them to --charmm-params")
            fail(args.psf, f"cannot make a System from it with "
                 f"{', '.join(args.charmm_params)}: {one_line(e)}")

    files = [("psf", args.psf), ("coordinates", coordinates)] + [
        ("parameters", p) for p in args.charmm_params]
    return Loaded("CHARMM", files, coordinates, psf.topology,
                  positions_nm(positions), box,
                  box_file, "PSF and CRD files hold no box: give --box A B C "
                  "(nm), or --pdb with a CRYST1 record", create)


TEMPLATE_ERROR = re.compile(
    r"No template found for residue (\d+) \((.*?)\)\.\s*(.*)", re.S)


def template_problem(exc, topology, pdb_path, forcefields, added_hydrogens):
    """One line for OpenMM's "No template found for residue ...", naming the
    residue as the PDB numbers it and saying what to do; None for any other
    error."""
    match = TEMPLATE_ERROR.search(str(exc))
    if not match:
        return None
    residues = list(topology.residues())
    index = int(match.group(1)) - 1
    residue = residues[index] if 0 <= index < len(residues) else None
    name = match.group(2)
    where = (f"residue {name} {residue.id} (chain {residue.chain.id})"
             if residue is not None else f"residue {name}")
    detail = one_line(re.sub(r"For more information, see \S+", "",
                             match.group(3))).rstrip(".")
    detail = detail[:1].lower() + detail[1:]
    if "missing" in detail and "hydrogen" in detail and not added_hydrogens:
        todo = "add --add-hydrogens to let OpenMM add them"
    elif name in WATER_NAMES:
        todo = ("add the water model's XML to --forcefield (e.g. "
                "amber14/tip3p.xml with amber14-all.xml)")
    else:
        todo = ("give a force field XML that defines this residue (a ligand "
                "needs its own template, e.g. GAFF parameters made with "
                "openmmforcefields), or rename it to a residue the force "
                "field knows")
    return (f"{pdb_path}: {where} matches no template in "
            f"{' '.join(forcefields)}" + (f": {detail}" if detail else "")
            + f"; {todo}")


def load_forcefield(names):
    try:
        return app.ForceField(*names)
    except Exception as e:
        text = str(e)
        missing = re.search(r'Could not locate file "([^"]+)"', text)
        if missing:
            fail(missing.group(1), "no such force field file, here or among "
                 "OpenMM's own (such as amber14-all.xml, amber14/tip3p.xml, "
                 "charmm36.xml, charmm36/water.xml)")
        bad = re.search(r"error reading file '([^']+)'", text)
        fail(bad.group(1) if bad else " ".join(names),
             f"cannot read it as an OpenMM force field XML file: "
             f"{one_line(text.splitlines()[0] if text else e)}")


def load_pdb(args):
    pdb = read_pdb(args.pdb, "structure, --pdb")
    forcefield = load_forcefield(args.forcefield)
    modeller = app.Modeller(pdb.topology, pdb.positions)

    def templates_guarded(action, topology):
        try:
            return action()
        except Exception as e:
            problem = template_problem(e, topology, args.pdb, args.forcefield,
                                       args.add_hydrogens)
            if problem:
                raise InputError(problem) from None
            raise

    if args.add_hydrogens:
        # It minimises the new hydrogens in a Context: on the preparation
        # platform, not on whatever OpenMM finds fastest.
        platform = mm.Platform.getPlatformByName(args.prep_platform)
        templates_guarded(lambda: modeller.addHydrogens(
            forcefield, pH=args.ph, platform=platform), modeller.topology)
    if args.solvate:
        options = dict(model=args.water_model,
                       ionicStrength=args.ionic_strength * unit.molar)
        if args.box is not None:
            options["boxSize"] = mm.Vec3(*args.box) * NM
        else:
            options["padding"] = args.padding * NM
        topology_before = modeller.topology
        try:
            templates_guarded(lambda: modeller.addSolvent(forcefield,
                                                          **options),
                              topology_before)
        except InputError:
            raise
        except Exception as e:
            fail(args.pdb, f"cannot solvate it with {args.water_model} water "
                 f"and {' '.join(args.forcefield)}: {one_line(e)}")
    elif args.box is not None:
        modeller.topology.setPeriodicBoxVectors(rectangular_box(args.box))
    topology = modeller.topology
    box = box_or_none(topology.getPeriodicBoxVectors())

    def create(**kwargs):
        try:
            return templates_guarded(
                lambda: forcefield.createSystem(topology, **kwargs), topology)
        except InputError:
            raise
        except Exception as e:
            fail(args.pdb, f"cannot make a System with "
                 f"{' '.join(args.forcefield)}: {one_line(e)}")

    files = [("pdb", args.pdb)] + [("forcefield", f) for f in args.forcefield]
    return Loaded("PDB", files, args.pdb, topology,
                  positions_nm(modeller.positions),
                  box, "--box" if args.box is not None else args.pdb,
                  "add a CRYST1 record, give --box A B C (nm), or --solvate",
                  create)


# =============================================================================
# The System, the starting state and the job
# =============================================================================

METHODS = {"PME": app.PME, "NoCutoff": app.NoCutoff,
           "CutoffPeriodic": app.CutoffPeriodic}
WATER_NAMES = ("HOH", "WAT", "SOL", "TIP3")


def count_waters(topology):
    return sum(1 for r in topology.residues() if r.name in WATER_NAMES)


def nonbonded_method(args, loaded):
    name = args.nonbonded or ("PME" if loaded.box is not None else "NoCutoff")
    if name != "NoCutoff":
        if loaded.box is None:
            fail(loaded.box_file, f"has no periodic box, but --nonbonded "
                 f"{name} needs one; {loaded.box_hint}")
        width = min(loaded.box[i][i] for i in range(3))
        if args.cutoff > width / 2:
            fail(loaded.box_file, f"the box ({box_lengths(loaded.box)}) is "
                 f"too small for a {args.cutoff:g} nm cutoff: OpenMM needs "
                 f"the cutoff to be at most half the box width ({width / 2:g} "
                 "nm); use a smaller --cutoff or a bigger box")
    elif loaded.box is None:
        waters = count_waters(loaded.topology)
        if waters > 10:
            print(f"{PROG}: warning: {waters} water molecules but no periodic "
                  f"box, so NoCutoff in vacuum; {loaded.box_hint}",
                  file=sys.stderr)
    return name


def build_system(args, loaded, method_name):
    kwargs = dict(nonbondedMethod=METHODS[method_name],
                  constraints=app.HBonds if args.constraints == "HBonds"
                  else None,
                  rigidWater=True)
    if method_name != "NoCutoff":
        kwargs["nonbondedCutoff"] = args.cutoff * NM
    if args.hmr:
        kwargs["hydrogenMass"] = 4.0 * unit.amu
    system = loaded.create_system(**kwargs)
    if system.getNumParticles() != len(loaded.positions):
        fail(loaded.topology_file, f"makes a System of "
             f"{system.getNumParticles()} particles for "
             f"{len(loaded.positions)} atoms (virtual sites need coordinates "
             "too)")
    if loaded.box is not None:
        system.setDefaultPeriodicBoxVectors(*loaded.box)
    if args.pressure is not None:
        if method_name == "NoCutoff":
            fail("--pressure", "needs a periodic system (a box and "
                 "--nonbonded PME or CutoffPeriodic)")
        barostat = mm.MonteCarloBarostat(args.pressure * unit.bar,
                                         args.temperatures_k[0] * unit.kelvin,
                                         25)
        barostat.setRandomNumberSeed(args.seed)
        system.addForce(barostat)
    return system


def potential_energy(context):
    return context.getState(getEnergy=True).getPotentialEnergy() \
        .value_in_unit(KJ)


def prepare_state(args, loaded, system):
    """A Context at the input positions, minimised and equilibrated if
    asked; returns (State, list of what was done, energies)."""
    dt = 0.004 if args.hmr else 0.002
    t_min = args.temperatures_k[0]
    integrator = mm.LangevinMiddleIntegrator(t_min * unit.kelvin,
                                             1.0 / unit.picosecond,
                                             dt * unit.picosecond)
    integrator.setRandomNumberSeed(args.seed)
    platform = mm.Platform.getPlatformByName(args.prep_platform)
    properties = ({"Threads": str(args.threads)}
                  if args.prep_platform == "CPU" else {})
    try:
        context = mm.Context(system, integrator, platform, properties)
    except Exception as e:
        fail(loaded.topology_file, f"OpenMM cannot make a "
             f"{args.prep_platform} Context of the System: {one_line(e)}")
    if loaded.box is not None:
        context.setPeriodicBoxVectors(*loaded.box)
    context.setPositions(loaded.positions)
    done, energies = [], {"input": potential_energy(context)}
    say(f"{loaded.kind}: {system.getNumParticles()} atoms, potential energy "
          f"{energies['input']:.1f} kJ/mol at the input positions")
    if not math.isfinite(energies["input"]):
        fail(loaded.coordinates, "the potential energy at these positions is "
             "not finite (overlapping atoms?)")
    try:
        if args.minimize:
            mm.LocalEnergyMinimizer.minimize(context, 10.0, args.minimize)
            energies["minimised"] = potential_energy(context)
            done.append(f"minimised (at most {args.minimize} iterations): "
                        f"{energies['input']:.1f} -> "
                        f"{energies['minimised']:.1f} kJ/mol")
            say(done[-1])
        if args.equilibrate_ps:
            steps = max(1, round(args.equilibrate_ps / dt))
            context.setVelocitiesToTemperature(t_min * unit.kelvin, args.seed)
            integrator.step(steps)
            energies["equilibrated"] = potential_energy(context)
            if not math.isfinite(energies["equilibrated"]):
                raise mm.OpenMMException("the energy became NaN")
            ensemble = "NPT" if args.pressure is not None else "NVT"
            done.append(f"equilibrated {steps * dt:g} ps {ensemble} at "
                        f"{t_min:g} K on {args.prep_platform} (seed "
                        f"{args.seed}): {energies['equilibrated']:.1f} kJ/mol")
            say(done[-1])
    except mm.OpenMMException as e:
        fail(loaded.coordinates, f"the simulation blew up ({one_line(e)}); "
             "minimise first (--minimize 1000) or check the structure for "
             "overlapping atoms")
    context.setTime(0.0)
    state = context.getState(getPositions=True, getEnergy=True,
                             getVelocities=bool(args.equilibrate_ps))
    return state, done


def pdb_text(topology, state, periodic):
    positions = state.getPositions()
    if periodic:
        topology.setPeriodicBoxVectors(state.getPeriodicBoxVectors())
    else:
        topology.setPeriodicBoxVectors(None)
    out = io.StringIO()
    app.PDBFile.writeFile(topology, positions, out)
    lines = out.getvalue().splitlines(keepends=True)
    if lines and lines[0].startswith("REMARK   1 CREATED WITH OPENMM"):
        lines[0] = "REMARK   1 WRITTEN BY REPLEX-PREPARE\n"  # no date
    return "".join(lines)


def ladder_yaml(args):
    temps = args.temperatures_k
    if args.rungs is not None:
        return (f"  n_rungs: {args.rungs}\n"
                f"  temperature_range_k: {{min: {temps[0]:g}, max: "
                f"{temps[1]:g}, spacing: geometric}}\n")
    return ("  temperatures_k: [" + ", ".join(f"{t:g}" for t in temps)
            + "]\n")


def rung_temperatures(args):
    temps = args.temperatures_k
    if args.rungs is None:
        return temps
    n = args.rungs
    if n == 1:
        return [temps[0]]
    return [temps[0] * (temps[1] / temps[0]) ** (k / (n - 1))
            for k in range(n)]


def job_yaml(args, loaded, system, method_name, version, done):
    dt = 0.004 if args.hmr else 0.002
    steps = args.steps_per_exchange or round(1.0 / dt)
    temps = rung_temperatures(args)
    n = len(temps)
    waters = count_waters(loaded.topology)
    header = [f"replex job made by tools/replex-prepare.py from {loaded.kind} "
              "inputs:"]
    header += [f"  {role}: {path} (sha256 {sha256(path)[:16]})"
               if os.path.isfile(path) else f"  {role}: {path} (OpenMM's own)"
               for role, path in loaded.files]
    # --overwrite changes no output, so a remade job.yaml stays the same.
    header.append("command: " + " ".join(shlex.quote(a) for a in [
        "tools/replex-prepare.py"] + args.argv if a != "--overwrite"))
    settings = [f"{system.getNumParticles()} atoms"
                + (f" ({waters} waters)" if waters else ""),
                method_name + (f" (cutoff {args.cutoff:g} nm)"
                               if method_name != "NoCutoff" else ""),
                ("HBonds constraints" if args.constraints == "HBonds"
                 else "no bond constraints") + ", rigid water"]
    if args.hmr:
        settings.append("hydrogen mass repartitioning (4 amu hydrogens, "
                        "water unchanged) for the 4 fs timestep")
    header.append("system.xml: " + ", ".join(settings))
    header.append(f"  written by {version};")
    header.append("  replex's engine must read it with the same OpenMM")
    header.append("state.xml: " + ("; ".join(done) if done else
                                   "the input positions as they are")
                  + ("; with velocities" if args.equilibrate_ps else ""))
    if args.pressure is not None:
        header.append(f"NPT: system.xml holds a MonteCarloBarostat at "
                      f"{args.pressure:g} bar; each rung's barostat runs at "
                      "the rung's temperature")
    header.append(f"{n} rungs {temps[0]:g}-{temps[-1]:g} K; {n} x {steps} "
                  f"steps x {args.rounds} rounds = {n * steps * args.rounds} "
                  f"MD steps, {steps * dt * args.rounds:g} ps per replica")
    header.append("run: replex run job.yaml --threads=N --results=results   "
                  "(N: cores to use)")
    header.append("  or on a cluster: replexctl submit job.yaml")
    name = args.name or os.path.basename(os.path.abspath(args.out))
    body = (f"name: {json.dumps(name)}\n"
            f"labels: {{prepared_from: {loaded.kind.lower()}}}\n"
            "system: system.xml\n"
            "coordinates: state.xml\n"
            "topology: topology.pdb\n"
            f"platform: {args.platform}\n"
            f"seed: {args.seed}\n"
            f"checkpoint_interval: {args.checkpoint_interval}\n"
            f"integrator: {{timestep_ps: {dt:g}, friction_per_ps: 1}}\n"
            "ladder:\n" + ladder_yaml(args) +
            f"exchange: {{scheme: neighbors, steps_per_exchange: {steps}, "
            f"n_rounds: {args.rounds}}}\n"
            f"output: {{frame_interval: {args.frame_interval}}}\n")
    return "".join(f"# {line}\n" for line in header) + body


OUTPUTS = ("system.xml", "state.xml", "topology.pdb", "job.yaml")


def check_outputs(args):
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        fail(args.out, "exists and is not a directory (--out)")
    for name in OUTPUTS:
        path = os.path.join(args.out, name)
        if os.path.exists(path) and not args.overwrite:
            fail(path, "exists; pass --overwrite to replace it, or choose "
                 "another --out")


def write_outputs(args, files):
    os.makedirs(args.out, exist_ok=True)
    for name, text in files.items():
        path = os.path.join(args.out, name)
        with open(path, "w") as f:
            f.write(text)
        say(f"wrote {path} ({len(text)} bytes)")


# =============================================================================
# Command line
# =============================================================================

FORMS = {
    "AMBER": ("prmtop", "inpcrd"),
    "GROMACS": ("top", "gro", "gromacs_include_dir"),
    "CHARMM": ("psf", "crd", "charmm_params"),
    "PDB": ("forcefield", "add_hydrogens", "solvate"),
}


class Parser(argparse.ArgumentParser):
    """Usage errors as one line too (argparse prints the whole usage)."""

    def error(self, message):
        print(f"{PROG}: {message} (see replex-prepare.py --help)",
              file=sys.stderr)
        sys.exit(USER_ERROR)


def parse_args(argv):
    parser = Parser(
        prog="replex-prepare.py",
        description="Turn AMBER, GROMACS, CHARMM or PDB + OpenMM force field "
        "inputs into a replex job: system.xml, state.xml, topology.pdb and "
        "job.yaml in --out DIR. Tutorial: docs/bring-your-own-system.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = parser.add_argument_group("AMBER input")
    g.add_argument("--prmtop", help="AMBER topology")
    g.add_argument("--inpcrd", help="AMBER coordinates (inpcrd/rst7)")
    g = parser.add_argument_group("GROMACS input")
    g.add_argument("--top", help="GROMACS topology")
    g.add_argument("--gro", help="GROMACS coordinates and box")
    g.add_argument("--gromacs-include-dir", metavar="DIR",
                   help="where the .top's #include files are (default "
                   f"{DEFAULT_GROMACS_TOP} when it exists)")
    g = parser.add_argument_group("CHARMM input")
    g.add_argument("--psf", help="CHARMM topology")
    g.add_argument("--crd", help="CHARMM coordinates (or --pdb)")
    g.add_argument("--charmm-params", nargs="+", metavar="FILE",
                   help="CHARMM parameter, topology and stream files "
                   "(.prm/.par, .rtf/.top, .str)")
    g = parser.add_argument_group("PDB + OpenMM force field input")
    g.add_argument("--pdb", help="structure (also CHARMM coordinates)")
    g.add_argument("--forcefield", nargs="+", metavar="XML",
                   help="OpenMM force field files, e.g. amber14-all.xml "
                   "amber14/tip3p.xml")
    g.add_argument("--add-hydrogens", action="store_true",
                   help="add missing hydrogens (Modeller.addHydrogens)")
    g.add_argument("--ph", type=float, default=7.0,
                   help="pH for --add-hydrogens")
    g.add_argument("--solvate", action="store_true",
                   help="add water and ions (Modeller.addSolvent)")
    g.add_argument("--padding", type=float, default=1.0, metavar="NM",
                   help="--solvate: water beyond the solute (nm)")
    g.add_argument("--ionic-strength", type=float, default=0.0, metavar="M",
                   help="--solvate: salt (molar), besides neutralising ions")
    g.add_argument("--water-model", default="tip3p",
                   choices=["tip3p", "spce", "tip4pew", "tip5p", "swm4ndp"],
                   help="--solvate: water model (its XML must be among "
                   "--forcefield)")
    g = parser.add_argument_group("the System")
    g.add_argument("--box", nargs=3, type=float, metavar=("A", "B", "C"),
                   help="rectangular box edges (nm): CHARMM inputs, a PDB "
                   "without CRYST1, or the box --solvate fills")
    g.add_argument("--nonbonded", choices=list(METHODS),
                   help="default: PME with a periodic box, else NoCutoff")
    g.add_argument("--cutoff", type=float, default=0.9, metavar="NM",
                   help="nonbonded cutoff (nm)")
    g.add_argument("--constraints", choices=["HBonds", "None"],
                   default="HBonds")
    g.add_argument("--hmr", action="store_true",
                   help="hydrogen mass repartitioning (4 amu hydrogens) and "
                   "a 4 fs timestep")
    g.add_argument("--pressure", type=float, metavar="BAR",
                   help="add a MonteCarloBarostat at the lowest temperature "
                   "(NPT)")
    g = parser.add_argument_group("preparation")
    g.add_argument("--minimize", type=int, nargs="?", const=1000, default=0,
                   metavar="N", help="energy-minimise, at most N iterations "
                   "(1000 without N)")
    g.add_argument("--equilibrate-ps", type=float, default=0.0, metavar="PS",
                   help="Langevin MD at the lowest temperature (NPT with "
                   "--pressure) before writing state.xml")
    g.add_argument("--prep-platform", choices=["CPU", "Reference"],
                   default="CPU", help="platform for --minimize and "
                   "--equilibrate-ps")
    g.add_argument("--threads", type=int, default=1,
                   help="CPU threads for --prep-platform CPU (1: the same "
                   "bytes on every run)")
    g.add_argument("--seed", type=int, default=1,
                   help="seed of the equilibration, the barostat and the job")
    g = parser.add_argument_group("the job")
    g.add_argument("--temperatures", nargs="+", type=float, metavar="K",
                   default=[300.0, 450.0],
                   help="MIN MAX with --rungs (geometric), or every rung's "
                   "temperature")
    g.add_argument("--rungs", type=int, help="rungs between MIN and MAX "
                   "(default 8 when --temperatures gives two values)")
    g.add_argument("--rounds", type=int, default=100,
                   help="exchange rounds (n_rounds)")
    g.add_argument("--steps-per-exchange", type=int,
                   help="MD steps between exchanges (default: 1 ps)")
    g.add_argument("--checkpoint-interval", type=int, default=10,
                   metavar="ROUNDS")
    g.add_argument("--frame-interval", type=int, default=10, metavar="ROUNDS",
                   help="rounds between trajectory frames")
    g.add_argument("--platform", default="CPU",
                   choices=["Reference", "CPU", "OpenCL", "CUDA"],
                   help="the job's OpenMM platform")
    g.add_argument("--name", help="job name (default: the --out folder's "
                   "name)")
    g = parser.add_argument_group("output")
    g.add_argument("--out", required=True, metavar="DIR",
                   help="folder for system.xml, state.xml, topology.pdb and "
                   "job.yaml")
    g.add_argument("--overwrite", action="store_true",
                   help="replace those files if they exist")
    args = parser.parse_args(argv)
    args.argv = list(argv)
    args.kind = input_form(parser, args)
    check_options(parser, args)
    return args


def input_form(parser, args):
    given = [kind for kind, keys in FORMS.items()
             if any(getattr(args, k) not in (None, False) for k in keys)]
    if len(given) != 1:
        parser.error("give exactly one input form: --prmtop/--inpcrd "
                     "(AMBER), --top/--gro (GROMACS), --psf/--crd|--pdb/"
                     "--charmm-params (CHARMM) or --pdb/--forcefield (PDB)"
                     + (f"; got {' and '.join(given)}" if given else ""))
    kind = given[0]
    required = {"AMBER": ("prmtop", "inpcrd"), "GROMACS": ("top", "gro"),
                "CHARMM": ("psf", "charmm_params"),
                "PDB": ("pdb", "forcefield")}[kind]
    for key in required:
        if getattr(args, key) is None:
            parser.error(f"{kind} input needs --{key.replace('_', '-')}")
    return kind


def check_options(parser, args):
    if args.kind not in ("CHARMM", "PDB") and args.pdb is not None:
        parser.error("--pdb goes with --forcefield, or with --psf as the "
                     "coordinates of a CHARMM system")
    if args.kind not in ("CHARMM", "PDB") and args.box is not None:
        parser.error(f"--box is for CHARMM and PDB inputs; {args.kind} "
                     "inputs carry their own box")
    if args.hmr and args.constraints == "None":
        parser.error("--hmr is for a 4 fs timestep, which needs "
                     "--constraints HBonds")
    temps = args.temperatures
    if any(not math.isfinite(t) or t <= 0 for t in temps) or \
            sorted(temps) != temps:
        parser.error("--temperatures must be positive and increasing")
    if args.rungs is None and len(temps) == 2:
        args.rungs = 8
    if args.rungs is not None:
        if len(temps) != 2:
            parser.error("--rungs goes with two --temperatures, MIN and MAX")
        if not 1 <= args.rungs <= 4096:
            parser.error("--rungs must be 1 to 4096")
    elif len(temps) < 1:
        parser.error("--temperatures needs at least one value")
    args.temperatures_k = temps
    for name in ("rounds", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    for name in ("checkpoint_interval", "frame_interval", "minimize"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more")
    if args.steps_per_exchange is not None and args.steps_per_exchange < 1:
        parser.error("--steps-per-exchange must be at least 1")
    for name in ("cutoff", "padding"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name} must be positive")
    if args.equilibrate_ps < 0 or args.ionic_strength < 0:
        parser.error("--equilibrate-ps and --ionic-strength must be 0 or "
                     "more")
    if args.pressure is not None and not args.pressure > 0:
        parser.error("--pressure must be positive (bar)")
    if args.box is not None and not all(b > 0 for b in args.box):
        parser.error("--box lengths must be positive (nm)")
    if args.kind != "PDB" and (args.solvate or args.add_hydrogens):
        parser.error("--solvate and --add-hydrogens are for PDB + "
                     "--forcefield input")


LOADERS = {"AMBER": load_amber, "GROMACS": load_gromacs,
           "CHARMM": load_charmm, "PDB": load_pdb}


def main(argv):
    args = parse_args(argv)  # usage errors: argparse exits 2
    try:
        version = check_openmm_versions()
        check_outputs(args)
        loaded = LOADERS[args.kind](args)
        method_name = nonbonded_method(args, loaded)
        system = build_system(args, loaded, method_name)
        state, done = prepare_state(args, loaded, system)
        files = {
            "system.xml": mm.XmlSerializer.serialize(system),
            "state.xml": mm.XmlSerializer.serialize(state),
            "topology.pdb": pdb_text(loaded.topology, state,
                                     method_name != "NoCutoff"),
            "job.yaml": job_yaml(args, loaded, system, method_name, version,
                                 done),
        }
        write_outputs(args, files)
    except InputError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return USER_ERROR
    job = os.path.join(args.out, "job.yaml")
    say(f"next: replex run {job} --threads=N --results=RESULTS_DIR   "
          f"(or: replexctl submit {job})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
