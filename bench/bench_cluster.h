// The replex cluster on loopback for benchmarks: coordinator, gateway and
// workers as processes, jobs submitted through the gateway and timed to
// their end.
#pragma once

#include <signal.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "grpcpp/grpcpp.h"
#include "replex/v1/job_service.grpc.pb.h"
#include "tests/process.h"

namespace replex::bench {

class Cluster {
 public:
  // Starts the coordinator (journal, checkpoints and results in a fresh
  // directory under /tmp), the gateway and a worker per entry of `workers`:
  // each one's command line prefix (e.g. {"taskset", "-c", "1"}, or none)
  // and its own flags after --coordinator; binaries from `bin` (a build
  // directory).
  struct WorkerCommand {
    std::vector<std::string> prefix;
    std::vector<std::string> flags;
  };
  absl::Status Start(const std::string& bin,
                     const std::vector<WorkerCommand>& workers) {
    char dir_template[] = "/tmp/replex-bench-cluster-XXXXXX";
    dir_ = mkdtemp(dir_template);
    absl::StatusOr<std::string> coordinator = StartServer(
        "coordinator",
        {bin + "/coordinator/replex-coordinator", "--listen=127.0.0.1:0",
         "--worker_listen=127.0.0.1:0",
         absl::StrCat("--worker_port_file=", dir_, "/worker_port"),
         "--metrics_listen=", absl::StrCat("--journal=", dir_, "/journal"),
         absl::StrCat("--checkpoint_dir=", dir_, "/checkpoints"),
         absl::StrCat("--results_root=", dir_, "/results")});
    if (!coordinator.ok()) return coordinator.status();
    // Written before the JobService port file StartServer waited for.
    absl::StatusOr<std::string> worker_port =
        testing::WaitForFile(dir_ + "/worker_port", absl::Seconds(1));
    if (!worker_port.ok()) return worker_port.status();
    absl::StatusOr<std::string> gateway = StartServer(
        "gateway",
        {bin + "/gateway/replex-gateway", "--listen=127.0.0.1:0",
         "--metrics_listen=", absl::StrCat("--coordinator=", *coordinator)});
    if (!gateway.ok()) return gateway.status();
    for (size_t i = 0; i < workers.size(); ++i) {
      std::vector<std::string> argv = workers[i].prefix;
      argv.insert(argv.end(),
                  {bin + "/replica-worker/replex-worker",
                   absl::StrCat("--coordinator=127.0.0.1:", *worker_port),
                   absl::StrCat("--name=bench-", i), "--metrics_listen="});
      argv.insert(argv.end(), workers[i].flags.begin(), workers[i].flags.end());
      absl::StatusOr<std::unique_ptr<testing::Process>> worker =
          testing::Process::Start(argv,
                                  absl::StrCat(dir_, "/worker-", i, ".log"));
      if (!worker.ok()) return worker.status();
      processes_.push_back(*std::move(worker));
    }
    stub_ = v1::JobService::NewStub(
        grpc::CreateChannel(*gateway, grpc::InsecureChannelCredentials()));
    return absl::OkStatus();
  }

  ~Cluster() {
    // Workers first, so they leave cleanly; the destructors kill stragglers.
    for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
      (*it)->Signal(SIGTERM);
      (*it)->Wait(absl::Seconds(30));
    }
    if (!dir_.empty()) testing::RunCommand(absl::StrCat("rm -rf ", dir_));
  }

  // From SubmitJob to SUCCEEDED: the seconds, and the machine's idle
  // CPU-seconds (IdleCpuSeconds). Returns once the job's results are
  // finished.
  struct Timed {
    double seconds;
    double idle_cpu_s;
  };
  absl::StatusOr<Timed> Run(const v1::JobSpec& spec) {
    const double idle = IdleCpuSeconds();
    const absl::Time start = absl::Now();
    v1::SubmitJobRequest request;
    *request.mutable_spec() = spec;
    v1::SubmitJobResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->SubmitJob(&context, request, &response);
    if (!status.ok()) {
      return absl::InternalError(
          absl::StrCat("SubmitJob: ", status.error_message()));
    }
    v1::WatchJobRequest watch;
    watch.set_job_id(response.job_id());
    grpc::ClientContext watch_context;
    auto reader = stub_->WatchJob(&watch_context, watch);
    v1::JobEvent event;
    v1::Job job;
    while (reader->Read(&event)) {
      if (event.has_snapshot()) job = event.snapshot();
    }
    const Timed timed{absl::ToDoubleSeconds(absl::Now() - start),
                      IdleCpuSeconds() - idle};
    reader->Finish();
    if (job.state() != v1::SUCCEEDED) {
      return absl::InternalError(absl::StrCat(
          "job ", response.job_id(), " ended ", v1::JobState_Name(job.state()),
          ": ", job.error(), "; logs in ", dir_));
    }
    // Untimed: the coordinator finishes a job's results (free energies, the
    // report) after the job ends; waiting for them keeps that work out of
    // whatever this program measures next.
    v1::DownloadResultsRequest download;
    download.set_job_id(response.job_id());
    download.set_path("analysis.json");
    grpc::ClientContext download_context;
    auto chunks = stub_->DownloadResults(&download_context, download);
    v1::ResultsChunk chunk;
    while (chunks->Read(&chunk)) {
    }
    if (grpc::Status finished = chunks->Finish(); !finished.ok()) {
      return absl::InternalError(absl::StrCat(
          "job ", response.job_id(), "'s results: ", finished.error_message(),
          "; logs in ", dir_));
    }
    return timed;
  }

 private:
  absl::StatusOr<std::string> StartServer(const std::string& name,
                                          std::vector<std::string> argv) {
    std::unique_ptr<testing::Process> process;
    absl::StatusOr<std::string> address =
        testing::StartServer(dir_, name, std::move(argv), process);
    if (process != nullptr) processes_.push_back(std::move(process));
    return address;
  }

  std::string dir_;
  std::vector<std::unique_ptr<testing::Process>> processes_;
  std::unique_ptr<v1::JobService::Stub> stub_;
};

}  // namespace replex::bench
