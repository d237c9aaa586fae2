"""A thin Python client for a replex gateway (JobService over gRPC).

Everything a notebook needs: submit a job (a YAML job file, a JobSpec or a
dict in the JobSpec's JSON form), follow it with a progress bar, list,
cancel and extend jobs, download their results, and load those results into
numpy and mdtraj. Settings come from the arguments, else from the
environment variables replexctl reads (REPLEX_GATEWAY, REPLEX_TOKEN,
REPLEX_TLS_CA, REPLEX_TLS_CLIENT_CERT, REPLEX_TLS_CLIENT_KEY,
REPLEX_TLS_SERVER_NAME).
"""

import json
import os
import shutil
import subprocess
import sys
import time

import grpc
from google.protobuf import json_format

from replex.v1 import job_pb2, job_service_pb2, job_service_pb2_grpc

# What a finished job's state is called, and which states end a job.
FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")

# Responses larger than gRPC's default 4 MiB: a long job list.
_MAX_RECEIVE_BYTES = 64 << 20


class ReplexError(Exception):
    """A call the gateway refused or could not serve.

    `code` is the gRPC status code's name (e.g. "NOT_FOUND",
    "INVALID_ARGUMENT", "PERMISSION_DENIED"); the message is the server's,
    which names the field or the job and the fix.
    """

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _state_name(job):
    return job_service_pb2.JobState.Name(job.state)


class Client:
    """One connection to a replex gateway. Not thread-safe per call
    sequence, but gRPC channels are: create one Client per thread if in
    doubt."""

    def __init__(self, gateway=None, *, token=None, tls_ca=None,
                 tls_client_cert=None, tls_client_key=None,
                 tls_server_name=None, timeout=30.0):
        env = os.environ.get
        self.gateway = gateway or env("REPLEX_GATEWAY") or "localhost:8080"
        self.timeout = timeout
        token = token if token is not None else env("REPLEX_TOKEN", "")
        self._metadata = [("authorization", f"Bearer {token}")] if token else []
        tls_ca = tls_ca or env("REPLEX_TLS_CA")
        cert = tls_client_cert or env("REPLEX_TLS_CLIENT_CERT")
        key = tls_client_key or env("REPLEX_TLS_CLIENT_KEY")
        server_name = tls_server_name or env("REPLEX_TLS_SERVER_NAME")
        if bool(cert) != bool(key):
            raise ValueError("tls_client_cert and tls_client_key go together: "
                             "give both or neither")
        options = [("grpc.max_receive_message_length", _MAX_RECEIVE_BYTES)]
        if tls_ca or cert:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(tls_ca) if tls_ca else None,
                private_key=_read(key) if key else None,
                certificate_chain=_read(cert) if cert else None)
            if server_name:
                options.append(("grpc.ssl_target_name_override", server_name))
            self._channel = grpc.secure_channel(self.gateway, credentials,
                                                options)
        else:
            self._channel = grpc.insecure_channel(self.gateway, options)
        self._stub = job_service_pb2_grpc.JobServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout,
                          metadata=self._metadata)
        except grpc.RpcError as e:
            raise ReplexError(e.code().name, e.details()) from None

    # Jobs.

    def submit(self, spec, *, owner=None):
        """Submits a job and returns its id.

        `spec` is a path to a YAML job file (docs/job-spec.md; read by
        `replexctl spec`, the one reader of the format, so validation and
        messages match replexctl's: it must be on PATH or named by
        $REPLEXCTL), a replex.v1.JobSpec, or a dict in the JobSpec's JSON
        form (proto field names). `owner` overrides the spec's.
        """
        if isinstance(spec, job_pb2.JobSpec):
            message = job_pb2.JobSpec()
            message.CopyFrom(spec)
        elif isinstance(spec, dict):
            message = json_format.ParseDict(spec, job_pb2.JobSpec())
        else:
            message = spec_from_yaml(spec)
        if owner is not None:
            message.owner = owner
        request = job_service_pb2.SubmitJobRequest(spec=message)
        return self._call(self._stub.SubmitJob, request).job_id

    def get(self, job_id):
        """The job (replex.v1.Job): state, progress, acceptance, error."""
        return self._call(self._stub.GetJob,
                          job_service_pb2.GetJobRequest(job_id=job_id))

    def list(self, *, states=(), owner=None, labels=None):
        """Jobs, optionally only those in `states` (names such as
        "RUNNING"), of `owner`, and carrying every label in `labels`."""
        request = job_service_pb2.ListJobsRequest(
            states=[job_service_pb2.JobState.Value(s.upper()) for s in states])
        jobs = self._call(self._stub.ListJobs, request).jobs
        return [j for j in jobs
                if (owner is None or j.owner == owner) and
                all(j.labels.get(k) == v for k, v in (labels or {}).items())]

    def cancel(self, job_id):
        return self._call(self._stub.CancelJob,
                          job_service_pb2.CancelJobRequest(job_id=job_id))

    def extend(self, job_id, rounds):
        """Runs an ended job `rounds` rounds longer from its last
        checkpoint (0: finish a cancelled or failed job's rounds)."""
        return self._call(self._stub.ExtendJob, job_service_pb2.ExtendJobRequest(
            job_id=job_id, rounds=rounds))

    def events(self, job_id):
        """The job's events (replex.v1.JobEvent) as they happen: a snapshot,
        then one per round and per state change, until the job ends."""
        try:
            # The rounds come four times a second, batched (batch_ms), and
            # are handed out one event per round.
            for event in self._stub.WatchJob(
                    job_service_pb2.WatchJobRequest(job_id=job_id,
                                                    batch_ms=250),
                    metadata=self._metadata):
                if event.HasField("rounds"):
                    for r in event.rounds.rounds:
                        yield job_service_pb2.JobEvent(job_id=event.job_id,
                                                       round=r)
                else:
                    yield event
        except grpc.RpcError as e:
            raise ReplexError(e.code().name, e.details()) from None

    def watch(self, job_id, *, progress=True, file=None,
              reconnect_seconds=60.0):
        """Follows the job until it ends and returns its final Job; with
        `progress`, a progress bar on `file` (stderr). Reconnects when the
        gateway goes away for less than `reconnect_seconds`."""
        file = file or sys.stderr
        bar = _ProgressBar(file) if progress else None
        job = None
        lost_since = None
        while True:
            try:
                for event in self.events(job_id):
                    lost_since = None
                    if event.HasField("snapshot"):
                        job = event.snapshot
                    if bar is not None and job is not None:
                        bar.update(job, event)
                job = self.get(job_id)
                if _state_name(job) in FINAL_STATES:
                    break
                time.sleep(1)  # the stream ended early: do not spin
            except ReplexError as e:
                if e.code != "UNAVAILABLE":
                    raise
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > reconnect_seconds:
                    raise
                time.sleep(1)
        if bar is not None:
            bar.finish(job)
        return job

    def wait(self, job_id):
        """Blocks until the job ends; returns its final Job."""
        return self.watch(job_id, progress=False)

    # Results.

    def fetch(self, job_id, directory, *, path=""):
        """Downloads the job's results (docs/results.md), or only `path`
        among them, into `directory`; returns the files written. Existing
        files are never overwritten (FileExistsError)."""
        os.makedirs(directory, exist_ok=True)
        root = os.path.realpath(directory)
        written = []
        partial = None
        out = None
        request = job_service_pb2.DownloadResultsRequest(job_id=job_id,
                                                         path=path)
        try:
            for chunk in self._stub.DownloadResults(request,
                                                    metadata=self._metadata):
                target = os.path.realpath(os.path.join(root, chunk.path))
                if os.path.commonpath([root, target]) != root:
                    raise ReplexError("DATA_LOSS", f"the gateway sent a file "
                                      f"outside the results: {chunk.path!r}")
                if out is None:
                    if os.path.exists(target):
                        raise FileExistsError(
                            f"{target} exists; replex never overwrites "
                            "results: fetch into another directory")
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    out = open(target + ".part", "xb")  # never another's
                    partial = target + ".part"
                out.write(chunk.data)
                if chunk.eof:
                    out.close()
                    out = None
                    # link fails if the target appeared meanwhile: nothing
                    # is ever overwritten.
                    os.link(partial, target)
                    os.remove(partial)
                    partial = None
                    written.append(target)
        except grpc.RpcError as e:
            raise ReplexError(e.code().name, e.details()) from None
        finally:
            if out is not None:
                out.close()
            if partial is not None and os.path.exists(partial):
                os.remove(partial)
        return written

    def analysis(self, job_id):
        """The job's analysis.json as a dict (acceptance, round trips,
        free energies, ...)."""
        request = job_service_pb2.DownloadResultsRequest(
            job_id=job_id, path="analysis.json")
        try:
            data = b"".join(c.data for c in self._stub.DownloadResults(
                request, metadata=self._metadata))
        except grpc.RpcError as e:
            raise ReplexError(e.code().name, e.details()) from None
        return json.loads(data)


def spec_from_yaml(path):
    """A YAML job file as a replex.v1.JobSpec, read by `replexctl spec`."""
    replexctl = os.environ.get("REPLEXCTL") or shutil.which("replexctl")
    if not replexctl:
        raise FileNotFoundError(
            "reading a YAML job file needs replexctl (on PATH or named by "
            "$REPLEXCTL); or pass a replex.v1.JobSpec or a dict")
    run = subprocess.run([replexctl, "spec", os.fspath(path)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise ReplexError("INVALID_ARGUMENT", run.stderr.strip())
    request = json_format.Parse(run.stdout, job_service_pb2.SubmitJobRequest())
    return request.spec


class _ProgressBar:
    """`[#########-----] 72/80 rounds  90%  1083 ns/day  ETA 5s`, redrawn in
    place on a terminal, else a line about every 5% of the job."""

    def __init__(self, file):
        self.file = file
        self.tty = hasattr(file, "isatty") and file.isatty()
        self.start = time.monotonic()
        self.first_round = None
        self.last_percent = -5

    def update(self, job, event):
        done, total = job.rounds_completed, job.n_rounds
        ns_per_day = job.ns_per_day
        if event.HasField("round"):
            # Under asynchronous exchange a round event is an exchange
            # event; it says the rounds' worth of segments done.
            done = (event.round.rounds_completed
                    if event.round.HasField("rounds_completed")
                    else event.round.round + 1)
            ns_per_day = event.round.ns_per_day
        if self.first_round is None:
            self.first_round = done
        percent = 100.0 * done / total if total else 0.0
        elapsed = time.monotonic() - self.start
        ran = done - self.first_round
        eta = (f"ETA {elapsed / ran * (total - done):.0f}s" if ran > 0 else "")
        width = 30
        filled = int(width * done / total) if total else 0
        line = (f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total} "
                f"rounds {percent:3.0f}%  {ns_per_day:.1f} ns/day  {eta}  "
                f"{_state_name(job)}")
        if self.tty:
            self.file.write("\r" + line)
        elif percent >= self.last_percent + 5 or done == total:
            self.file.write(line + "\n")
            self.last_percent = percent
        self.file.flush()

    def finish(self, job):
        if self.tty:
            self.file.write("\n")
        self.file.write(f"job {job.job_id} {_state_name(job)}"
                        + (f": {job.error}" if job.error else "") + "\n")
        self.file.flush()
