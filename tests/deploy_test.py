#!/usr/bin/python3
"""Static checks of the deployment files, without a container engine.

  deploy_test.py compose|k8s --source DIR --bin coordinator=PATH \
      --bin gateway=PATH --bin worker=PATH --bin replexctl=PATH

`compose` renders deploy/docker-compose.yml alone and with
deploy/docker-compose.gpu.yml through `docker-compose config`; `k8s` renders
deploy/k8s/base, deploy/k8s/overlays/gpu, overlays/tls, the GPU overlay with
the TLS component, and the monitoring component through `kubectl kustomize`.
Then it checks the rendered objects against the binaries: every flag given
is one the binary lists in --helpfull (replexctl: --help; so a renamed flag
breaks this test), probes and health checks point at the ports the flags
listen on, the coordinator's data paths lie on a volume, GPU workers get a
GPU, workers get longer to stop than they take to drain, every image has a
tag other than `latest`, and with TLS every process has its TLS flags, every
TLS file lies in the role's own mounted Secret (no pod mounts another
role's), the coordinator takes each role's certificate on its own port
only, and probes run `replexctl health` over TLS. Exits 77 (skipped) when
the renderer is not installed.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SKIP = 77
SERVICES = {"coordinator", "gateway", "worker"}
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)
    return condition


def helpfull_flags(binary, option="--helpfull"):
    """The flag names `binary --helpfull` lists (absl exits 1 after help);
    replexctl lists its own with --help."""
    out = subprocess.run([binary, option], capture_output=True,
                         text=True, timeout=60)
    flags = set(re.findall(r"^\s+--([A-Za-z0-9_]+) \(", out.stdout + out.stderr,
                           re.M))
    if not flags:
        sys.exit(f"deploy_test: {binary} --helpfull listed no flags")
    return flags


def parse_flags(args):
    """{name: value} of the --name=value arguments (value None when bare)."""
    flags = {}
    for arg in args:
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            flags[name] = value if _ else None
    return flags


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def seconds(duration):
    """Seconds in a compose duration (40s, 1m30s) or a plain number."""
    if isinstance(duration, (int, float)):
        return float(duration)
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|us|ns|h|m|s)", duration):
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3,
                                  "us": 1e-6, "ns": 1e-9}[unit]
    return total


def check_image(where, image):
    name, _, tag = image.rpartition(":")
    if "/" in tag or not name:  # a registry port, not a tag
        tag = ""
    check(tag and tag != "latest",
          f"{where}: image {image!r} needs an explicit tag other than latest")


def check_service_args(where, args, known):
    """Checks the flags of a replex container (entrypoint's service word
    first); returns (service, flags) or (None, {})."""
    if not args or args[0] not in SERVICES:
        return None, {}
    service = args[0]
    flags = parse_flags(args[1:])
    for arg in args[1:]:
        check(arg.startswith("--"),
              f"{where}: argument {arg!r} is not a --flag")
    for name in flags:
        check(name in known[service],
              f"{where}: replex-{service} has no flag --{name} "
              f"(not in its --helpfull)")
    return service, flags


def check_data_paths(where, flags, mount_paths):
    """The coordinator's journal, checkpoints and results on a volume."""
    paths = {"journal": os.path.dirname(flags.get("journal") or ""),
             "checkpoint_dir": flags.get("checkpoint_dir"),
             "results_root": flags.get("results_root")}
    for flag, path in paths.items():
        on_volume = bool(path) and path.startswith("/") and any(
            path == m or path.startswith(m.rstrip("/") + "/")
            for m in mount_paths)
        check(on_volume, f"{where}: --{flag} ({path!r}) must be an absolute "
              f"path on a volume (mounts: {sorted(mount_paths)})")


# --- docker-compose ---------------------------------------------------------

def compose_config(source, files):
    command = ["docker-compose"]
    for f in files:
        command += ["-f", os.path.join(source, "deploy", f)]
    out = subprocess.run(command + ["config"], capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        problems.append(f"docker-compose {' '.join(files)} config failed:\n"
                        f"{out.stderr}")
        return None
    print(f"docker-compose config accepts {' + '.join(files)}")
    return yaml.safe_load(out.stdout)


def check_compose(config, label, known, gpu):
    services = config.get("services", {})
    for name in ["coordinator", "gateway", "worker", "prometheus", "grafana"]:
        check(name in services, f"{label}: no service {name}")
    listen = {}
    for name, spec in services.items():
        where = f"{label}: service {name}"
        check_image(where, spec.get("image", ""))
        health = spec.get("healthcheck", {})
        check(health.get("test") and not health.get("disable"),
              f"{where}: no health check")
        for published in spec.get("ports", []):
            # docker-compose v1 prints HOST_IP:PUBLISHED:TARGET
            text = published if isinstance(published, str) else str(
                published.get("host_ip", "")) + ":"
            check(text.startswith("127.0.0.1:"),
                  f"{where}: publishes {published!r} beyond 127.0.0.1 by "
                  "default (REPLEX_PUBLISH_ADDRESS opts in)")
        check("--web.enable-lifecycle" not in (spec.get("command") or []),
              f"{where}: Prometheus' lifecycle API lets anyone stop it")
        environment = spec.get("environment") or {}
        if name == "grafana":
            check(environment.get("GF_AUTH_DISABLE_LOGIN_FORM") == "true" and
                  environment.get("GF_AUTH_BASIC_ENABLED") == "false",
                  f"{where}: logins must be off (the default admin/admin)")
        args = spec.get("command") or []
        service, flags = check_service_args(where, args, known)
        if service is None:
            continue
        test = " ".join(health.get("test", []))
        if service in ("coordinator", "gateway"):
            port = port_of(flags.get("listen", ":0"))
            listen[service] = port
            check(re.search(rf"replexctl health 127\.0\.0\.1:{port}\b", test),
                  f"{where}: the health check must run `replexctl health "
                  f"127.0.0.1:{port}` (its --listen port); it runs {test!r}")
        if service == "worker":
            metrics = port_of(flags.get("metrics_listen", ":0"))
            check(f"/dev/tcp/127.0.0.1/{metrics}" in test and "/metrics" in test,
                  f"{where}: the health check must GET /metrics on port "
                  f"{metrics} (--metrics_listen); it runs {test!r}")
            check("container_name" not in spec and not spec.get("ports"),
                  f"{where}: a fixed container_name or published port stops "
                  "--scale worker=N")
            drain = seconds(flags.get("shutdown_grace", "30s"))
            check(seconds(spec.get("stop_grace_period", "10s")) > drain,
                  f"{where}: stop_grace_period must exceed "
                  f"--shutdown_grace={drain:g}")
            devices = (spec.get("deploy", {}).get("resources", {})
                       .get("reservations", {}).get("devices", []))
            has_gpu = any(d.get("driver") == "nvidia" and
                          "gpu" in d.get("capabilities", []) for d in devices)
            if gpu:
                check(has_gpu, f"{where}: no nvidia gpu device reservation")
                check(flags.get("platform") in ("CUDA", "OpenCL"),
                      f"{where}: a GPU worker needs --platform=OpenCL or CUDA")
            else:
                check(flags.get("platform") in ("CPU", "Reference"),
                      f"{where}: the base file's workers run on the CPU")
        if service == "coordinator":
            # docker-compose v1 prints SOURCE:TARGET[:MODE]; a named volume's
            # source is not a path.
            mounts = [v.split(":")[1] for v in spec.get("volumes", [])
                      if not v.startswith(("/", "."))]
            check_data_paths(where, flags, mounts)
        if service == "coordinator":
            listen["workers"] = port_of(flags.get("worker_listen", ":7071"))
        if service in ("gateway", "worker"):
            # Gateways dial JobService, workers the workers' port.
            flag, default = (("listen", 7070) if service == "gateway"
                             else ("worker_listen", 7071))
            port = listen.get("coordinator" if service == "gateway"
                              else "workers", default)
            target = flags.get("coordinator", "")
            check(target == f"coordinator:{port}",
                  f"{where}: --coordinator={target} is not the coordinator "
                  f"service's --{flag} port")


def run_compose(args, known):
    if shutil.which("docker-compose") is None:
        print("SKIP: docker-compose is not installed "
              "(tools/install-deps.sh installs it)")
        return SKIP
    for files, gpu in ((["docker-compose.yml"], False),
                       (["docker-compose.yml", "docker-compose.gpu.yml"], True)):
        config = compose_config(args.source, files)
        if config is not None:
            check_compose(config, " + ".join(files), known, gpu)
    return 0


# --- Kubernetes -------------------------------------------------------------

def kustomize(path):
    out = subprocess.run(["kubectl", "kustomize", path], capture_output=True,
                         text=True, timeout=120)
    if out.returncode != 0:
        problems.append(f"kubectl kustomize {path} failed:\n{out.stderr}")
        return []
    print(f"kubectl kustomize renders {path}")
    return [o for o in yaml.safe_load_all(out.stdout) if o]


def resolve_port(container, port):
    """A probe's port: a number or a container port's name."""
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    return None


TLS_FILE_FLAGS = ("tls_cert", "tls_key", "tls_client_ca", "tls_ca",
                  "tls_client_cert", "tls_client_key")
# The TLS flags each process needs when the coordinator serves mutual TLS.
TLS_NEEDS = {"coordinator": ("tls_cert", "tls_key", "tls_client_ca"),
             "gateway": ("tls_cert", "tls_key", "tls_ca", "tls_client_cert",
                         "tls_client_key"),
             "worker": ("tls_ca", "tls_client_cert", "tls_client_key")}


def check_tls_files(where, flags, pod, container, service):
    """Every TLS file flag names a file of the role's own Secret
    (replex-SERVICE-tls), and the pod mounts no other role's."""
    own = f"replex-{service}-tls"
    tls_secrets = {v["name"]: v["secret"]["secretName"]
                   for v in pod["spec"].get("volumes", [])
                   if v.get("secret", {}).get("secretName", "").endswith(
                       "-tls")}
    for secret in tls_secrets.values():
        check(secret == own, f"{where}: mounts {secret}, another role's "
              f"certificate (only {own} belongs here)")
    mounts = [m["mountPath"].rstrip("/") for m in
              container.get("volumeMounts", []) if m["name"] in tls_secrets]
    for name in TLS_FILE_FLAGS:
        path = flags.get(name)
        if path is not None:
            check(os.path.dirname(path) in mounts,
                  f"{where}: --{name}={path} is not a file of the mounted "
                  f"Secret {own} (mounts: {mounts})")


def check_probe(where, container, probe, port, tls, known):
    """A grpc probe on the --listen port, or with TLS (the kubelet's grpc
    probes speak plaintext only) `replexctl health 127.0.0.1:PORT` over
    TLS."""
    spec = container.get(probe, {})
    if not tls:
        grpc = spec.get("grpc")
        check(grpc and resolve_port(container, grpc.get("port")) == port,
              f"{where}: {probe} must be a grpc probe on the --listen port "
              f"{port}")
        return {}
    command = spec.get("exec", {}).get("command", [])
    check(command[:3] == ["replexctl", "health", f"127.0.0.1:{port}"],
          f"{where}: {probe} must run `replexctl health 127.0.0.1:{port}` "
          f"over TLS; it runs {command!r}")
    flags = parse_flags(command[3:])
    for name in flags:
        check(name in known.get("replexctl", flags),
              f"{where}: {probe}: replexctl has no flag --{name}")
    check("tls_ca" in flags, f"{where}: {probe} needs --tls_ca")
    return flags


def check_hardened(where, pod, container):
    """Non-root, no privilege escalation, a read-only root file system, no
    capabilities, the runtime's seccomp profile and a memory limit."""
    pod_security = pod["spec"].get("securityContext", {})
    security = container.get("securityContext", {})
    check(pod_security.get("runAsNonRoot") is True,
          f"{where}: the pod must set runAsNonRoot")
    check(pod_security.get("seccompProfile", {}).get("type") ==
          "RuntimeDefault", f"{where}: seccompProfile must be RuntimeDefault")
    check(security.get("allowPrivilegeEscalation") is False,
          f"{where}: allowPrivilegeEscalation must be false")
    check(security.get("readOnlyRootFilesystem") is True,
          f"{where}: the root file system must be read-only")
    check(security.get("capabilities", {}).get("drop") == ["ALL"],
          f"{where}: capabilities must drop ALL")
    check(container.get("resources", {}).get("limits", {}).get("memory"),
          f"{where}: no memory limit")


def check_k8s(objects, label, known, gpu, tls=False):
    kinds = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    coordinator_service = kinds.get(("Service", "replex-coordinator"))
    check(coordinator_service, f"{label}: no Service replex-coordinator")
    check(("PodDisruptionBudget", "replex-coordinator") in kinds,
          f"{label}: no PodDisruptionBudget for the coordinator")
    # With TLS the operator's Secret holds the keys: an applied placeholder
    # would empty it.
    if tls:
        check(("Secret", "replex-secrets") not in kinds,
              f"{label}: the placeholder Secret must be left out")
    else:
        check(("Secret", "replex-secrets") in kinds, f"{label}: no Secret")
    seen = set()
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = obj["spec"]["template"]
        claims = [c["metadata"]["name"]
                  for c in obj["spec"].get("volumeClaimTemplates", [])]
        for container in pod["spec"]["containers"]:
            where = f"{label}: {obj['kind']} {obj['metadata']['name']}"
            check_image(where, container.get("image", ""))
            service, flags = check_service_args(
                where, container.get("args", []), known)
            if service is None:
                continue
            seen.add(service)
            check_hardened(where, pod, container)
            ports = {p["containerPort"] for p in container.get("ports", [])}
            metrics = port_of(flags.get("metrics_listen", ":0"))
            check(metrics in ports,
                  f"{where}: --metrics_listen port {metrics} not a containerPort")
            annotations = pod["metadata"].get("annotations", {})
            check(annotations.get("prometheus.io/port") == str(metrics),
                  f"{where}: prometheus.io/port must be {metrics}")
            if tls:
                for name in TLS_NEEDS[service]:
                    check(name in flags, f"{where}: TLS needs --{name}")
            else:
                check(not set(flags) & set(TLS_NEEDS[service]),
                      f"{where}: TLS flags outside the TLS component")
            if service in ("coordinator", "gateway"):
                port = port_of(flags.get("listen", ":0"))
                check(port in ports, f"{where}: --listen port not exposed")
                probes = ["readinessProbe", "livenessProbe"]
                if "startupProbe" in container:
                    probes.append("startupProbe")
                for probe in probes:
                    probe_flags = check_probe(where, container, probe, port,
                                              tls, known)
                    check_tls_files(f"{where} {probe}", probe_flags, pod,
                                    container, service)
                    if "tls_client_ca" in flags:
                        check("tls_client_cert" in probe_flags,
                              f"{where}: {probe} needs a client certificate "
                              "(--tls_client_cert): the server requires one")
            check_tls_files(where, flags, pod, container, service)
            if tls and service == "coordinator":
                # Each port takes its own role's certificate only.
                check(flags.get("gateway_certificate_names") ==
                      "replex-gateway" and
                      flags.get("worker_certificate_names") ==
                      "replex-worker",
                      f"{where}: JobService must take only the gateway's "
                      "certificate and the workers' port only workers'")
            if service == "coordinator":
                mounts = [m["mountPath"] for m in
                          container.get("volumeMounts", [])
                          if m["name"] in claims]
                check_data_paths(where, flags, mounts)
            if service == "coordinator":
                port = port_of(flags.get("worker_listen", ":7071"))
                check(port in ports,
                      f"{where}: --worker_listen port not exposed")
            if service in ("gateway", "worker"):
                # Gateways dial JobService, workers the workers' port.
                name = "grpc" if service == "gateway" else "workers"
                service_port = next((p["port"] for p in
                                     (coordinator_service or {}).get(
                                         "spec", {}).get("ports", [])
                                     if p.get("name") == name), None)
                check(flags.get("coordinator") ==
                      f"replex-coordinator:{service_port}",
                      f"{where}: --coordinator must be the coordinator "
                      f"Service's {name} port ({service_port})")
            if service == "worker":
                live = container.get("livenessProbe", {}).get("httpGet", {})
                check(live.get("path") == "/metrics" and
                      resolve_port(container, live.get("port")) == metrics,
                      f"{where}: liveness must GET /metrics on {metrics}")
                env = {e["name"]: e for e in container.get("env", [])}
                check(flags.get("name") == "$(POD_NAME)" and
                      env.get("POD_NAME", {}).get("valueFrom", {})
                      .get("fieldRef", {}).get("fieldPath") == "metadata.name",
                      f"{where}: --name must come from the pod name "
                      "(downward API)")
                drain = seconds(flags.get("shutdown_grace", "30s"))
                check(pod["spec"].get("terminationGracePeriodSeconds", 30) >
                      drain, f"{where}: terminationGracePeriodSeconds must "
                      f"exceed --shutdown_grace={drain:g}")
                gpus = (container.get("resources", {}).get("limits", {})
                        .get("nvidia.com/gpu"))
                if gpu:
                    check(gpus and int(gpus) >= 1,
                          f"{where}: no nvidia.com/gpu limit")
                    check(flags.get("platform") in ("CUDA", "OpenCL") and
                          container["image"].endswith("-gpu"),
                          f"{where}: GPU workers need the -gpu image and "
                          "--platform=OpenCL or CUDA")
                else:
                    check(not gpus, f"{where}: a GPU limit in the CPU base")
    check(seen == SERVICES, f"{label}: containers for {sorted(SERVICES)}, "
          f"found {sorted(seen)}")


def kustomize_with_tls(k8s, overlay):
    """`overlay` plus components/tls, as docs/deploy.md says to combine
    them (kustomize takes relative paths only)."""
    with tempfile.TemporaryDirectory() as scratch:
        with open(os.path.join(scratch, "kustomization.yaml"), "w") as f:
            f.write(f"resources:\n"
                    f"  - {os.path.relpath(os.path.join(k8s, overlay), scratch)}\n"
                    f"components:\n"
                    f"  - {os.path.relpath(os.path.join(k8s, 'components', 'tls'), scratch)}\n")
        return kustomize(scratch)


def run_k8s(args, known):
    if shutil.which("kubectl") is None:
        print("SKIP: kubectl is not installed (this test renders with "
              "`kubectl kustomize`)")
        return SKIP
    k8s = os.path.join(args.source, "deploy", "k8s")
    check_k8s(kustomize(os.path.join(k8s, "base")), "base", known, False)
    check_k8s(kustomize(os.path.join(k8s, "overlays", "gpu")), "overlays/gpu",
              known, True)
    check_k8s(kustomize(os.path.join(k8s, "overlays", "tls")), "overlays/tls",
              known, False, tls=True)
    check_k8s(kustomize_with_tls(k8s, os.path.join("overlays", "gpu")),
              "overlays/gpu + components/tls", known, True, tls=True)
    # The monitoring component on top of the base.
    objects = kustomize(os.path.join(k8s, "overlays", "monitoring"))
    kinds = {o["kind"] for o in objects}
    check({"ServiceMonitor", "PodMonitor", "PrometheusRule"} <= kinds,
          f"overlays/monitoring: rendered kinds {sorted(kinds)}")
    # The shipped alert rules and dashboards, as the operator and Grafana's
    # sidecar load them, equal to deploy/prometheus/alerts.yml and
    # dashboards/*.json.
    generator = os.path.join(args.source, "tools", "gen-k8s-monitoring.py")
    stale = subprocess.run([sys.executable, generator, "--check"],
                           capture_output=True, text=True)
    check(stale.returncode == 0,
          f"components/monitoring: {stale.stdout.strip() or stale.stderr}")
    with open(os.path.join(args.source, "deploy", "prometheus",
                           "alerts.yml")) as f:
        groups = yaml.safe_load(f)["groups"]
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    check(len(rules) == 1 and rules[0]["spec"]["groups"] == groups,
          "overlays/monitoring: the PrometheusRule holds alerts.yml's groups")
    shipped = {}
    for folder_name in os.listdir(os.path.join(args.source, "dashboards")):
        if folder_name.endswith(".json"):
            with open(os.path.join(args.source, "dashboards", folder_name)) as f:
                shipped[folder_name] = json.load(f)
    rendered = {}
    for o in objects:
        if (o["kind"] == "ConfigMap" and
                o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"):
            rendered.update({k: json.loads(v) for k, v in o["data"].items()})
    check(rendered == shipped,
          f"overlays/monitoring: dashboard ConfigMaps {sorted(rendered)} "
          f"equal dashboards/ {sorted(shipped)}")
    metrics_services = [o for o in objects if o["kind"] == "Service" and
                        any(p.get("name") == "metrics"
                            for p in o["spec"]["ports"])]
    check(len(metrics_services) == 2,
          "overlays/monitoring: the coordinator and gateway Services name a "
          "`metrics` port for the ServiceMonitor")
    # The job labels the operator gives the targets: a ServiceMonitor's are
    # the Services' names, a PodMonitor's its jobLabel's value on the pods
    # (else "<namespace>/<name>"). Every job="..." the shipped alerts and
    # dashboards ask for must be one of them.
    jobs = {o["metadata"]["name"] for o in metrics_services}
    pods = [o["spec"]["template"]["metadata"].get("labels", {})
            for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    for monitor in (o for o in objects if o["kind"] == "PodMonitor"):
        label = monitor["spec"].get("jobLabel")
        wanted = monitor["spec"]["selector"].get("matchLabels", {})
        for labels in pods:
            if all(labels.get(k) == v for k, v in wanted.items()):
                jobs.add(labels.get(label) if label else
                         f"replex/{monitor['metadata']['name']}")
    asked = set()
    for path in [os.path.join(args.source, "deploy", "prometheus", "alerts.yml")] + [
            os.path.join(args.source, "dashboards", name)
            for name in os.listdir(os.path.join(args.source, "dashboards"))
            if name.endswith(".json")]:
        with open(path) as f:
            asked |= set(re.findall(r'job=\\?"([^"\\]+)', f.read()))
    check(asked and asked <= jobs,
          f"overlays/monitoring: alerts and dashboards ask for jobs "
          f"{sorted(asked - jobs)} that no monitor's targets are labelled "
          f"with (they are {sorted(jobs)})")
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=["compose", "k8s"])
    parser.add_argument("--source", required=True)
    parser.add_argument("--bin", action="append", default=[],
                        help="SERVICE=PATH of replex-SERVICE")
    args = parser.parse_args()
    args.source = os.path.abspath(args.source)
    binaries = dict(b.split("=", 1) for b in args.bin)
    known = {s: helpfull_flags(binaries[s]) for s in SERVICES}
    if "replexctl" in binaries:
        known["replexctl"] = helpfull_flags(binaries["replexctl"], "--help")
    status = (run_compose if args.target == "compose" else run_k8s)(args, known)
    if status == SKIP:
        return SKIP
    for problem in problems:
        print(f"FAIL: {problem}")
    print(f"deploy_test {args.target}: "
          f"{'FAILED, ' + str(len(problems)) + ' problems' if problems else 'all checks passed'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
