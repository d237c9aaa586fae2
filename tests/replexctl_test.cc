// replexctl as a user runs it: the real binary against a real gateway
// service (in this process, on port 0) whose coordinator is a fake, so each
// command's output and exit status can be checked exactly.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/gateway_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/client/testing/fake_jobs_client.h"
#include "tests/process.h"
#include "tests/test_paths.h"

namespace replex::cli {
namespace {

using ::replex::testing::RunCommand;
using ::replex::testing::SourcePath;
using ::testing::HasSubstr;
using ::testing::StartsWith;

v1::JobEvent Snapshot(const v1::Job& job) {
  v1::JobEvent event;
  event.set_job_id(job.job_id());
  *event.mutable_snapshot() = job;
  return event;
}

class ReplexctlTest : public ::testing::Test {
 protected:
  ReplexctlTest() {
    absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> started =
        gateway::GatewayServer::Start(&fake_, {});
    EXPECT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
  }

  // Runs replexctl with `args` against the test gateway; `streams` picks
  // what is captured: "out" (stdout), "err" (stderr) or "both".
  std::pair<int, std::string> Replexctl(const std::string& args,
                                        const std::string& streams = "both") {
    const std::string command = absl::StrCat(
        REPLEXCTL_BIN, " --gateway=", server_->local_address(), " ", args);
    if (streams == "out") return RunCommand("(" + command + " 2>/dev/null)");
    if (streams == "err")
      return RunCommand("(" + command + " 2>&1 >/dev/null)");
    return RunCommand(command);
  }

  // A job that has run `done` of its 100 rounds and is in `state`, watched
  // as a snapshot per state change.
  void PutJob(const std::string& id, v1::JobState state, int64_t done,
              const std::string& error = "") {
    v1::Job job;
    job.set_job_id(id);
    job.set_name("toy");
    job.set_owner("ada");
    job.set_n_replicas(2);
    job.set_n_rounds(100);
    job.add_temperatures_k(300);
    job.add_temperatures_k(330);
    v1::PairAcceptance* pair = job.add_pairs();
    pair->set_attempts(done);
    pair->set_accepts(done / 2);
    pair->set_acceptance(0.5);
    job.set_state(v1::RUNNING);
    std::vector<v1::JobEvent> events = {Snapshot(job)};
    for (int64_t round = 0; round < done; ++round) {
      v1::JobEvent event;
      event.set_job_id(id);
      event.mutable_round()->set_round(round);
      events.push_back(event);
    }
    job.set_state(state);
    job.set_rounds_completed(done);
    job.set_error(error);
    events.push_back(Snapshot(job));
    fake_.PutJob(job, events);
  }

  client::FakeJobsClient fake_;
  std::unique_ptr<gateway::GatewayServer> server_;
};

TEST_F(ReplexctlTest, SubmitPrintsOnlyTheIdAndDefaultsTheOwner) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    absl::StrCat("replexctl_test.", getpid());
  std::filesystem::create_directories(dir);
  const std::string job = (dir / "job.yaml").string();
  std::ofstream(job) << "system: "
                     << SourcePath("examples/harmonic-oscillator/system.xml")
                     << "\ncoordinates: "
                     << SourcePath("examples/harmonic-oscillator/state.xml")
                     << "\nladder: {temperatures_k: [300, 330]}\n"
                        "exchange: {steps_per_exchange: 10, n_rounds: 5}\n";
  setenv("USER", "grace", 1);
  EXPECT_EQ(Replexctl("submit " + job, "out"),
            (std::pair<int, std::string>{0, "job-1\n"}));
  std::filesystem::remove_all(dir);
  ASSERT_EQ(fake_.submitted().size(), 1u);
  EXPECT_EQ(fake_.submitted()[0].spec().owner(), "grace");
  EXPECT_THAT(fake_.submitted()[0].spec().system_xml(), HasSubstr("<System"));

  auto [code, json] = Replexctl(
      "--json submit " + SourcePath("examples/harmonic-oscillator/job.yaml"));
  EXPECT_EQ(code, 0);
  EXPECT_EQ(json, "{\"job_id\":\"job-2\"}\n");
  EXPECT_EQ(fake_.submitted()[1].spec().owner(), "examples");
}

// --platform runs a file written for one platform on another (the
// Reference examples on CPU workers); `spec` prints the request submit sends.
TEST_F(ReplexctlTest, PlatformOverridesTheFilesAndSpecPrintsTheRequest) {
  const std::string example =
      SourcePath("examples/harmonic-oscillator/job.yaml");
  EXPECT_EQ(Replexctl("submit --platform=CPU " + example).first, 0);
  ASSERT_EQ(fake_.submitted().size(), 1u);
  EXPECT_EQ(fake_.submitted()[0].spec().platform(), "CPU");
  auto [bad, message] = Replexctl("submit --platform=cpu " + example);
  EXPECT_EQ(bad, 2);
  EXPECT_THAT(message, HasSubstr("--platform=cpu: platform: \"cpu\""));
  EXPECT_EQ(fake_.submitted().size(), 1u);
  auto [code, json] = Replexctl("spec --platform=OpenCL " + example, "out");
  EXPECT_EQ(code, 0);
  EXPECT_THAT(json, StartsWith("{\"spec\":{\"name\":\"harmonic-oscillator\""));
  EXPECT_THAT(json, HasSubstr("\"platform\":\"OpenCL\""));
  EXPECT_EQ(fake_.submitted().size(), 1u);  // spec connects to nothing
}

TEST_F(ReplexctlTest, InvalidJobFileExitsTwoNamingFileAndField) {
  const std::string job = ::testing::TempDir() + "replexctl_bad_job.yaml";
  std::ofstream(job) << "system: /dev/null\ncoordinates: /dev/null\n"
                        "exchange: {steps_per_exchange: 0}\n";
  auto [code, output] = Replexctl("submit " + job);
  std::filesystem::remove(job);
  EXPECT_EQ(code, 2);
  EXPECT_THAT(output, StartsWith("replexctl: error: " + job + ": "));
  EXPECT_TRUE(fake_.submitted().empty());
}

TEST_F(ReplexctlTest, ListAndStatusShowTablesAndDetail) {
  EXPECT_EQ(Replexctl("list"), (std::pair<int, std::string>{0, "no jobs\n"}));
  PutJob("job-1", v1::RUNNING, 40);
  auto [code, table] = Replexctl("status");
  EXPECT_EQ(code, 0);
  EXPECT_THAT(table, StartsWith("ID     NAME  OWNER  STATE"));
  EXPECT_THAT(table, HasSubstr("job-1  toy   ada    RUNNING  40/100  0.50"));
  EXPECT_EQ(Replexctl("list"), Replexctl("status"));

  auto [detail_code, detail] = Replexctl("status job-1");
  EXPECT_EQ(detail_code, 0);
  EXPECT_THAT(detail, HasSubstr("rounds       40/100 (40%)"));
  EXPECT_THAT(detail, HasSubstr("0-1   300.0 K <-> 330.0 K"));

  auto [json_code, json] = Replexctl("--json status job-1");
  EXPECT_EQ(json_code, 0);
  EXPECT_THAT(json, StartsWith("{\"job_id\":\"job-1\",\"state\":\"RUNNING\""));
}

TEST_F(ReplexctlTest, UnknownAndMalformedIdsExitTwo) {
  EXPECT_EQ(Replexctl("status job-9"),
            (std::pair<int, std::string>{
                2, "replexctl: error: no job with id job-9\n"}));
  auto [code, output] = Replexctl("cancel 'bad id'");
  EXPECT_EQ(code, 2);
  EXPECT_THAT(output, HasSubstr("a job id is 1 to 128 letters"));
}

TEST_F(ReplexctlTest, CancelPrintsTheNewState) {
  PutJob("job-1", v1::RUNNING, 10);
  EXPECT_EQ(Replexctl("cancel job-1"),
            (std::pair<int, std::string>{0, "job job-1: CANCELLED\n"}));
}

TEST_F(ReplexctlTest, WatchLogsProgressAndExitsByTheJobsEnd) {
  PutJob("ok", v1::SUCCEEDED, 100);
  auto [code, log] = Replexctl("watch ok");
  EXPECT_EQ(code, 0) << log;
  // Not a terminal: a line per 5% (plus the state changes), no redraws.
  EXPECT_THAT(log, Not(HasSubstr("\r")));
  EXPECT_THAT(log, HasSubstr("[round  50/100  50%] acceptance 0.50"));
  EXPECT_THAT(log, HasSubstr("job ok SUCCEEDED after 100 rounds\n"));
  EXPECT_LE(std::count(log.begin(), log.end(), '\n'), 25);

  PutJob("bad", v1::FAILED, 7, "replica 1 blew up at round 7");
  auto [failed_code, failed] = Replexctl("watch bad", "err");
  EXPECT_EQ(failed_code, 1);
  EXPECT_EQ(failed,
            "replexctl: error: job bad FAILED: replica 1 blew up at round 7\n");

  PutJob("stop", v1::CANCELLED, 3);
  EXPECT_EQ(Replexctl("watch stop").first, 3);

  auto [json_code, events] = Replexctl("--json watch stop", "out");
  EXPECT_EQ(json_code, 3);
  EXPECT_EQ(std::count(events.begin(), events.end(), '\n'), 5);  // 2 + 3
}

TEST_F(ReplexctlTest, WaitAndStatusExitByTheJobsEnd) {
  PutJob("ok", v1::SUCCEEDED, 100);
  PutJob("bad", v1::FAILED, 7, "replica 1 blew up at round 7");
  PutJob("stop", v1::CANCELLED, 3);
  PutJob("on", v1::RUNNING, 3);
  // wait: no progress, only the end.
  EXPECT_EQ(
      Replexctl("wait ok"),
      (std::pair<int, std::string>{0, "job ok SUCCEEDED after 100 rounds\n"}));
  EXPECT_EQ(Replexctl("wait bad"),
            (std::pair<int, std::string>{
                1,
                "replexctl: error: job bad FAILED: replica 1 blew up at "
                "round 7\n"}));
  EXPECT_EQ(Replexctl("wait stop").first, 3);
  EXPECT_EQ(Replexctl("status ok").first, 0);
  EXPECT_EQ(Replexctl("status on").first, 0);
  auto [failed, detail] = Replexctl("status bad");
  EXPECT_EQ(failed, 1);
  EXPECT_THAT(detail, HasSubstr("replica 1 blew up"));
  EXPECT_EQ(Replexctl("status stop").first, 3);
  EXPECT_EQ(Replexctl("--json status stop").first, 3);
}

TEST_F(ReplexctlTest, ListFiltersByStateOwnerAndLabel) {
  PutJob("job-1", v1::RUNNING, 40);
  PutJob("job-2", v1::FAILED, 7);
  v1::Job bobs;
  bobs.set_job_id("job-3");
  bobs.set_owner("bob");
  bobs.set_state(v1::RUNNING);
  bobs.mutable_labels()->insert({"campaign", "b"});
  fake_.PutJob(bobs);
  auto ids = [&](const std::string& flags) {
    auto [code, table] = Replexctl("list " + flags);
    EXPECT_EQ(code, 0) << table;
    std::string found;
    for (const char* id : {"job-1", "job-2", "job-3"}) {
      if (table.find(id) != std::string::npos) absl::StrAppend(&found, id, " ");
    }
    return found;
  };
  EXPECT_EQ(ids(""), "job-1 job-2 job-3 ");
  EXPECT_EQ(ids("--state=running"), "job-1 job-3 ");
  EXPECT_EQ(ids("--state=FAILED,cancelled"), "job-2 ");
  EXPECT_EQ(ids("--owner=bob"), "job-3 ");
  EXPECT_EQ(ids("--owner=ada --state=running"), "job-1 ");
  EXPECT_EQ(ids("--label=campaign=b"), "job-3 ");
  EXPECT_EQ(Replexctl("list --label=campaign=a"),
            (std::pair<int, std::string>{0, "no jobs\n"}));
  auto [bad, message] = Replexctl("list --state=done");
  EXPECT_EQ(bad, 2);
  EXPECT_THAT(message, HasSubstr("--state: \"done\" is not a job state"));
  EXPECT_EQ(Replexctl("list --label=campaign").first, 2);
}

TEST_F(ReplexctlTest, ExtendPrintsTheNewTotal) {
  PutJob("ok", v1::SUCCEEDED, 100);
  EXPECT_EQ(Replexctl("extend ok --rounds=50"),
            (std::pair<int, std::string>{
                0,
                "job ok: QUEUED again, 150 rounds in all; it resumes from "
                "its last checkpoint\n"}));
}

// A context of the config file gives the settings a flag leaves out; a
// variable beats the context and a flag beats both; an unknown context or
// key is a usage error naming it.
TEST_F(ReplexctlTest, ContextsVariablesAndFlagsGiveTheSettingsInThatOrder) {
  PutJob("j000000000001", v1::SUCCEEDED, 100);
  const std::string dir = ::testing::TempDir() + "/replexctl-config";
  std::filesystem::create_directories(dir);
  const std::string gateway = server_->local_address();
  std::ofstream(dir + "/config.yaml")
      << "current: lab\ncontexts:\n  lab: {gateway: " << gateway
      << "}\n  broken: {gateway: 127.0.0.1:1}\n  typo: {gatway: x}\n";
  const std::string env =
      absl::StrCat("REPLEX_CONFIG=", dir, "/config.yaml REPLEX_GATEWAY= ");
  auto run = [&](const std::string& prefix, const std::string& args) {
    return RunCommand(absl::StrCat(env, prefix, " ", REPLEXCTL_BIN, " ", args));
  };
  auto [code, output] = run("", "list");
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("j000000000001"));
  std::tie(code, output) = run("REPLEX_CONTEXT=broken", "list");
  EXPECT_EQ(code, 1) << output;
  EXPECT_THAT(output, HasSubstr("127.0.0.1:1 is unreachable"));
  std::tie(code, output) =
      run("REPLEX_CONTEXT=broken REPLEX_GATEWAY=" + gateway, "list");
  EXPECT_EQ(code, 0) << output;
  std::tie(code, output) =
      run("REPLEX_GATEWAY=127.0.0.1:1", "--gateway=" + gateway + " list");
  EXPECT_EQ(code, 0) << output;
  std::tie(code, output) = run("", "--context=nope list");
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output,
              HasSubstr("no context \"nope\"; it has lab, broken, typo"));
  std::tie(code, output) = run("", "--context=typo list");
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output, HasSubstr("contexts.typo.gatway: unknown key"));
  // TLS settings come from variables too.
  std::tie(code, output) = run("REPLEX_TLS_CA=" + dir + "/missing.pem", "list");
  EXPECT_NE(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("missing.pem"));
}

// `replexctl completion` completes commands, flags and, where a command
// takes a job id, the ids `list` shows on the gateway the flags typed name.
TEST_F(ReplexctlTest, BashCompletionOffersCommandsFlagsAndJobIds) {
  PutJob("j000000000001", v1::SUCCEEDED, 100);
  PutJob("j000000000002", v1::RUNNING, 10);
  const std::string dir = ::testing::TempDir() + "/replexctl-completion";
  std::filesystem::create_directories(dir);
  auto complete = [&](const std::string& words, int cword) {
    std::ofstream(dir + "/complete.sh") << absl::StrCat(
        "PATH=", std::filesystem::path(REPLEXCTL_BIN).parent_path().string(),
        ":$PATH\nsource <(replexctl completion)\nCOMP_WORDS=(", words,
        ")\nCOMP_CWORD=", cword, "\n_replexctl\necho \"${COMPREPLY[*]}\"\n");
    return RunCommand("bash " + dir + "/complete.sh");
  };
  auto [code, output] = complete("replexctl wa", 1);
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(output, "watch wait\n");
  std::tie(code, output) = complete("replexctl --sta", 1);
  EXPECT_EQ(output, "--state=\n");
  std::tie(code, output) =
      complete(absl::StrCat("replexctl --gateway=", server_->local_address(),
                            " status j0"),
               3);
  EXPECT_EQ(output, "j000000000001 j000000000002\n");
  std::tie(code, output) = Replexctl("completion zsh");
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output, HasSubstr("knows bash only"));
}

TEST_F(ReplexctlTest, UnreachableGatewaySaysWhereItLookedAndHowToChange) {
  auto [code, output] = RunCommand(
      absl::StrCat("REPLEX_GATEWAY=127.0.0.1:1 ", REPLEXCTL_BIN, " list"));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(output, StartsWith("replexctl: error: gateway at 127.0.0.1:1 "
                                 "is unreachable"));
  EXPECT_THAT(output, HasSubstr("--gateway=HOST:PORT"));
}

// `call` learns JobService by reflection; the request from an argument or
// stdin, each response as grpcurl prints it.
TEST_F(ReplexctlTest, CallTakesJsonAndPrintsJson) {
  PutJob("job-1", v1::SUCCEEDED, 100);
  auto [code, job] = Replexctl(
      R"(call replex.v1.JobService/GetJob '{"job_id": "job-1"}')", "out");
  EXPECT_EQ(code, 0);
  EXPECT_THAT(job, StartsWith("{\n"));
  EXPECT_THAT(job, HasSubstr(R"("jobId": "job-1")"));
  EXPECT_THAT(job, HasSubstr(R"("state": "SUCCEEDED")"));

  auto [list_code, list] = RunCommand(absl::StrCat(
      "echo '{}' | ", REPLEXCTL_BIN, " --gateway=", server_->local_address(),
      " call replex.v1.JobService.ListJobs -"));
  EXPECT_EQ(list_code, 0);
  EXPECT_THAT(list, HasSubstr(R"("jobId": "job-1")"));

  auto [bad_code, bad] =
      Replexctl(R"(call replex.v1.JobService/GetJob '{"id": "job-1"}')");
  EXPECT_EQ(bad_code, 2);
  EXPECT_THAT(bad, HasSubstr("not a replex.v1.GetJobRequest"));
  EXPECT_EQ(Replexctl("call replex.v1.JobService/Frob").first, 2);
  EXPECT_EQ(Replexctl("call").first, 2);
}

TEST_F(ReplexctlTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Replexctl("").first, 2);
  EXPECT_EQ(Replexctl("frobnicate").first, 2);
  EXPECT_EQ(Replexctl("watch").first, 2);
  EXPECT_EQ(Replexctl("--colour list").first, 2);
  auto [code, help] = Replexctl("--help");
  EXPECT_EQ(code, 0);
  for (const char* word :
       {"submit JOB.yaml", "status [ID]", "list", "watch ID", "wait ID",
        "cancel ID", "extend ID --rounds=N", "--path=FILE",
        "call METHOD [JSON]", "--gateway", "--json", "Exit status"}) {
    EXPECT_THAT(help, HasSubstr(word));
  }
}

}  // namespace
}  // namespace replex::cli
