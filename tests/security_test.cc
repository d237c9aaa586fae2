// Tenants on one cluster with authentication on (docs/security.md): real
// coordinator, gateway and worker processes with tokens files. One user
// cannot see or touch another's jobs, callers without a token or with the
// wrong kind of token are refused, rogue workers cannot register, and the
// honest tenants' jobs run to completion throughout.
#include <jwt.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "replex/v1/job_service.grpc.pb.h"
#include "replex/v1/worker.grpc.pb.h"
#include "tests/cluster.h"
#include "tests/test_paths.h"

namespace replex::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAlice[] = "alice-0123456789abcdef";
constexpr char kBob[] = "bob-0123456789abcdef0";
constexpr char kCarol[] = "carol-0123456789abcdef";
constexpr char kRoot[] = "root-0123456789abcdef0";
constexpr char kGateway[] = "gateway-0123456789abcdef";
constexpr char kWorker0[] = "worker0-0123456789abcdef";
constexpr char kWorker1[] = "worker1-0123456789abcdef";

std::string Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// A unary JobService call straight to `address` with `token` (none when
// empty); its status.
grpc::Status GetJobAt(const std::string& address, const std::string& token,
                      const std::string& id) {
  auto stub = v1::JobService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  if (!token.empty())
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  v1::GetJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  return stub->GetJob(&context, request, &job);
}

TEST(SecurityTest, TenantsActOnTheirOwnJobsOnlyAndRogueCallersAreRefused) {
  LocalCluster cluster("tenants");
  const std::string dir = cluster.dir();
  const std::string users =
      Write(dir + "/users.tokens",
            absl::StrCat("# the lab\n", kAlice, " alice\n", kBob, " bob\n",
                         kCarol, " carol\n", kRoot, " root admin\n"));
  const std::string gateway_token = Write(dir + "/gateway.token", kGateway);
  const std::string workers =
      Write(dir + "/workers.tokens",
            absl::StrCat(kWorker0, " worker-0\n", kWorker1, " worker-1\n"));
  const std::string worker0 = Write(dir + "/worker-0.token", kWorker0);
  const std::string worker1 = Write(dir + "/worker-1.token", kWorker1);
  cluster.set_coordinator_flags({"--gateway_token_file=" + gateway_token,
                                 "--worker_tokens_file=" + workers});
  cluster.set_gateway_flags(
      {"--tokens_file=" + users, "--coordinator_token_file=" + gateway_token});
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker({.flags = {"--token_file=" + worker0}}).ok());
  ASSERT_TRUE(cluster.AddWorker({.flags = {"--token_file=" + worker1}}).ok());
  // Rogue workers: one without credentials, one with worker-0's token under
  // another name (the last --name wins).
  ASSERT_TRUE(cluster.AddWorker().ok());
  ASSERT_TRUE(
      cluster
          .AddWorker({.flags = {"--token_file=" + worker0, "--name=impostor"}})
          .ok());

  // No token: refused, saying how to send one.
  {
    const auto [code, output] = cluster.Ctl("list");
    EXPECT_NE(code, 0) << output;
    EXPECT_THAT(output, HasSubstr("no credentials"));
    EXPECT_THAT(output, HasSubstr("REPLEX_TOKEN"));
  }

  // Alice's and Carol's jobs; the spec's owner ("tests") is overridden.
  cluster.set_token(kAlice);
  const std::string a =
      cluster.SubmitJob(WriteHarmonicJob(dir, "alice-job", 4, 50, 400));
  cluster.set_token(kCarol);
  const std::string c =
      cluster.SubmitJob(WriteHarmonicJob(dir, "carol-job", 4, 50, 400));
  cluster.set_token(kAlice);
  absl::StatusOr<v1::Job> alice_job = cluster.GetJob(a);
  ASSERT_TRUE(alice_job.ok()) << alice_job.status();
  EXPECT_EQ(alice_job->owner(), "alice");

  // Bob can neither see nor touch them.
  cluster.set_token(kBob);
  for (const std::string& command :
       {"status " + a, "watch " + a, "wait " + a, "cancel " + a,
        "extend " + a + " --rounds=5", "report " + a,
        absl::StrCat("fetch ", a, " ", dir, "/stolen"),
        absl::StrCat("call replex.v1.JobService/GetJob '{\"job_id\": \"", a,
                     "\"}'")}) {
    const auto [code, output] = cluster.Ctl(command);
    EXPECT_NE(code, 0) << command << ": " << output;
    EXPECT_THAT(output, HasSubstr("belongs to another user")) << command;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/stolen") &&
               !std::filesystem::is_empty(dir + "/stolen"));
  {
    const auto [code, output] = cluster.Ctl("list");
    EXPECT_EQ(code, 0) << output;
    EXPECT_THAT(output, Not(HasSubstr(a)));
    EXPECT_THAT(output, Not(HasSubstr(c)));
  }
  // An admin sees both.
  cluster.set_token(kRoot);
  {
    const auto [code, output] = cluster.Ctl("list");
    EXPECT_EQ(code, 0) << output;
    EXPECT_THAT(output, HasSubstr(a));
    EXPECT_THAT(output, HasSubstr(c));
  }

  // A worker's token is not a user's; a user's token (or none) does not
  // open the coordinator's JobService, which answers the gateway only.
  grpc::Status status = GetJobAt(cluster.gateway(), kWorker0, a);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << status.error_message();
  for (const std::string& token : {std::string(kAlice), std::string()}) {
    status = GetJobAt(cluster.coordinator(), token, a);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << status.error_message();
    EXPECT_THAT(status.error_message(),
                HasSubstr("answers replex-gateway only"));
  }
  // The workers' port serves no JobService at all.
  status = GetJobAt(cluster.worker_endpoint(), kGateway, a);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED)
      << status.error_message();

  // Both tenants' jobs finish, on the two honest workers only.
  for (const auto& [id, token] : {std::pair{a, kAlice}, std::pair{c, kCarol}}) {
    cluster.set_token(token);
    const v1::Job job = cluster.WaitForJob(
        id, [](const v1::Job& j) { return j.state() >= v1::SUCCEEDED; },
        "the job to end", absl::Minutes(3));
    EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.error() << cluster.Logs();
  }
  EXPECT_THAT(cluster.worker(2).Log(), HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(cluster.worker(2).Log(), Not(HasSubstr("connected to")));
  EXPECT_THAT(cluster.worker(3).Log(), HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(cluster.worker(3).Log(),
              HasSubstr("this token is for the worker named \"worker-0\""));
  EXPECT_THAT(cluster.worker(3).Log(), Not(HasSubstr("connected to")));
  EXPECT_THAT(cluster.worker(0).Log(), HasSubstr("connected to"));
}

// A user may present a JSON Web Token instead of a tokens file's token: the
// gateway checks its signature, its algorithm and its expiry, and the caller
// is its sub claim; an expired or forged one is refused, saying why.
TEST(SecurityTest, AJsonWebTokenNamesItsUserUntilItExpires) {
  LocalCluster cluster("jwt");
  const std::string secret = "the-lab-idp-shared-secret-0123456789";
  const std::string key = Write(cluster.dir() + "/jwt.key", secret + "\n");
  cluster.set_gateway_flags({"--jwt_key_file=" + key, "--jwt_algorithm=HS256"});
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker().ok());
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  auto token = [&](const std::string& signing_key, int64_t exp) {
    jwt_t* jwt = nullptr;
    EXPECT_EQ(jwt_new(&jwt), 0);
    EXPECT_EQ(jwt_add_grant(jwt, "sub", "dave"), 0);
    EXPECT_EQ(jwt_add_grant_int(jwt, "exp", exp), 0);
    EXPECT_EQ(
        jwt_set_alg(jwt, JWT_ALG_HS256,
                    reinterpret_cast<const unsigned char*>(signing_key.data()),
                    static_cast<int>(signing_key.size())),
        0);
    char* encoded = jwt_encode_str(jwt);
    std::string text = encoded == nullptr ? "" : encoded;
    free(encoded);  // libjwt 1.10 allocates it with malloc
    jwt_free(jwt);
    return text;
  };

  cluster.set_token(token(secret, now + 3600));
  const std::string id =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "dave-job", 2, 10, 5));
  absl::StatusOr<v1::Job> job = cluster.GetJob(id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->owner(), "dave");

  for (const auto& [jwt, why] :
       {std::pair{token(secret, now - 600), "expired"},
        std::pair{token("a-forger-guessing-0123456789", now + 3600),
                  "signature"}}) {
    cluster.set_token(jwt);
    const auto [code, output] = cluster.Ctl("status " + id);
    EXPECT_NE(code, 0) << output;
    EXPECT_THAT(output, HasSubstr(why));
  }
}

// A job that takes down every worker it runs on fails, naming the cause,
// after --max_worker_losses (2) losses without progress, while other jobs
// run on; a job larger than the pool can ever host waits, saying so, and
// holds no smaller job back.
TEST(SecurityTest, AJobThatCrashesWorkersFailsAndAnUnfittableOneBlocksNoOne) {
  LocalCluster cluster("poison");
  cluster.set_coordinator_flags({"--max_worker_losses=2"});
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  // The poison job's CPU workers crash when its round 2 is done; the
  // Reference worker hosts the others.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cluster
                    .AddWorker({.platform = "CPU",
                                .flags = {"--test_crash_in_round=2"}})
                    .ok());
  }
  ASSERT_TRUE(cluster.AddWorker({.max_replicas = 6}).ok());
  const std::string dir = cluster.dir();
  const std::string normal =
      cluster.SubmitJob(WriteHarmonicJob(dir, "normal", 4, 50, 300));
  const std::string unfittable =
      cluster.SubmitJob(WriteHarmonicJob(dir, "unfittable", 8, 50, 10));
  const std::string small =
      cluster.SubmitJob(WriteHarmonicJob(dir, "small", 2, 50, 100));
  // One replica, so that each crash is one loss of its own.
  const std::string example = SourcePath("examples/harmonic-oscillator");
  const std::string poison = cluster.SubmitJob(Write(
      dir + "/poison.yaml",
      absl::StrCat(
          "name: poison\nsystem: ", example,
          "/system.xml\ncoordinates: ", example,
          "/state.xml\nplatform: CPU\nladder: {n_rungs: 1, temperature_k: "
          "300}\nexchange: {steps_per_exchange: 50, "
          "n_rounds: 50}\n")));

  const v1::Job failed = cluster.WaitForJob(
      poison, [](const v1::Job& j) { return j.state() >= v1::SUCCEEDED; },
      "the poison job to end", absl::Minutes(2));
  EXPECT_EQ(failed.state(), v1::FAILED);
  EXPECT_THAT(failed.error(),
              HasSubstr("the job lost workers holding its replicas 3 times "
                        "without getting past round 2"));
  EXPECT_THAT(failed.error(), HasSubstr("--max_worker_losses=2"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster.worker(i).Wait(absl::Seconds(10)), 70)
        << cluster.worker(i).Log();
  }
  for (const std::string& id : {normal, small}) {
    const v1::Job job = cluster.WaitForJob(
        id, [](const v1::Job& j) { return j.state() >= v1::SUCCEEDED; },
        "the job to end", absl::Minutes(2));
    EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.name() << ": " << job.error();
  }
  absl::StatusOr<v1::Job> waiting = cluster.GetJob(unfittable);
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_EQ(waiting->state(), v1::QUEUED);
  EXPECT_THAT(waiting->queue_reason(),
              HasSubstr("the connected ones cannot host it even when idle"));
}

}  // namespace
}  // namespace replex::testing
