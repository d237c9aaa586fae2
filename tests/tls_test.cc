// TLS end to end: a throwaway CA, server and client certificates made with
// the openssl command, a real cluster serving (mutual) TLS, and the clients
// it must accept and refuse. Skipped where openssl is not installed.
#include "lib/service/tls.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/grpc_tools/reflection_client.h"
#include "tests/cluster.h"

namespace replex::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

// PEM files in a fresh directory: ca.crt signs server.crt (for 127.0.0.1
// and localhost) and the other leaves (LEAF.crt, Common Name replex-LEAF);
// other-ca.crt signs nothing here.
class Pki {
 public:
  explicit Pki(const std::string& name)
      : dir_((std::filesystem::path(::testing::TempDir()) / ("pki-" + name))
                 .string()) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  // The openssl commands' output when one fails.
  absl::Status Make(const std::vector<std::string>& leaves = {"server",
                                                              "client"}) const {
    std::ofstream(path("server.ext"))
        << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    // EC keys: generated in milliseconds, unlike RSA.
    const std::string key =
        "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string commands = absl::StrCat(
        "cd ", dir_, " && for ca in ca other-ca; do openssl req -x509 ", key,
        " -keyout $ca.key -out $ca.crt -days 1 -subj /CN=$ca || exit; done",
        " && for leaf in ", absl::StrJoin(leaves, " "),
        "; do openssl req -new ", key,
        " -keyout $leaf.key -out $leaf.csr -subj /CN=replex-$leaf && openssl "
        "x509 -req -in $leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
        "-days 1 -out $leaf.crt $( [ $leaf = server ] && echo -extfile "
        "server.ext ) || exit; done 2>&1");
    const auto [code, output] = RunCommand(commands);
    if (code != 0) return absl::InternalError(output);
    return absl::OkStatus();
  }

  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  // --NAME=PATH for each (name, file).
  std::string Flags(
      const std::vector<std::pair<std::string, std::string>>& flags) const {
    std::string out;
    for (const auto& [name, file] : flags) {
      absl::StrAppend(&out, " --", name, "=", path(file));
    }
    return out;
  }

 private:
  std::string dir_;
};

bool HaveOpenssl() { return RunCommand("command -v openssl").first == 0; }

std::vector<std::string> Split(const std::string& flags) {
  return absl::StrSplit(flags, ' ', absl::SkipEmpty());
}

TEST(TlsTest, ClusterServesMutualTlsAndRefusesOtherClients) {
  if (!HaveOpenssl()) GTEST_SKIP() << "no openssl command to make certificates";
  Pki pki("cluster");
  const absl::Status made = pki.Make();
  ASSERT_TRUE(made.ok()) << made;
  const std::string server_tls =
      pki.Flags({{"tls_cert", "server.crt"}, {"tls_key", "server.key"}});
  const std::string client_tls = pki.Flags({{"tls_ca", "ca.crt"},
                                            {"tls_client_cert", "client.crt"},
                                            {"tls_client_key", "client.key"}});
  const std::string ca = pki.Flags({{"tls_ca", "ca.crt"}});

  // The coordinator takes only clients with a certificate from the CA; the
  // gateway, a public API, any client that trusts its certificate.
  LocalCluster cluster("tls");
  cluster.set_coordinator_flags(
      Split(server_tls + pki.Flags({{"tls_client_ca", "ca.crt"}})));
  cluster.set_gateway_flags(Split(server_tls + client_tls));
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  WorkerOptions worker;
  worker.flags = Split(client_tls);
  ASSERT_TRUE(cluster.AddWorker(worker).ok());

  const std::string yaml = WriteHarmonicJob(cluster.dir(), "tls", 2, 10, 5);
  const auto [submitted, id] = cluster.Ctl(ca + " submit " + yaml);
  ASSERT_EQ(submitted, 0) << id << cluster.Logs();
  const auto [watched, watch] =
      cluster.Ctl(absl::StrCat(ca, " watch ", JobIdOf(id)));
  EXPECT_EQ(watched, 0) << watch << cluster.Logs();
  EXPECT_THAT(watch, HasSubstr("SUCCEEDED"));

  // Plaintext is refused, with a hint.
  const auto [plain, plain_output] = cluster.Ctl("list");
  EXPECT_EQ(plain, 1) << plain_output;
  EXPECT_THAT(plain_output, HasSubstr("if it serves TLS, give --tls_ca"));
  // So is a client trusting another CA.
  const auto [other, other_output] =
      cluster.Ctl(pki.Flags({{"tls_ca", "other-ca.crt"}}) + " list");
  EXPECT_EQ(other, 1) << other_output;
  EXPECT_THAT(other_output, HasSubstr("signed by --tls_ca"));
  // The coordinator wants a client certificate.
  const std::string coordinator = " --gateway=" + cluster.coordinator();
  const auto [anonymous, anonymous_output] =
      cluster.Ctl(ca + coordinator + " list");
  EXPECT_EQ(anonymous, 1) << anonymous_output;
  const auto [mutual, mutual_output] =
      cluster.Ctl(client_tls + coordinator + " list");
  EXPECT_EQ(mutual, 0) << mutual_output;
  EXPECT_THAT(mutual_output, HasSubstr("SUCCEEDED"));

  // Health and reflection share the TLS port.
  const auto [health, health_output] =
      cluster.Ctl(client_tls + " health " + cluster.coordinator());
  EXPECT_EQ(health, 0) << health_output;
  service::ClientTlsFiles trust_only;
  trust_only.ca = pki.path("ca.crt");
  absl::StatusOr<service::ChannelSecurity> security =
      service::MakeChannelSecurity(trust_only);
  ASSERT_TRUE(security.ok()) << security.status();
  const absl::StatusOr<std::vector<std::string>> listed =
      grpc_tools::ReflectionDescriptorDatabase(
          service::CreateChannel(cluster.gateway(), *security))
          .ListServices();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed,
              IsSupersetOf({"replex.v1.JobService", "grpc.health.v1.Health"}));

  // /metrics stays plain HTTP.
  absl::StatusOr<int> metrics = cluster.MetricsPort("gateway");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const auto [scraped, page] = RunCommand(absl::StrCat(
      "/usr/bin/python3 -c \"import urllib.request; print(urllib.request."
      "urlopen('http://127.0.0.1:",
      *metrics, "/metrics', timeout=10).read().decode())\""));
  EXPECT_EQ(scraped, 0) << page;
  EXPECT_THAT(page, HasSubstr("grpc_server_handled_total"));
}

// Under mutual TLS the gateway may take a client certificate's Common Name
// as the caller (--certificate_users); a token, when one is sent, names the
// caller instead.
TEST(TlsTest, AClientCertificateNamesItsUser) {
  if (!HaveOpenssl()) GTEST_SKIP() << "no openssl command to make certificates";
  Pki pki("identity");
  const absl::Status made = pki.Make();
  ASSERT_TRUE(made.ok()) << made;
  const std::string server_tls = pki.Flags({{"tls_cert", "server.crt"},
                                            {"tls_key", "server.key"},
                                            {"tls_client_ca", "ca.crt"}});
  const std::string client_tls = pki.Flags({{"tls_ca", "ca.crt"},
                                            {"tls_client_cert", "client.crt"},
                                            {"tls_client_key", "client.key"}});
  const std::string tokens = pki.path("users.tokens");
  std::ofstream(tokens) << "bob-0123456789abcdef0 bob\n";

  LocalCluster cluster("tls-identity");
  cluster.set_coordinator_flags(Split(server_tls));
  cluster.set_gateway_flags(
      Split(server_tls + client_tls +
            " --certificate_users --tokens_file=" + tokens));
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker({.flags = Split(client_tls)}).ok());

  const std::string yaml = WriteHarmonicJob(cluster.dir(), "mine", 2, 10, 5);
  const auto [submitted, output] = cluster.Ctl(client_tls + " submit " + yaml);
  ASSERT_EQ(submitted, 0) << output << cluster.Logs();
  const std::string id = JobIdOf(output);
  const auto [shown, status] = cluster.Ctl(client_tls + " status " + id);
  EXPECT_THAT(status, ::testing::ContainsRegex("owner +replex-client"))
      << status;
  // Bob's token, over the same certificate, makes the caller Bob.
  cluster.set_token("bob-0123456789abcdef0");
  const auto [denied, denied_output] =
      cluster.Ctl(client_tls + " status " + id);
  EXPECT_NE(denied, 0) << denied_output;
  EXPECT_THAT(denied_output, HasSubstr("belongs to another user"));
}

// Each role has a certificate of its own: the coordinator's JobService takes
// only the gateway's (--gateway_certificate_names) and its workers' port
// only workers' (--worker_certificate_names), so a worker's key cannot list
// jobs and the gateway's cannot register a worker.
TEST(TlsTest, EachRoleHasACertificateOfItsOwn) {
  if (!HaveOpenssl()) GTEST_SKIP() << "no openssl command to make certificates";
  Pki pki("roles");
  const absl::Status made = pki.Make({"server", "gateway", "worker"});
  ASSERT_TRUE(made.ok()) << made;
  const std::string server_tls =
      pki.Flags({{"tls_cert", "server.crt"}, {"tls_key", "server.key"}});
  const std::string ca = pki.Flags({{"tls_ca", "ca.crt"}});
  auto as = [&](const std::string& role) {
    return ca + pki.Flags({{"tls_client_cert", role + ".crt"},
                           {"tls_client_key", role + ".key"}});
  };
  LocalCluster cluster("tls-roles");
  cluster.set_coordinator_flags(
      Split(server_tls + pki.Flags({{"tls_client_ca", "ca.crt"}}) +
            " --gateway_certificate_names=replex-gateway"
            " --worker_certificate_names=replex-worker"));
  cluster.set_gateway_flags(Split(server_tls + as("gateway")));
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker({.flags = Split(as("worker"))}).ok());
  ASSERT_TRUE(cluster.AddWorker({.flags = Split(as("gateway"))}).ok());

  const std::string yaml = WriteHarmonicJob(cluster.dir(), "roles", 2, 10, 5);
  const auto [submitted, output] = cluster.Ctl(ca + " submit " + yaml);
  ASSERT_EQ(submitted, 0) << output << cluster.Logs();
  const auto [watched, watch] =
      cluster.Ctl(absl::StrCat(ca, " watch ", JobIdOf(output)));
  EXPECT_EQ(watched, 0) << watch << cluster.Logs();
  EXPECT_THAT(watch, HasSubstr("SUCCEEDED"));

  const std::string coordinator = " --gateway=" + cluster.coordinator();
  const auto [worker_call, worker_output] =
      cluster.Ctl(as("worker") + coordinator + " list");
  EXPECT_NE(worker_call, 0) << worker_output;
  EXPECT_THAT(worker_output,
              HasSubstr("a certificate named \"replex-worker\" may not call"));
  const auto [gateway_call, gateway_output] =
      cluster.Ctl(as("gateway") + coordinator + " list");
  EXPECT_EQ(gateway_call, 0) << gateway_output;
  EXPECT_THAT(gateway_output, HasSubstr("SUCCEEDED"));

  EXPECT_THAT(cluster.worker(0).Log(), HasSubstr("connected to"));
  EXPECT_THAT(cluster.worker(1).Log(), HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(cluster.worker(1).Log(), HasSubstr("--worker_certificate_names"));
  EXPECT_THAT(cluster.worker(1).Log(), Not(HasSubstr("connected to")));
}

// Runs `command` (which must fail fast) under a timeout, so a binary that
// starts serving instead fails the test rather than hanging it.
std::pair<int, std::string> RunFailing(const std::string& command) {
  return RunCommand("timeout 30 " + command);
}

TEST(TlsTest, BadTlsFlagsStopEachBinaryNamingTheFlag) {
  if (!HaveOpenssl()) GTEST_SKIP() << "no openssl command to make certificates";
  Pki pki("flags");
  const absl::Status made = pki.Make();
  ASSERT_TRUE(made.ok()) << made;
  const std::string scratch = pki.path("");
  struct Case {
    std::string command;
    std::string message;
  };
  // A key only a passphrase opens: a service must refuse it, not prompt.
  const auto [encrypted, encrypted_output] =
      RunCommand(absl::StrCat("openssl pkey -in ", pki.path("server.key"),
                              " -aes256 -passout pass:secret -out ",
                              pki.path("encrypted.key"), " 2>&1"));
  ASSERT_EQ(encrypted, 0) << encrypted_output;
  const std::string coordinator =
      absl::StrCat(REPLEX_COORDINATOR_BIN, " --journal=", scratch,
                   "j.sqlite --metrics_listen= ");
  const std::vector<Case> cases = {
      {coordinator +
           pki.Flags({{"tls_cert", "server.crt"}, {"tls_key", "missing.key"}}),
       "--tls_key: cannot read " + pki.path("missing.key")},
      {coordinator +
           pki.Flags({{"tls_cert", "server.crt"}, {"tls_key", "client.key"}}),
       "is not the private key of the certificate in --tls_cert"},
      {coordinator + pki.Flags({{"tls_cert", "server.crt"},
                                {"tls_key", "encrypted.key"}}),
       "is encrypted"},
      {absl::StrCat(REPLEX_GATEWAY_BIN, " --metrics_listen= ",
                    pki.Flags({{"tls_cert", "server.crt"}})),
       "--tls_cert is set but --tls_key is not"},
      {absl::StrCat(REPLEX_GATEWAY_BIN, " --metrics_listen= ",
                    pki.Flags({{"tls_client_ca", "ca.crt"}})),
       "--tls_client_ca is set without --tls_cert and --tls_key"},
      {absl::StrCat(REPLEX_WORKER_BIN,
                    " --platform=Reference --metrics_listen= ",
                    pki.Flags({{"tls_ca", "server.ext"}})),
       "--tls_ca: " + pki.path("server.ext") + " holds no PEM certificate"},
      {absl::StrCat(REPLEXCTL_BIN, " list ",
                    pki.Flags({{"tls_client_cert", "client.crt"},
                               {"tls_client_key", "client.key"}})),
       "--tls_client_cert is set without --tls_ca"},
  };
  for (const Case& c : cases) {
    const auto [code, output] = RunFailing(c.command);
    EXPECT_EQ(code, 2) << c.command << "\n" << output;
    EXPECT_THAT(output, HasSubstr(c.message)) << c.command;
    EXPECT_THAT(output, Not(HasSubstr("Segmentation"))) << c.command;
  }
}

}  // namespace
}  // namespace replex::testing
