"""replex: a Python client for replex's gateway, and loaders for results.

    import replex
    client = replex.Client("localhost:8080")
    job_id = client.submit("examples/harmonic-oscillator/job.yaml")
    job = client.watch(job_id)          # a progress bar until it ends
    client.fetch(job_id, "results")
    u_kln = replex.load_u_kln("results")
"""

from replex.client import (FINAL_STATES, Client, ReplexError,
                           spec_from_yaml)
from replex.results import load_analysis, load_trajectory, load_u_kln
from replex.v1 import analysis_pb2, job_pb2, job_service_pb2

__all__ = ["Client", "ReplexError", "FINAL_STATES", "spec_from_yaml",
           "load_analysis", "load_u_kln", "load_trajectory", "job_pb2",
           "job_service_pb2", "analysis_pb2"]
