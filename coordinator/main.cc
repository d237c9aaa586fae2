// `replex-coordinator`: owns jobs and the replica-workers that run them.
// Serves replex.v1.JobService (for the gateway and for replexctl) and
// replex.v1.Coordinator (workers dial in) on one port, with health checking
// and reflection; shuts down gracefully on SIGTERM.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "coordinator/coordinator_service.h"
#include "coordinator/job_manager.h"
#include "coordinator/log.h"
#include "coordinator/metrics_observer.h"
#include "coordinator/results_observer.h"
#include "coordinator/worker_registry.h"
#include "lib/metrics/metrics.h"
#include "lib/service/server.h"
#include "lib/service/tls_flags.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/sqlite_journal.h"
#include "lib/timing/clock.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:7070",
          "host:port to serve JobService and Coordinator (workers' sessions) "
          "on; port 0 picks a free port (see --port_file).");
ABSL_FLAG(std::string, port_file, "",
          "After binding, write the bound port (a decimal number and a "
          "newline) to this file; for tests and scripts using port 0.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(5),
          "How often the coordinator sends each worker a heartbeat; workers "
          "are asked (in Welcome) to send theirs as often.");
ABSL_FLAG(absl::Duration, heartbeat_timeout, absl::Seconds(30),
          "A worker heard nothing from for this long is lost: its session "
          "ends and the jobs it hosts replicas of roll back to their last "
          "checkpoints on the other workers. Must exceed "
          "--heartbeat_interval.");
ABSL_FLAG(int, max_message_bytes, 64 << 20,
          "Largest gRPC message received or sent, in bytes. Job specs carry "
          "the System XML inline and moving replicas carry their state.");
ABSL_FLAG(std::string, journal, "replex-data/journal.sqlite",
          "SQLite journal (WAL) of jobs, rounds, checkpoints and epochs; "
          "created if missing. A coordinator started on an existing journal "
          "resumes its unfinished jobs from their last checkpoints.");
ABSL_FLAG(std::string, checkpoint_dir, "replex-data/checkpoints",
          "Directory for checkpoint files (portable replica states plus the "
          "permutation, every checkpoint_interval rounds of a job); created "
          "if missing. Keep it with the journal (e.g. on one volume).");
ABSL_FLAG(std::string, results_root, "replex-data/results",
          "Directory under which each job's results are written "
          "(docs/results.md): output.directory of its spec, or its job id "
          "when that is empty; created if missing.");
ABSL_FLAG(int, max_replica_restarts, 3,
          "How many times a job's replicas may fail (NaN or Inf energy, an "
          "integration error) and restart from its last checkpoint before "
          "the job fails.");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9464",
          "host:port to serve Prometheus metrics on (/metrics); port 0 "
          "picks a free port (see --metrics_port_file); empty disables.");
ABSL_FLAG(std::string, metrics_port_file, "",
          "After binding the metrics port, write it (a decimal number and a "
          "newline) to this file; for tests using port 0.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM, how long in-flight RPCs get to finish before they "
          "are cancelled.");

namespace replex::coordinator {
namespace {

constexpr char kUsage[] =
    "Runs the replex coordinator: it queues jobs, places their replicas on "
    "the replica-workers that connect to it, and runs the exchange.\n\n"
    "Usage:\n"
    "  replex-coordinator [--listen=0.0.0.0:7070] [--port_file=FILE]\n"
    "      [--heartbeat_interval=5s] [--heartbeat_timeout=30s]\n"
    "      [--max_message_bytes=N] [--shutdown_grace=10s]\n"
    "      [--journal=replex-data/journal.sqlite]\n"
    "      [--checkpoint_dir=replex-data/checkpoints] "
    "[--max_replica_restarts=3]\n"
    "      [--results_root=replex-data/results]\n"
    "      [--metrics_listen=0.0.0.0:9464] [--metrics_port_file=FILE]\n"
    "      [--tls_cert=PEM --tls_key=PEM [--tls_client_ca=PEM]]";

int Main(int argc, char** argv) {
  service::InstallTerminationHandlers();
  absl::SetProgramUsageMessage(kUsage);
  absl::ParseCommandLine(argc, argv);

  WorkerRegistry::Options options;
  options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.heartbeat_timeout = absl::GetFlag(FLAGS_heartbeat_timeout);
  if (options.heartbeat_interval <= absl::ZeroDuration() ||
      options.heartbeat_timeout <= options.heartbeat_interval) {
    std::fprintf(stderr,
                 "replex-coordinator: --heartbeat_interval must be positive "
                 "and --heartbeat_timeout longer than it (got %s and %s)\n",
                 absl::FormatDuration(options.heartbeat_interval).c_str(),
                 absl::FormatDuration(options.heartbeat_timeout).c_str());
    return 2;
  }
  service::ServerOptions server_options;
  server_options.address = absl::GetFlag(FLAGS_listen);
  server_options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (server_options.max_message_bytes < 1) {
    std::fprintf(stderr,
                 "replex-coordinator: --max_message_bytes must be positive\n");
    return 2;
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      service::ServerCredentialsFromFlags();
  if (!credentials.ok()) {
    std::fprintf(stderr, "replex-coordinator: %s\n",
                 std::string(credentials.status().message()).c_str());
    return 2;
  }
  server_options.credentials = *std::move(credentials);

  if (absl::GetFlag(FLAGS_max_replica_restarts) < 0) {
    std::fprintf(stderr,
                 "replex-coordinator: --max_replica_restarts must be >= 0\n");
    return 2;
  }
  absl::StatusOr<std::unique_ptr<store::SqliteJournal>> journal =
      store::SqliteJournal::Open(absl::GetFlag(FLAGS_journal));
  absl::StatusOr<int64_t> incarnation =
      journal.ok() ? (*journal)->NextIncarnation() : journal.status();
  if (!incarnation.ok()) {
    std::fprintf(stderr, "replex-coordinator: %s (--journal)\n",
                 std::string(incarnation.status().message()).c_str());
    return 1;
  }
  store::FileCheckpointStore checkpoints(absl::GetFlag(FLAGS_checkpoint_dir));
  // Created now, so that an unwritable directory stops the start rather
  // than the first checkpoint.
  std::error_code dir_error;
  std::filesystem::create_directories(checkpoints.dir(), dir_error);
  if (dir_error) {
    std::fprintf(stderr,
                 "replex-coordinator: cannot create %s: %s "
                 "(--checkpoint_dir)\n",
                 checkpoints.dir().c_str(), dir_error.message().c_str());
    return 1;
  }
  const std::filesystem::path results_root = absl::GetFlag(FLAGS_results_root);
  std::filesystem::create_directories(results_root, dir_error);
  if (dir_error) {
    std::fprintf(stderr,
                 "replex-coordinator: cannot create %s: %s (--results_root)\n",
                 results_root.c_str(), dir_error.message().c_str());
    return 1;
  }
  ResultsObserver results_observer(results_root);
  // Epochs of this incarnation exceed every epoch issued before.
  options.epoch_base = *incarnation << 32;

  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server =
      metrics::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_listen),
                                    absl::GetFlag(FLAGS_metrics_port_file));
  if (!metrics_server.ok()) {
    std::fprintf(stderr, "replex-coordinator: %s\n",
                 std::string(metrics_server.status().message()).c_str());
    return 1;
  }
  CoordinatorMetrics coordinator_metrics((*metrics_server)->registry());
  MetricsObserver metrics_observer(&coordinator_metrics);
  options.metrics = &coordinator_metrics;
  server_options.metrics = &(*metrics_server)->registry();

  WorkerRegistry registry(options, timing::Clock::Real());
  std::random_device entropy;
  JobDurability durability;
  durability.journal = journal->get();
  durability.checkpoints = &checkpoints;
  durability.max_replica_restarts = absl::GetFlag(FLAGS_max_replica_restarts);
  JobManager jobs(&registry, timing::Clock::Real(),
                  (uint64_t{entropy()} << 32) | entropy(), {&metrics_observer, &results_observer},
                  durability);
  if (absl::Status recovered = jobs.Recover(); !recovered.ok()) {
    std::fprintf(stderr, "replex-coordinator: %s (--journal)\n",
                 std::string(recovered.message()).c_str());
    return 1;
  }
  LogLine(absl::StrCat("journal ", absl::GetFlag(FLAGS_journal),
                       " (incarnation ", *incarnation, "), checkpoints in ",
                       checkpoints.dir()));
  JobServiceImpl job_service(&jobs, &results_observer);
  SessionServiceImpl session_service(&registry);
  absl::StatusOr<service::RunningServer> server =
      service::StartServer(server_options, {&job_service, &session_service});
  if (!server.ok()) {
    std::fprintf(stderr, "replex-coordinator: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    if (absl::Status written = service::WritePortFile(port_file, server->port);
        !written.ok()) {
      std::fprintf(stderr, "replex-coordinator: %s\n",
                   std::string(written.message()).c_str());
      server->server->Shutdown();
      return 1;
    }
  }
  LogLine(absl::StrCat("replex-coordinator ", REPLEX_VERSION,
                       " listening on port ", server->port, " (",
                       server_options.address, ", ",
                       server_options.credentials != nullptr ? "TLS"
                                                             : "plaintext",
                       ")"));
  (*metrics_server)->Add(ClusterGauges(&registry, &jobs));
  if ((*metrics_server)->port() != 0) {
    LogLine(absl::StrCat("metrics on port ", (*metrics_server)->port()));
  }

  {
    timing::PeriodicTicker ticker(options.heartbeat_interval,
                          [&registry] { registry.Tick(); });
    service::WaitForTerminationSignal();
  }
  LogLine("shutting down");
  (*metrics_server)->Stop();  // no scrape reads the jobs and workers below
  // Job threads and sessions end first so that the server's graceful
  // shutdown is not left waiting on streams that would never end. Jobs
  // first: they stop as interrupted (their states stay as they are), where
  // a registry shut down under them would fail their rounds.
  jobs.Shutdown();
  registry.Shutdown();
  server->server->Shutdown(
      std::chrono::system_clock::now() +
      absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_shutdown_grace)));
  LogLine("stopped");
  return 0;
}

}  // namespace
}  // namespace replex::coordinator

int main(int argc, char** argv) {
  return replex::coordinator::Main(argc, argv);
}
