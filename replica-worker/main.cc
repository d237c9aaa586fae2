// `replex-worker`: one process per node or GPU group. Dials out to the
// coordinator, hosts the replicas it is given and runs their segments on
// OpenMM; drains gracefully on SIGTERM. Holds nothing durable.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "lib/engine/engine.h"
#include "lib/metrics/metrics_flags.h"
#include "lib/service/auth.h"
#include "lib/service/process.h"
#include "lib/service/process_flags.h"
#include "lib/service/server.h"
#include "lib/threads/slot_pool.h"
#include "replica-worker/fault_injection.h"
#include "replica-worker/gpu_sharing.h"
#include "replica-worker/grpc_coordinator_client.h"
#include "replica-worker/replica_host.h"
#include "replica-worker/session.h"
#include "replica-worker/worker_metrics.h"

ABSL_FLAG(std::string, coordinator, "localhost:7071",
          "host:port of the coordinator's workers' port (its "
          "--worker_listen). The worker dials out to it and reconnects with "
          "backoff whenever the stream breaks.");
ABSL_FLAG(std::string, token_file, "",
          "File holding this worker's token, one of the coordinator's "
          "--worker_tokens_file (needed when the coordinator has one).");
ABSL_FLAG(std::string, name, "",
          "Worker name sent in Register, stable across reconnects (a pod or "
          "host name). Default: HOSTNAME-PID.");
ABSL_FLAG(std::string, platform, "CPU",
          "OpenMM platform this worker advertises and runs (Reference, CPU, "
          "OpenCL, CUDA). Checked at start: the worker exits with status 2 "
          "if OpenMM cannot create it here.");
ABSL_FLAG(std::string, devices, "",
          "Comma-separated OpenCL/CUDA device indices. Advertised in "
          "Register; each replica's Context runs on one of them (DeviceIndex: "
          "its slot's, slot s on device s mod devices) unless the job's "
          "platform_properties sets DeviceIndex. Give --slots a multiple of "
          "the device count (docs/worker.md: sizing).");
ABSL_FLAG(int, slots, 1,
          "Segments run at once. Hosted replicas are multiplexed over the "
          "slots; on the CPU platform each Context gets cores/slots threads "
          "unless the job sets Threads.");
ABSL_FLAG(bool, pin_slots, false,
          "Pin each slot thread, and the OpenMM threads of the Contexts of "
          "the replicas it runs, to its own share of this process's CPUs "
          "(CPUs/slots each); a pinned slot runs only its own replicas. For "
          "a machine the worker has to itself: on the CPU platform a "
          "Context's pool thread then never waits for another core. "
          "Containers sharing a node's CPUs should leave it off.");
ABSL_FLAG(int, max_replicas, 256,
          "Replicas (OpenMM Contexts) this worker hosts at once; advertised "
          "in Register. Replicas beyond it fail their orders with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, initial_backoff_ms, 500,
          "First reconnect delay; doubles per consecutive failure, with "
          "jitter (each wait is 50-100% of the current delay).");
ABSL_FLAG(int, max_backoff_ms, 30000, "Longest reconnect delay.");
ABSL_FLAG(int64_t, test_inject_nan, -1,
          "For tests only: the first segment of this round that this process "
          "runs reports a NaN potential energy, once. -1: never.");
ABSL_FLAG(int64_t, test_crash_in_round, -1,
          "For tests only: when the first segment of this round that this "
          "process runs is done, the process exits at once with status 70, "
          "as if the job had crashed it. -1: never.");

namespace replex::worker {
namespace {

constexpr char kUsage[] =
    "Runs replica-exchange segments for a replex coordinator.\n\n"
    "Usage:\n"
    "  replex-worker [--coordinator=HOST:7071] [--token_file=FILE]\n"
    "      [--platform=CPU] [--slots=N]\n"
    "      [--shutdown_grace=30s] [--metrics_listen=0.0.0.0:9466]\n"
    "      [--tls_ca=PEM [--tls_client_cert=PEM --tls_client_key=PEM]]\n\n"
    "On SIGTERM the worker hands its replicas back to the coordinator and\n"
    "exits within --shutdown_grace.\n\n"
    "See docs/worker.md.";

std::string Hostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "worker";
  return buffer;
}

// INVALID_ARGUMENT naming every flag that makes no sense.
absl::Status CheckFlags() {
  std::vector<std::string> problems;
  if (absl::GetFlag(FLAGS_slots) < 1) {
    problems.push_back("--slots must be >= 1");
  }
  if (absl::GetFlag(FLAGS_max_replicas) < 1) {
    problems.push_back("--max_replicas must be >= 1");
  }
  if (absl::GetFlag(FLAGS_initial_backoff_ms) < 1 ||
      absl::GetFlag(FLAGS_max_backoff_ms) <
          absl::GetFlag(FLAGS_initial_backoff_ms)) {
    problems.push_back(
        "--initial_backoff_ms must be >= 1 and --max_backoff_ms >= it");
  }
  if (absl::GetFlag(FLAGS_coordinator).empty()) {
    problems.push_back("--coordinator must name HOST:PORT");
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

// INVALID_ARGUMENT unless OpenMM can create the platform here: a worker that
// advertises a platform it cannot run fails every job it gets.
absl::Status CheckPlatform(const std::string& platform) {
  const std::vector<std::string> available = engine::AvailablePlatforms();
  if (std::find(available.begin(), available.end(), platform) !=
      available.end()) {
    return absl::OkStatus();
  }
  std::string message = absl::StrCat(
      "--platform=", platform,
      " is not available here; available: ", absl::StrJoin(available, ", "));
  const std::vector<std::string> failures = engine::PluginLoadFailures();
  if (!failures.empty()) {
    absl::StrAppend(&message, " (plugins that failed to load: ",
                    absl::StrJoin(failures, "; "), ")");
  }
  return absl::InvalidArgumentError(message);
}

absl::Status Serve() {
  if (absl::Status status = CheckFlags(); !status.ok()) return status;
  const std::string platform = absl::GetFlag(FLAGS_platform);
  if (absl::Status status = CheckPlatform(platform); !status.ok()) {
    return status;
  }
  absl::StatusOr<int> max_message_bytes = service::MaxMessageBytesFromFlags();
  if (!max_message_bytes.ok()) return max_message_bytes.status();
  absl::StatusOr<absl::Duration> grace = service::ShutdownGraceFromFlags();
  if (!grace.ok()) return grace.status();

  const std::string hostname = Hostname();
  std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) name = absl::StrCat(hostname, "-", getpid());
  const std::vector<std::string> devices =
      absl::StrSplit(absl::GetFlag(FLAGS_devices), ',', absl::SkipEmpty());
  const int slots = absl::GetFlag(FLAGS_slots);

  ChannelOptions channel;
  channel.target = absl::GetFlag(FLAGS_coordinator);
  channel.max_message_bytes = *max_message_bytes;
  channel.initial_backoff =
      absl::Milliseconds(absl::GetFlag(FLAGS_initial_backoff_ms));
  channel.max_backoff = absl::Milliseconds(absl::GetFlag(FLAGS_max_backoff_ms));
  absl::StatusOr<service::ChannelSecurity> security =
      service::ChannelSecurityFromFlags();
  if (!security.ok()) return security.status();
  channel.security = *std::move(security);
  absl::StatusOr<std::string> token =
      service::ReadTokenFile(absl::GetFlag(FLAGS_token_file), "--token_file");
  if (!token.ok()) return token.status();
  channel.token = *std::move(token);
  GrpcCoordinatorClient grpc_client(channel);
  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server =
      metrics::StartFromFlags();
  if (!metrics_server.ok()) return metrics_server.status();
  WorkerMetrics worker_metrics((*metrics_server)->registry());
  MetricsCoordinatorClient client(&worker_metrics, &grpc_client);

  SessionOptions options;
  v1::Register& registration = options.registration;
  registration.set_worker_name(name);
  registration.set_slots(slots);
  registration.set_max_replicas(absl::GetFlag(FLAGS_max_replicas));
  registration.set_platform(platform);
  for (const std::string& device : devices) registration.add_devices(device);
  registration.set_hostname(hostname);
  registration.set_openmm_plugins(engine::PluginSummary());
  service::Log("%s", registration.openmm_plugins());
  worker_metrics.RecordPlugins(engine::Plugins());
  options.initial_backoff = channel.initial_backoff;
  options.max_backoff = channel.max_backoff;
  options.jitter_seed = std::random_device()();
  options.drain_grace = *grace;
  Session session(&client, options);

  HostOptions host_options;
  host_options.slots = slots;
  host_options.max_replicas = registration.max_replicas();
  host_options.devices = devices;
  MetricsHostOutput output(&worker_metrics, &session);
  const int64_t nan_round = absl::GetFlag(FLAGS_test_inject_nan);
  const int64_t crash_round = absl::GetFlag(FLAGS_test_crash_in_round);
  FaultInjectingOutput faulty(
      crash_round >= 0 ? FaultInjectingOutput::Fault::kCrash
                       : FaultInjectingOutput::Fault::kNan,
      crash_round >= 0 ? crash_round : nan_round, &output);
  ReplicaHost host(host_options,
                   std::make_unique<threads::SlotPool>(
                       slots, absl::GetFlag(FLAGS_pin_slots)),
                   nan_round >= 0 || crash_round >= 0
                       ? static_cast<HostOutput*>(&faulty)
                       : &output);
  (*metrics_server)->Add(HostGauges(&host, slots));

  service::Log("worker %s: %d slots on %s, coordinator %s (%s)", name, slots,
               platform, channel.target,
               channel.security.tls() ? "TLS" : "plaintext");
  // An unreadable path counts as no MPS, not as a reason to stop.
  std::error_code unreadable;
  const bool mps_running =
      std::filesystem::exists(MpsControlPipe(), unreadable);
  if (std::optional<std::string> warning = GpuSharingWarning(
          platform, slots, static_cast<int>(devices.size()), mps_running);
      warning.has_value()) {
    service::Log("warning: %s", *warning);
  }
  // Only blocks on the signal pipe; never joined (the process exits).
  std::thread([&session] {
    service::WaitForTerminationSignal();
    service::Log("termination requested: draining");
    session.Drain();
  }).detach();
  session.Run(&host);
  (*metrics_server)->Stop();  // no scrape reads the host from here on

  if (!host.idle()) {
    // The grace period is over; a segment cannot be interrupted midway and
    // nothing here is durable, so leave without waiting for it.
    service::Log("exiting with segments still running");
    std::fflush(stderr);
    std::_Exit(0);
  }
  service::Log("exiting");
  return absl::OkStatus();
}

}  // namespace
}  // namespace replex::worker

int main(int argc, char** argv) {
  replex::metrics::SetListenDefault("0.0.0.0:9466");
  replex::service::SetShutdownGraceDefault(absl::Seconds(30));
  return replex::service::RunProcess(
      argc, argv, {"replex-worker", replex::worker::kUsage},
      [](const std::vector<std::string>&) { return replex::worker::Serve(); });
}
