"""Exercises the Python client (python/replex) against a real cluster,
started by tests/python_client_test.cc: argv[1] is a job YAML of a long job
(to cancel), argv[2] a short one, argv[3] a scratch directory; the gateway is
$REPLEX_GATEWAY and the token $REPLEX_TOKEN (alice's); argv[4] is bob's
token. Prints "ok" when every check passed; an assertion names what failed."""

import io
import json
import os
import sys

import numpy as np

import replex

long_job, short_job, scratch, bob_token = sys.argv[1:5]
client = replex.Client()

# A YAML file (through replexctl spec), watched with a progress bar.
job_id = client.submit(short_job)
out = io.StringIO()
job = client.watch(job_id, file=out)
assert replex.job_service_pb2.JobState.Name(job.state) == "SUCCEEDED", job
assert job.rounds_completed == job.n_rounds > 0, job
bar = out.getvalue()
assert f"{job.n_rounds}/{job.n_rounds} rounds 100%" in bar, bar
assert f"job {job_id} SUCCEEDED" in bar, bar
assert job.owner == "alice", job.owner  # the token's user, not the spec's

# The same spec as a dict, with a label, then list by state and label.
spec = json.loads(os.popen(f"{os.environ['REPLEXCTL']} spec {short_job}").read())["spec"]
spec["labels"] = {"source": "dict"}
dict_id = client.submit(spec)
assert client.wait(dict_id).state == replex.job_service_pb2.SUCCEEDED
labelled = client.list(labels={"source": "dict"})
assert [j.job_id for j in labelled] == [dict_id], labelled
done = {j.job_id for j in client.list(states=["succeeded"])}
assert {job_id, dict_id} <= done, done

# Results: every file, then one; never overwritten; loaded with numpy.
results = os.path.join(scratch, "results")
files = client.fetch(job_id, results)
assert os.path.join(results, "u_kln.tsv") in files, files
try:
    client.fetch(job_id, results, path="analysis.json")
    raise AssertionError("fetch overwrote analysis.json")
except FileExistsError as e:
    assert "never overwrites" in str(e), e
one = client.fetch(job_id, os.path.join(scratch, "one"), path="analysis.json")
assert [os.path.basename(f) for f in one] == ["analysis.json"], one
analysis = replex.load_analysis(results)
assert analysis == client.analysis(job_id)
K = analysis["n_rungs"]
u_kln = replex.load_u_kln(results)
assert u_kln.shape == (K, K, analysis["rounds"]), u_kln.shape
assert np.isfinite(u_kln).all()  # a temperature ladder: every entry known
fe = analysis["free_energies"]
assert not fe["unavailable"] and len(fe["f"]) == K, fe

# Cancel a long job while it runs; watching it then ends CANCELLED.
long_id = client.submit(long_job)
for event in client.events(long_id):
    if event.HasField("round"):
        break
assert replex.job_service_pb2.JobState.Name(client.cancel(long_id).state) == "CANCELLED"
assert client.wait(long_id).state == replex.job_service_pb2.CANCELLED

# Extend the short job by 5 rounds: it goes on from its last checkpoint.
client.extend(job_id, 5)
extended = client.wait(job_id)
assert extended.rounds_completed == job.n_rounds + 5, extended

# Errors carry the gateway's code and message.
for code, call in (
        ("NOT_FOUND", lambda: client.get("j-no-such-job")),
        ("INVALID_ARGUMENT", lambda: client.extend(job_id, -1)),
        ("PERMISSION_DENIED", lambda: replex.Client(token=bob_token).get(job_id)),
        ("UNAUTHENTICATED", lambda: replex.Client(token="x" * 32).list())):
    try:
        call()
        raise AssertionError(f"no {code}")
    except replex.ReplexError as e:
        assert e.code == code and e.message, (code, e)
try:
    client.submit(os.path.join(scratch, "missing.yaml"))
    raise AssertionError("a missing file was submitted")
except replex.ReplexError as e:
    assert "missing.yaml" in e.message, e
print("ok")
