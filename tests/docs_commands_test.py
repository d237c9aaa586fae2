#!/usr/bin/python3
"""The shell commands of README.md, docs/*.md and python/README.md, checked.

  docs_commands_test.py --source DIR --build DIR

Every ```sh block of those files has a place in PLAN, keyed by its file and
its first command:
  - Run: executed as written, in sessions (a fresh directory holding links
    to the repository and its build, HOME inside it, the build's binaries on
    PATH, one bash with -e and pipefail); a session may start with commands
    that give the block what the text before it says it has (a running
    cluster, a job id) and end with checks of what it made. grpcurl is not
    packaged in Debian, so its calls run as the `replexctl call` the README
    gives for them (same method, same JSON); its `list` and `describe`
    lines, which have no such twin, are the only lines not run. Any other
    change to a block is an Edit naming the text it replaces and why; an
    Edit whose text is gone fails the test.
  - Elsewhere: run by another test, named with strings that test must
    contain (the block's script or example), so a moved or renamed command
    fails here.
  - NotHere: needs what no test machine has (a GPU, a Kubernetes cluster,
    Docker without REPLEX_DOCKER_TEST=1, Apptainer, a remote host); the
    reason is printed.
Every block, run or not, is also checked statically: each repository path
it names exists, and each flag given to a replex command (replex, replexctl,
the three services, tools/replex-prepare, tools/local-cluster.sh) that
starts a command (a line, or after a pipe, `;`, `&&` or `$(`) is one that
command's help lists. A block in no place, or a place with no block,
fails: a new quickstart is run or explained before it ships.

Sessions bind the documented ports (7070, 7071, 8080, 9464, 9465), one
session at a time, and leave no process behind (each runs in its own
process group, killed at the end).
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.S | re.M)
DOCUMENTED_PORTS = (7070, 7071, 8080, 9464, 9465)
SESSION_TIMEOUT_S = 300
# All sessions together, below ctest's TIMEOUT (1800 s), so that this test
# always stops its sessions itself: a SIGKILL from ctest could not.
TOTAL_TIMEOUT_S = 1500
# The session running now: killed with its processes if this test is.
current_group = None


class Edit:
    def __init__(self, old, new, why):
        self.old, self.new, self.why = old, new, why


class Run:
    def __init__(self, session, edits=()):
        self.session, self.edits = session, list(edits)


class Elsewhere:
    def __init__(self, test, needles, why=""):
        self.test, self.needles, self.why = test, needles, why


class NotHere:
    def __init__(self, why):
        self.why = why


# docs/api.md's example job id, made the session's job.
SESSION_JOB = Edit("j3f9c2a71b0de", "'$id'",
                   "the example id is the session's job")


def own_folder(suffix):
    """The docs' replex-prepare examples all write my-job."""
    return Edit("--out my-job", f"--out my-job-{suffix}",
                "each input format's job in its own folder")


# A Reference cluster with one job that has ended, for blocks whose text
# comes after "submit" in their document.
CLUSTER_WITH_A_JOB = """
tools/local-cluster.sh up --workers 1 --platform Reference
export REPLEX_GATEWAY=127.0.0.1:8080
id=$(replexctl submit examples/harmonic-oscillator/job.yaml)
replexctl wait "$id"
"""
DOWN = "\ntools/local-cluster.sh down\n"

# name: (commands before the session's blocks, commands after them)
SESSIONS = {
    "readme-run": ("", """
/usr/bin/python3 -c 'import json; json.load(open("summary.json"))'
grep -q '"rounds": 90,' results/ala/analysis.json
grep -q '"state": "SUCCEEDED"' results/ala/analysis.json
"""),
    "readme-cluster": ("", ""),
    "readme-calls": (CLUSTER_WITH_A_JOB, DOWN),
    # A second job to cancel: CPU, so it waits on this Reference cluster.
    "api-calls": (CLUSTER_WITH_A_JOB + """
running=$(replexctl submit examples/alanine-dipeptide/job.yaml)
""", DOWN),
    "api-session": ("", ""),
    "deploy-local": ("", ""),
    "deploy-calls": (CLUSTER_WITH_A_JOB, DOWN),
    "deploy-tls": ("", ""),
    "prepare": ("", "test -s my-job/job.yaml\n"),
    "results": (CLUSTER_WITH_A_JOB, "test -s report.html\n" + DOWN),
    "security": ("", 'replexctl wait "$id"\n' + DOWN),
    "python": ("", ""),
}

PLAN = {
    ("README.md", "tools/run-example.sh"): Elsewhere(
        ".ci/run", ["tools/run-tests.sh"],
        "CI runs tools/run-tests.sh; tools/run-example.sh's build is "
        "checked by example_path_test and its job is run in the README's "
        "next block"),
    ("README.md",
     "build/cli/replex run examples/harmonic-oscillator/job.yaml --threads=2"):
        Run("readme-run", [Edit(
            "build/cli/replex run examples/alanine-dipeptide/job.yaml "
            "--threads=2 --results=results/ala",
            "timeout --preserve-status -s TERM 5 build/cli/replex run "
            "examples/alanine-dipeptide/job.yaml --threads=2 "
            "--results=results/ala || test $? -eq 75",
            "stopped by SIGTERM after 5 s (a walltime kill, exit 75) so "
            "that the next line, --resume, has a run to go on with")]),
    ("README.md", "tools/local-cluster.sh up --workers 2"):
        Run("readme-cluster"),
    ("README.md", "grpcurl -plaintext localhost:8080 list"):
        Run("readme-calls"),
    ("README.md",
     "replexctl --gateway=localhost:8080 call replex.v1.JobService/GetJob "
     "'{\"job_id\": \"'$id'\"}'"): Run("readme-calls"),
    ("docs/api.md", "replex-gateway --listen=0.0.0.0:8080 "
     "--coordinator=coordinator:7070 \\"): NotHere(
        "a deployment's command line (host names and /etc paths); "
        "tokens are run by tests/security_test"),
    ("docs/api.md", "grpcurl -plaintext localhost:8080 list"):
        Run("api-calls"),
    ("docs/api.md", "dir=examples/harmonic-oscillator"): Run("api-calls"),
    ("docs/api.md", "replexctl spec examples/harmonic-oscillator/job.yaml |"):
        Run("api-calls"),
    ("docs/api.md", "grpcurl -plaintext -d '{\"job_id\": \"j3f9c2a71b0de\"}' "
     "localhost:8080 replex.v1.JobService/GetJob"): Run("api-calls", [SESSION_JOB]),
    ("docs/api.md", "grpcurl -plaintext -d '{\"job_id\": \"j3f9c2a71b0de\"}' "
     "localhost:8080 replex.v1.JobService/WatchJob"): Run("api-calls", [SESSION_JOB]),
    ("docs/api.md", "grpcurl -plaintext -d '{\"job_id\": \"j3f9c2a71b0de\", "
     "\"batch_ms\": 1000}' localhost:8080 replex.v1.JobService/WatchJob"):
        Run("api-calls", [SESSION_JOB]),
    ("docs/api.md", "grpcurl -plaintext -d '{\"job_id\": \"j3f9c2a71b0de\"}' "
     "localhost:8080 replex.v1.JobService/CancelJob"): Run("api-calls", [Edit(
         "j3f9c2a71b0de", "'$running'",
         "the example id is the session's queued job")]),
    ("docs/api.md", "grpcurl -plaintext -d '{\"job_id\": \"'$id'\", "
     "\"path\": \"analysis.json\"}' \\"): Run("api-calls"),
    ("docs/api.md", "tools/local-cluster.sh up --workers 2 --platform Reference"):
        Run("api-session"),
    ("docs/bring-your-own-system.md", "I=examples/alanine-dipeptide-water/inputs"):
        Run("prepare"),
    ("docs/bring-your-own-system.md",
     "tools/replex-prepare --top $I/gromacs/alanine-dipeptide-water.top \\"):
        Run("prepare", [own_folder("gromacs")]),
    ("docs/bring-your-own-system.md",
     "tools/replex-prepare --psf $I/charmm/alanine-dipeptide-water.psf \\"):
        Run("prepare", [own_folder("charmm")]),
    ("docs/bring-your-own-system.md",
     "tools/replex-prepare --pdb $I/pdb/alanine-dipeptide-water.pdb \\"):
        Run("prepare", [own_folder("pdb")]),
    ("docs/bring-your-own-system.md",
     "tools/replex-prepare --pdb $I/pdb/alanine-dipeptide.pdb \\"):
        Run("prepare", [own_folder("solvated")]),
    ("docs/bring-your-own-system.md",
     "build/cli/replex run my-job/job.yaml --threads=2 --results=results/my-job"):
        NotHere("alanine dipeptide in water, 5,000 rounds: hours on 2 cores; "
                "tests/npt_test runs such a system for a few rounds"),
    ("docs/bring-your-own-system.md",
     "export REPLEX_GATEWAY=gateway.example.org:8080"):
        NotHere("a remote gateway"),
    ("docs/coordinator.md", "replex-coordinator --listen=0.0.0.0:7070 "
     "--port_file=/run/replex/port \\"):
        NotHere("a deployment's command line (/etc and /data paths)"),
    ("docs/coordinator.md",
     "cmake --build build -j2 --target coordinator_test coordinator_service_test"):
        Elsewhere("tools/run-tests.sh", ["ctest"],
                  "tools/run-tests.sh builds and runs these tests"),
    ("docs/deploy.md", "tools/install-deps.sh && tools/build.sh"):
        Run("deploy-local", [Edit(
            "tools/install-deps.sh && tools/build.sh", "true",
            "tools/run-tests.sh (CI) ran both before this test")]),
    ("docs/deploy.md", "docker build -f deploy/docker/Dockerfile --target cpu "
     "-t replex:0.1.0-cpu ."): Elsewhere(
        "tests/docker_stack_test.sh", ["deploy/docker/Dockerfile"],
        "Docker: tests/docker_stack_test.sh with REPLEX_DOCKER_TEST=1"),
    ("docs/deploy.md", "docker-compose -f deploy/docker-compose.yml up -d "
     "--build --scale worker=2"): Elsewhere(
        "tests/docker_stack_test.sh",
        ["deploy/docker-compose.yml", "--scale worker=2", "submit"],
        "Docker: tests/docker_stack_test.sh with REPLEX_DOCKER_TEST=1"),
    ("docs/deploy.md", "grpcurl -plaintext localhost:8080 list"):
        Run("deploy-calls"),
    ("docs/deploy.md", "export REPLEX_GATEWAY=localhost:8080"):
        Run("deploy-calls", [Edit(
            "jq -n ... | replexctl call replex.v1.JobService/SubmitJob -",
            "true", "the elided jq is docs/api.md's, run there")]),
    ("docs/deploy.md", "docker-compose -f deploy/docker-compose.yml "
     "-f deploy/docker-compose.gpu.yml \\"):
        NotHere("an NVIDIA GPU; the file is rendered by deploy_compose_test"),
    ("docs/deploy.md", "docker build -f deploy/docker/Dockerfile --target cpu "
     "-t REGISTRY/replex:0.1.0-cpu . && docker push REGISTRY/replex:0.1.0-cpu"):
        NotHere("a Kubernetes cluster and a registry; the manifests are "
                "rendered and checked by deploy_k8s_test"),
    ("docs/deploy.md", "mkdir -p pki && cd pki"): Run("deploy-tls"),
    ("docs/deploy.md", "build/coordinator/replex-coordinator "
     "--tls_cert=pki/coordinator.crt --tls_key=pki/coordinator.key \\"):
        Run("deploy-tls"),
    ("docs/deploy.md", "kubectl create namespace replex"):
        NotHere("a Kubernetes cluster; overlays/tls is rendered and checked "
                "by deploy_k8s_test"),
    ("docs/deploy.md", "grpcurl -cacert pki/ca.crt localhost:8080 list"):
        NotHere("grpcurl (not in Debian) against the Kubernetes TLS overlay; "
                "TLS calls are run by tests/tls_test"),
    ("docs/deploy.md", "cd build && REPLEX_DOCKER_TEST=1 ctest -R "
     "docker_stack_test -V"): NotHere("this runs the Docker test itself"),
    ("docs/deploy.md", "REPLEX_DOCKER_TEST=1 REPLEX_DOCKER_BUILD=1 "
     "tests/docker_stack_test.sh \"$PWD\" build"):
        NotHere("this runs the Docker test itself"),
    ("docs/hpc.md", "sbatch --cpus-per-task=8 --time=24:00:00 \\"): Elsewhere(
        "tests/slurm_test.sh", ["deploy/slurm/replex-run.sbatch"],
        "a real slurmctld/slurmd: tests/slurm_test.sh"),
    ("docs/hpc.md", "sbatch --ntasks=4 --cpus-per-task=8 "
     "deploy/slurm/replex-cluster.sbatch"): Elsewhere(
        "tests/slurm_test.sh",
        ["deploy/slurm/replex-cluster.sbatch", "gateway.address"],
        "a real slurmctld/slurmd: tests/slurm_test.sh"),
    ("docs/hpc.md", "docker build -f deploy/docker/Dockerfile --target gpu "
     "-t replex:0.1.0-gpu ."): NotHere("Apptainer is not packaged in Debian"),
    ("docs/hpc.md", "sbatch --export=ALL,REPLEX_EXEC=\"apptainer exec --nv "
     "--bind /scratch replex.sif\" \\"): Elsewhere(
        "tests/slurm_test.sh", ["REPLEX_EXEC"],
        "Apptainer is not packaged in Debian; tests/slurm_test.sh runs the "
        "script with a REPLEX_EXEC prefix"),
    ("docs/platforms.md", "tools/build-openmm-plugins.sh [PLUGIN_DIR]"):
        Elsewhere("tools/run-tests.sh", ["build.sh"],
                  "tools/build.sh (run by tools/run-tests.sh) builds the "
                  "plugins"),
    ("docs/results.md", "build/cli/replex run examples/harmonic-oscillator/"
     "job.yaml --results=results/ho"): Run("results"),
    ("docs/security.md", "printf '%s alice\\n%s root admin\\n' \"$(openssl "
     "rand -hex 32)\" \"$(openssl rand -hex 32)\" > users.tokens"):
        Run("security"),
    ("docs/worker.md", "replex-worker --coordinator=coordinator:7071 "
     "--token_file=/etc/replex/worker.token \\"):
        NotHere("a CUDA GPU (docs/platforms.md)"),
    ("docs/worker.md",
     "nvidia-cuda-mps-control -d"):
        NotHere("a CUDA GPU with MPS (docs/platforms.md)"),
    ("docs/worker.md", "cmake --build build -j2 --target worker_test"):
        Elsewhere("tools/run-tests.sh", ["ctest"],
                  "tools/run-tests.sh builds and runs this test"),
    ("python/README.md", "export PYTHONPATH=$PWD/python"): Run("python", [Edit(
        "pip install ./python",
        "/usr/bin/python3 -c 'import replex'",
        "pip installs into a virtual environment from the network; the "
        "import through PYTHONPATH is what the line before it sets up")]),
}

# A replex command, the path of its binary or script in the build or source
# tree, and how to make it print its flags.
COMMANDS = {
    "replexctl": ("build", "cli/replexctl", ["--help"]),
    "replex": ("build", "cli/replex", ["--help"]),
    "replex-coordinator": ("build", "coordinator/replex-coordinator",
                           ["--helpfull"]),
    "replex-gateway": ("build", "gateway/replex-gateway", ["--helpfull"]),
    "replex-worker": ("build", "replica-worker/replex-worker", ["--helpfull"]),
    "replex-prepare": ("source", "tools/replex-prepare", ["--help"]),
    "local-cluster.sh": ("source", "tools/local-cluster.sh", []),
}
# In command position: a line's start, or after a pipe, a list or an opening
# parenthesis, past any VAR=value assignments.
COMMAND = re.compile(
    r"(?:^|[;|&(])\s*(?:\w+=\S*\s+)*(?:[\w./-]*/)?(" +
    "|".join(map(re.escape, COMMANDS)) + r")(?=\s)")
REPO_PATH = re.compile(
    r"(?<![\w$/.-])((?:examples|tools|deploy|docs|python|dashboards|proto|"
    r"tests|lib|cli|bench|coordinator|gateway|replica-worker|\.ci|build)/"
    r"[\w./-]*[\w])")
problems = []


def key_of(body):
    for line in body.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return re.sub(r"\s+#\s.*$", "", line).strip()
    return ""


def blocks(source):
    docs = ["README.md"] + sorted(
        "docs/" + name for name in os.listdir(os.path.join(source, "docs"))
        if name.endswith(".md")) + ["python/README.md"]
    for doc in docs:
        text = open(os.path.join(source, doc)).read()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield doc, line, match.group(1)


def logical_lines(body):
    return re.sub(r"\\\n\s*", " ", body).splitlines()


help_texts = {}


def help_text(name, source, build):
    if name not in help_texts:
        tree, path, args = COMMANDS[name]
        binary = os.path.join(source if tree == "source" else build, path)
        out = subprocess.run([binary] + args, capture_output=True, text=True,
                             timeout=60)
        help_texts[name] = out.stdout + out.stderr
    return help_texts[name]


def check_statically(where, body, source, build):
    for line in logical_lines(body):
        line = re.sub(r"(^|\s)#\s.*$", "", line)
        for path in REPO_PATH.findall(line):
            root = build if path.startswith("build/") else source
            relative = path[len("build/"):] if path.startswith("build/") else path
            if not os.path.exists(os.path.join(root, relative)):
                problems.append(f"{where}: {path} does not exist")
        for match in COMMAND.finditer(line):
            # The command's own words: up to the next pipe, list or subshell end.
            words = re.split(r"[|;&)]", line[match.end():])[0]
            for flag in re.findall(r"(?<![\w-])--([a-z][\w-]*)", words):
                if flag in ("help", "helpfull"):
                    continue
                if not re.search(r"--" + re.escape(flag) + r"(?![\w-])",
                                 help_text(match.group(1), source, build)):
                    problems.append(f"{where}: {match.group(1)} has no flag "
                                    f"--{flag}")


GRPCURL_CALL = re.compile(
    r"grpcurl\s+-plaintext\s+(?:-d\s+(?P<data>@|'[^']*'(?:\$\w+'[^']*')*)\s+)?"
    r"(?P<address>\S+:\d+)\s+(?P<method>[\w.]+/\w+)")


def as_run(where, body, edits):
    """The block's text as the session runs it, and what differs."""
    notes = []
    for edit in edits:
        if edit.old not in body:
            problems.append(f"{where}: the edit of {edit.old!r} no longer "
                            "applies; update PLAN")
        body = body.replace(edit.old, edit.new)
        notes.append(f"{edit.old!r} -> {edit.new!r} ({edit.why})")
    lines = []
    for line in logical_lines(body):
        if re.search(r"(^|\|)\s*grpcurl\b", line):
            call = GRPCURL_CALL.search(line)
            if call is None:
                if not re.search(r"grpcurl\s+-plaintext\s+\S+\s+"
                                 r"(list|describe)\b", line):
                    problems.append(f"{where}: a grpcurl call this test "
                                    f"cannot run as replexctl call: {line}")
                lines.append(f"true  # not run (grpcurl only): {line.strip()}")
                notes.append(f"not run, grpcurl only: {line.strip()}")
                continue
            data = call.group("data") or ""
            replacement = (f"replexctl --gateway={call.group('address')} call "
                           f"{call.group('method')} "
                           f"{'-' if data == '@' else data}")
            line = line[:call.start()] + replacement + line[call.end():]
        lines.append(line)
    return "\n".join(lines) + "\n", notes


def ports_free():
    busy = []
    for port in DOCUMENTED_PORTS:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                busy.append(port)
    return busy


def sandbox(source, build):
    directory = tempfile.mkdtemp(prefix="replex-docs-")
    # The repository's own files only: not a build, nor what earlier
    # commands run in the checkout left there (a coordinator's replex-data).
    tracked = subprocess.run(["git", "-C", source, "ls-files"],
                             capture_output=True, text=True)
    names = ({path.split("/")[0] for path in tracked.stdout.split()}
             if tracked.returncode == 0 else set(os.listdir(source)))
    for name in names - {"build"}:
        os.symlink(os.path.join(source, name), os.path.join(directory, name))
    os.symlink(build, os.path.join(directory, "build"))
    os.mkdir(os.path.join(directory, "home"))
    return directory


def run_session(name, parts, source, build, deadline):
    before, after = SESSIONS[name]
    timeout = min(SESSION_TIMEOUT_S, deadline - time.monotonic())
    if timeout <= 0:
        problems.append(f"session {name}: not run, the test's "
                        f"{TOTAL_TIMEOUT_S} s are spent")
        return
    busy = ports_free()
    for _ in range(300):  # a previous session's ports may take a moment
        if not busy:
            break
        time.sleep(0.1)
        busy = ports_free()
    if busy:
        problems.append(f"session {name}: ports {busy} are in use; the "
                        "documented commands need them")
        return
    directory = sandbox(source, build)
    script = "set -eo pipefail\nPS4='+ [${SECONDS}s] '\n" + before + "".join(parts) + after
    with open(os.path.join(directory, "session.sh"), "w") as f:
        f.write(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLEX_")}
    env.update(HOME=os.path.join(directory, "home"),
               XDG_CONFIG_HOME=os.path.join(directory, "home", ".config"),
               PATH=":".join(os.path.join(build, d) for d in
                             ("cli", "coordinator", "gateway", "replica-worker"))
               + ":" + env["PATH"])
    started = time.monotonic()
    log_path = os.path.join(directory, "session.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(["bash", "-x", "session.sh"], cwd=directory,
                                   env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        global current_group
        current_group = process.pid
        try:
            rc = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = "timeout"
        finally:
            leftover = stop_group(process.pid)
            process.poll()  # reaps the session's shell if it was killed
            current_group = None
    seconds = time.monotonic() - started
    if rc != 0:
        output = open(log_path).read()
        problems.append(f"session {name} failed ({rc}) after {seconds:.0f} s; "
                        f"its script and output are in {directory}:\n"
                        + output[-6000:])
        return
    if os.environ.get("DOCS_TEST_LOG"):
        print(open(log_path).read())
    print(f"session {name}: ran in {seconds:.0f} s" +
          (f" (stopped {leftover} processes it left)" if leftover else ""))
    subprocess.run(["rm", "-rf", directory])


def stop_group(pgid):
    """Kills what a session left (background servers) and counts it."""
    def members():
        # The session's processes (its shell made a new session, so its
        # id is the group's), zombies left out: they hold nothing.
        out = subprocess.run(["ps", "-o", "pid=,stat=", "-s", str(pgid)],
                             capture_output=True, text=True).stdout
        return [line.split()[0] for line in out.splitlines()
                if line.split() and not line.split()[1].startswith("Z")]
    left = len(members())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return left
        for _ in range(100):
            if not members():
                return left
            time.sleep(0.1)
    if members():
        problems.append(f"processes of group {pgid} survived SIGKILL")
    return left


def on_signal(number, _frame):
    if current_group is not None:
        stop_group(current_group)
    sys.exit(128 + number)


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("--only", help="run only this session")
    args = parser.parse_args()
    source, build = os.path.abspath(args.source), os.path.abspath(args.build)

    sessions = {}
    seen = set()
    for doc, line, body in blocks(source):
        key = (doc, key_of(body))
        where = f"{doc}:{line}"
        check_statically(where, body, source, build)
        if key in seen:
            problems.append(f"{where}: a second block starting {key[1]!r}")
        seen.add(key)
        place = PLAN.get(key)
        if place is None:
            problems.append(f"{where}: a block in no place of PLAN; run it "
                            f"here or say why not: {key!r}")
        elif isinstance(place, Run):
            text, notes = as_run(where, body, place.edits)
            sessions.setdefault(place.session, []).append(
                f"# ---- {where}\n{text}")
            for note in notes:
                print(f"{where}: {note}")
        elif isinstance(place, Elsewhere):
            test_text = open(os.path.join(source, place.test)).read()
            for needle in place.needles:
                if needle not in test_text:
                    problems.append(f"{where}: {place.test} no longer "
                                    f"contains {needle!r}")
            print(f"{where}: run by {place.test}: {place.why}")
        else:
            print(f"{where}: not run: {place.why}")
    for key in PLAN:
        if key not in seen:
            problems.append(f"PLAN places a block that no document has: {key}")
    for name in SESSIONS:
        if name not in sessions:
            problems.append(f"session {name} has no block")

    ran = 0
    deadline = time.monotonic() + TOTAL_TIMEOUT_S
    for name, parts in sessions.items():
        if args.only and name != args.only:
            continue
        run_session(name, parts, source, build, deadline)
        ran += 1

    for problem in problems:
        print("FAIL:", problem)
    if problems:
        return 1
    print(f"PASS: {len(seen)} blocks placed, {ran} sessions run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
