"""Loading a job's results directory (docs/results.md) into numpy and
mdtraj: the files are standard formats, so these are conveniences, not the
only way in."""

import json
import os


def load_analysis(directory):
    """analysis.json as a dict."""
    with open(os.path.join(directory, "analysis.json")) as f:
        return json.load(f)


def load_u_kln(directory, *, complete_only=False):
    """u_kln.tsv (or, above 256 rungs, u_kln.npy) as pymbar's array
    u_kln[k, l, n]: the reduced potential at rung l of the configuration
    sampled at rung k in round n (nan where the exchange scheme did not
    evaluate it). With `complete_only`, only the rounds with every entry
    known."""
    import numpy as np

    npy = os.path.join(directory, "u_kln.npy")
    if os.path.exists(npy):
        u = np.load(npy, mmap_mode="r")  # [round, k, l]
    else:
        path = os.path.join(directory, "u_kln.tsv")
        with open(path) as f:
            header = f.readline().rstrip("\n").split("\t")
        n = len(header) - 2
        rows = np.loadtxt(path, skiprows=1, ndmin=2)
        u = rows[:, 2:].reshape(-1, n, n)  # [round, k, l]
    if complete_only:
        u = u[np.isfinite(u).all(axis=(1, 2))]
    return np.ascontiguousarray(u.transpose(1, 2, 0))


def load_trajectory(directory, *, rung=None, replica=None):
    """One rung's trajectory (or, written with
    output.per_replica_trajectories, one replica's) as an mdtraj.Trajectory,
    with the results' topology.pdb."""
    import mdtraj

    if (rung is None) == (replica is None):
        raise ValueError("give exactly one of rung= and replica=")
    name = (f"rung_{rung:03d}.nc" if rung is not None
            else f"replica_{replica:03d}.nc")
    return mdtraj.load(os.path.join(directory, "trajectories", name),
                       top=os.path.join(directory, "topology.pdb"))
