// `replex-coordinator`: owns jobs and the replica-workers that run them.
// Serves replex.v1.JobService (for the gateway) on --listen and
// replex.v1.Coordinator (workers dial in) on --worker_listen, each with
// health checking and reflection; shuts down gracefully on SIGTERM.
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "coordinator/coordinator_server.h"
#include "lib/metrics/metrics_flags.h"
#include "lib/service/auth.h"
#include "lib/service/process.h"
#include "lib/service/process_flags.h"
#include "lib/service/server.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/sqlite_journal.h"

ABSL_DECLARE_FLAG(std::string, tls_client_ca);

ABSL_FLAG(std::string, worker_listen, "0.0.0.0:7071",
          "host:port of the workers' port (replex.v1.Coordinator), apart "
          "from JobService's --listen so that each can be kept to its "
          "callers; port 0 picks a free one (see --worker_port_file).");
ABSL_FLAG(std::string, worker_port_file, "",
          "After binding, write the workers' bound port to this file.");
ABSL_FLAG(std::string, gateway_token_file, "",
          "File holding the token JobService callers must present (the "
          "gateway's --coordinator_token_file): set, only gateways are "
          "answered, each call for the user the gateway authenticated. "
          "Empty: anyone who reaches --listen acts on every job.");
ABSL_FLAG(std::string, worker_tokens_file, "",
          "Workers' credentials, one per line: TOKEN WORKER_NAME, or TOKEN * "
          "for any name (docs/security.md). Set: a worker must present one "
          "(its --token_file) and registers only under that name. Empty: "
          "anyone who reaches --worker_listen can register as a worker.");
ABSL_FLAG(std::vector<std::string>, gateway_certificate_names, {},
          "Under mutual TLS (--tls_client_ca): the Common Names of the client "
          "certificates JobService takes, e.g. replex-gateway, so that a "
          "worker's certificate cannot call it. Empty: any certificate the "
          "CA signed.");
ABSL_FLAG(std::vector<std::string>, worker_certificate_names, {},
          "Under mutual TLS (--tls_client_ca): the Common Names of the client "
          "certificates the workers' port takes, e.g. replex-worker, so that "
          "a gateway's certificate cannot register as a worker. Empty: any "
          "certificate the CA signed.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(5),
          "How often the coordinator sends each worker a heartbeat; workers "
          "are asked (in Welcome) to send theirs as often.");
ABSL_FLAG(absl::Duration, heartbeat_timeout, absl::Seconds(30),
          "A worker heard nothing from for this long is lost: its session "
          "ends and the jobs it hosts replicas of roll back to their last "
          "checkpoints on the other workers. Must exceed "
          "--heartbeat_interval.");
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
ABSL_FLAG(absl::Duration, backfill_window, absl::Minutes(30),
          "A queued job that does not fit the free room holds later jobs of "
          "its platform back only once it has waited this long; before, "
          "they start past it (backfill). 0: strict submission order.");
ABSL_FLAG(int, max_running_replicas_per_owner, 0,
          "Replicas one owner's jobs may run at once, over every platform; a "
          "job that would pass it waits, saying so, and one larger than it "
          "is refused. 0: no limit. Owners are the authenticated users "
          "(docs/security.md).");
ABSL_FLAG(int, max_queued_jobs_per_owner, 0,
          "Jobs one owner may have queued at once; SubmitJob past it is "
          "RESOURCE_EXHAUSTED. 0: no limit.");
ABSL_FLAG(double, max_results_gib_per_owner, 0,
          "Results disk one owner may keep under --results_root, in GiB: a "
          "job is refused at submission when the owner's results (unfinished "
          "jobs counted at their estimated final size) and its own estimate "
          "would pass it. 0: no quota.");
ABSL_FLAG(int, max_worker_losses, 3,
          "A job that loses workers holding its replicas more than this "
          "many times before it gets past the round it lost the last one in "
          "fails with the reason, so an input that crashes workers does not "
          "roll back forever. Workers lost together count once; losses "
          "spread over a job's progress (preemptions) never add up.");
ABSL_FLAG(int, max_replica_restarts, 3,
          "How many times a job's replicas may fail (NaN or Inf energy, an "
          "integration error) and restart from its last checkpoint before "
          "the job fails.");

namespace replex::coordinator {
namespace {

constexpr char kUsage[] =
    "Runs the replex coordinator: it queues jobs, places their replicas on "
    "the replica-workers that connect to it, and runs the exchange.\n\n"
    "Usage:\n"
    "  replex-coordinator [--listen=0.0.0.0:7070] [--port_file=FILE]\n"
    "      [--worker_listen=0.0.0.0:7071] [--worker_port_file=FILE]\n"
    "      [--gateway_token_file=FILE] [--worker_tokens_file=FILE]\n"
    "      [--heartbeat_interval=5s] [--heartbeat_timeout=30s]\n"
    "      [--max_message_bytes=N] [--shutdown_grace=10s]\n"
    "      [--journal=replex-data/journal.sqlite]\n"
    "      [--checkpoint_dir=replex-data/checkpoints] "
    "[--max_replica_restarts=3]\n"
    "      [--max_worker_losses=3] [--backfill_window=30m]\n"
    "      [--max_running_replicas_per_owner=N] "
    "[--max_queued_jobs_per_owner=N]\n"
    "      [--results_root=replex-data/results]\n"
    "      [--metrics_listen=0.0.0.0:9464] [--metrics_port_file=FILE]\n"
    "      [--tls_cert=PEM --tls_key=PEM [--tls_client_ca=PEM]]";

absl::Status Serve() {
  CoordinatorServerOptions options;
  options.registry.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.registry.heartbeat_timeout = absl::GetFlag(FLAGS_heartbeat_timeout);
  if (options.registry.heartbeat_interval <= absl::ZeroDuration() ||
      options.registry.heartbeat_timeout <=
          options.registry.heartbeat_interval) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--heartbeat_interval must be positive and --heartbeat_timeout "
        "longer than it (got ",
        absl::FormatDuration(options.registry.heartbeat_interval), " and ",
        absl::FormatDuration(options.registry.heartbeat_timeout), ")"));
  }
  options.max_replica_restarts = absl::GetFlag(FLAGS_max_replica_restarts);
  if (options.max_replica_restarts < 0) {
    return absl::InvalidArgumentError("--max_replica_restarts must be >= 0");
  }
  options.scheduling.backfill_window = absl::GetFlag(FLAGS_backfill_window);
  if (options.scheduling.backfill_window < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--backfill_window must be >= 0");
  }
  options.scheduling.max_running_replicas_per_owner =
      absl::GetFlag(FLAGS_max_running_replicas_per_owner);
  options.scheduling.max_queued_jobs_per_owner =
      absl::GetFlag(FLAGS_max_queued_jobs_per_owner);
  if (options.scheduling.max_running_replicas_per_owner < 0 ||
      options.scheduling.max_queued_jobs_per_owner < 0) {
    return absl::InvalidArgumentError(
        "--max_running_replicas_per_owner and --max_queued_jobs_per_owner "
        "must be >= 0 (0: no limit)");
  }
  options.max_worker_losses = absl::GetFlag(FLAGS_max_worker_losses);
  if (options.max_worker_losses < 0) {
    return absl::InvalidArgumentError("--max_worker_losses must be >= 0");
  }
  absl::StatusOr<service::ListenFlags> listen = service::ListenFromFlags();
  if (!listen.ok()) return listen.status();
  options.address = listen->address;
  absl::StatusOr<int> max_message_bytes = service::MaxMessageBytesFromFlags();
  if (!max_message_bytes.ok()) return max_message_bytes.status();
  options.max_message_bytes = *max_message_bytes;
  absl::StatusOr<absl::Duration> grace = service::ShutdownGraceFromFlags();
  if (!grace.ok()) return grace.status();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      service::ServerCredentialsFromFlags();
  if (!credentials.ok()) return credentials.status();
  options.credentials = *std::move(credentials);
  const std::vector<std::string> gateway_names =
      absl::GetFlag(FLAGS_gateway_certificate_names);
  const std::vector<std::string> worker_names =
      absl::GetFlag(FLAGS_worker_certificate_names);
  if ((!gateway_names.empty() || !worker_names.empty()) &&
      absl::GetFlag(FLAGS_tls_client_ca).empty()) {
    return absl::InvalidArgumentError(
        "--gateway_certificate_names and --worker_certificate_names need "
        "--tls_client_ca: only verified client certificates have names to "
        "check");
  }
  options.gateway_certificate_names.insert(gateway_names.begin(),
                                           gateway_names.end());
  options.worker_certificate_names.insert(worker_names.begin(),
                                          worker_names.end());
  options.worker_address = absl::GetFlag(FLAGS_worker_listen);
  if (options.worker_address.empty()) {
    return absl::InvalidArgumentError(
        "--worker_listen is empty; give host:port (port 0 picks a free one)");
  }
  absl::StatusOr<std::string> gateway_token = service::ReadTokenFile(
      absl::GetFlag(FLAGS_gateway_token_file), "--gateway_token_file");
  if (!gateway_token.ok()) return gateway_token.status();
  options.gateway_token = *std::move(gateway_token);
  absl::StatusOr<std::optional<service::Tokens>> worker_tokens =
      service::Tokens::Read(absl::GetFlag(FLAGS_worker_tokens_file),
                            "--worker_tokens_file",
                            service::Tokens::Kind::kWorkers);
  if (!worker_tokens.ok()) return worker_tokens.status();
  if (worker_tokens->has_value()) options.worker_tokens = &**worker_tokens;

  const std::string journal_path = absl::GetFlag(FLAGS_journal);
  absl::StatusOr<std::unique_ptr<store::SqliteJournal>> journal =
      store::SqliteJournal::Open(journal_path);
  if (!journal.ok()) {
    return absl::Status(
        journal.status().code(),
        absl::StrCat(journal.status().message(), " (--journal)"));
  }
  options.journal = journal->get();
  store::FileCheckpointStore checkpoints(absl::GetFlag(FLAGS_checkpoint_dir));
  options.checkpoints = &checkpoints;
  options.results_root = absl::GetFlag(FLAGS_results_root);
  const double quota_gib = absl::GetFlag(FLAGS_max_results_gib_per_owner);
  if (!(quota_gib >= 0) || quota_gib > 1e9) {
    return absl::InvalidArgumentError(
        "--max_results_gib_per_owner must be from 0 (no quota) to 1e9");
  }
  options.max_results_bytes_per_owner =
      static_cast<uint64_t>(quota_gib * double(uint64_t{1} << 30));
  std::random_device entropy;
  options.job_id_seed = (uint64_t{entropy()} << 32) | entropy();

  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server =
      metrics::StartFromFlags();
  if (!metrics_server.ok()) return metrics_server.status();
  options.metrics = metrics_server->get();

  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
      CoordinatorServer::Start(options);
  if (!server.ok()) return server.status();
  service::Log("journal %s (incarnation %d), checkpoints in %s", journal_path,
               (*server)->incarnation(), checkpoints.dir());
  service::Log(
      "replex-coordinator %s: JobService on port %d (%s, %s, %s), workers on "
      "port %d (%s, %s)",
      REPLEX_VERSION, (*server)->port(), options.address,
      options.credentials != nullptr ? "TLS" : "plaintext",
      options.gateway_token.empty() ? "open to every caller"
                                    : "gateways with the token only",
      (*server)->worker_port(), options.worker_address,
      worker_tokens->has_value() ? "workers with tokens only"
                                 : "open to every worker");
  if (const std::string file = absl::GetFlag(FLAGS_worker_port_file);
      !file.empty()) {
    if (absl::Status written =
            service::WritePortFile(file, (*server)->worker_port());
        !written.ok()) {
      return written;
    }
  }
  if ((*metrics_server)->port() != 0) {
    service::Log("metrics on port %d", (*metrics_server)->port());
  }

  absl::Status served = service::ServeUntilTerminated(
      listen->port_file, (*server)->port(), *grace,
      [&](absl::Time deadline) { (*server)->Shutdown(deadline); });
  service::Log("stopped");
  return served;
}

}  // namespace
}  // namespace replex::coordinator

int main(int argc, char** argv) {
  replex::service::SetListenDefault("0.0.0.0:7070");
  replex::metrics::SetListenDefault("0.0.0.0:9464");
  return replex::service::RunProcess(
      argc, argv, {"replex-coordinator", replex::coordinator::kUsage},
      [](const std::vector<std::string>&) {
        return replex::coordinator::Serve();
      });
}
