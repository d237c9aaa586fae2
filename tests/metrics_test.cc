// Prometheus metrics of a real local cluster: the exported exchange counters
// equal the job's exchange log, and Debian's real Prometheus server scrapes
// the three services and finds data for every expression of the dashboards
// and alert rules, with every rule loaded.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/metrics_files.h"
#include "tests/process.h"
#include "tests/test_paths.h"

namespace replex::testing {
namespace {

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return out;
}

// One sample of Prometheus text format, e.g.
// replex_exchange_attempts_total{job_id="j1",pair="0-1"} 12
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<Sample> ParseMetrics(const std::string& text) {
  static const std::regex line_re(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  static const std::regex label_re(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)")re");
  std::vector<Sample> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const std::string l(line);
    std::smatch match;
    if (l.empty() || l[0] == '#' || !std::regex_match(l, match, line_re)) {
      continue;
    }
    Sample sample;
    sample.name = match[1];
    const std::string labels = match[3];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label_re);
         it != std::sregex_iterator(); ++it) {
      sample.labels[(*it)[1]] = (*it)[2];
    }
    if (!absl::SimpleAtod(std::string(match[4]), &sample.value)) continue;
    samples.push_back(std::move(sample));
  }
  return samples;
}

// Sum of the samples named `name` whose labels include `labels`.
double Sum(const std::vector<Sample>& samples, const std::string& name,
           const std::map<std::string, std::string>& labels = {}) {
  double sum = 0;
  for (const Sample& sample : samples) {
    if (sample.name != name) continue;
    bool match = true;
    for (const auto& [key, value] : labels) {
      auto it = sample.labels.find(key);
      match = match && it != sample.labels.end() && it->second == value;
    }
    if (match) sum += sample.value;
  }
  return sum;
}

std::vector<Sample> Scrape(const LocalCluster& cluster,
                           const std::string& process) {
  absl::StatusOr<int> port = cluster.MetricsPort(process);
  EXPECT_TRUE(port.ok()) << port.status();
  if (!port.ok()) return {};
  absl::StatusOr<std::string> text = HttpGet(*port, "/metrics");
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? ParseMetrics(*text) : std::vector<Sample>{};
}

// Waits until the coordinator counts `workers` registered workers, so that a
// job submitted next is split over all of them (a worker that registers late
// on a loaded machine would otherwise find the job already done).
void AwaitWorkers(const LocalCluster& cluster, int workers) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  double registered = 0;
  while (absl::Now() < deadline) {
    registered =
        Sum(Scrape(cluster, "coordinator"), "replex_coordinator_workers");
    if (registered == workers) return;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ADD_FAILURE() << "after 60 s the coordinator counts " << registered
                << " workers, not " << workers << "\n"
                << cluster.Logs();
}

// replex_job_info names each job not ended yet: here one that waits for a
// CPU worker (only a Reference one is connected); once cancelled it stays,
// in its new state, while its other series do.
TEST(MetricsTest, JobInfoLabelsEachUnfinishedAndRecentlyEndedJob) {
  LocalCluster cluster("metrics_info");
  ASSERT_TRUE(cluster.StartServices().ok());
  ASSERT_TRUE(cluster.AddWorker().ok());
  AwaitWorkers(cluster, 1);
  const std::string example = SourcePath("examples/alanine-dipeptide/job.yaml");
  const std::string id = cluster.SubmitJob(example);
  const std::vector<Sample> coordinator = Scrape(cluster, "coordinator");
  EXPECT_EQ(Sum(coordinator, "replex_job_info",
                {{"job_id", id},
                 {"name", "alanine-dipeptide"},
                 {"owner", "examples"},
                 {"platform", "CPU"},
                 {"state", "queued"}}),
            1)
      << cluster.Logs();
  EXPECT_EQ(Sum(coordinator, "replex_jobs", {{"state", "queued"}}), 1);
  const auto [code, output] = cluster.Ctl("cancel " + id);
  ASSERT_EQ(code, 0) << output;
  EXPECT_EQ(Sum(Scrape(cluster, "coordinator"), "replex_job_info",
                {{"job_id", id}, {"state", "cancelled"}}),
            1);
}

TEST(MetricsTest, ExportedCountersEqualTheJobsExchangeLog) {
  LocalCluster cluster("metrics_values");
  ASSERT_TRUE(cluster.StartServices().ok());
  ASSERT_TRUE(cluster.AddWorker().ok());
  ASSERT_TRUE(cluster.AddWorker().ok());
  AwaitWorkers(cluster, 2);
  constexpr int kRungs = 4, kRounds = 40;
  const std::string id = cluster.SubmitJob(
      WriteHarmonicJob(cluster.dir(), "counted", kRungs, 50, kRounds));
  const v1::Job job = cluster.WaitForJob(
      id, [](const v1::Job& j) { return j.state() == v1::SUCCEEDED; },
      "the job to succeed", absl::Seconds(90));
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << cluster.Logs();
  ASSERT_EQ(job.pairs_size(), kRungs - 1);

  const std::vector<Sample> coordinator = Scrape(cluster, "coordinator");
  int64_t attempts = 0;
  for (const v1::PairAcceptance& pair : job.pairs()) {
    const std::string name =
        absl::StrCat(pair.lower_rung(), "-", pair.lower_rung() + 1);
    SCOPED_TRACE(name);
    EXPECT_EQ(Sum(coordinator, "replex_exchange_attempts_total",
                  {{"job_id", id}, {"pair", name}}),
              pair.attempts());
    EXPECT_EQ(Sum(coordinator, "replex_exchange_accepts_total",
                  {{"job_id", id}, {"pair", name}}),
              pair.accepts());
    // The same series by their zero-padded lower rung.
    EXPECT_EQ(Sum(coordinator, "replex_exchange_attempts_total",
                  {{"job_id", id},
                   {"lower_rung", absl::StrFormat("%04d", pair.lower_rung())}}),
              pair.attempts());
    attempts += pair.attempts();
  }
  // Alternating even/odd pairs: every round attempts some pair.
  EXPECT_GE(attempts, kRounds);
  const std::map<std::string, std::string> of_job{{"job_id", id}};
  EXPECT_EQ(Sum(coordinator, "replex_job_rounds_total", of_job), kRounds);
  EXPECT_EQ(Sum(coordinator, "replex_job_round", of_job), kRounds);
  EXPECT_EQ(Sum(coordinator, "replex_job_round_trips", of_job),
            job.round_trips());
  EXPECT_EQ(Sum(coordinator, "replex_job_running", of_job), 0);
  EXPECT_GT(Sum(coordinator, "replex_job_ns_per_day", of_job), 0);
  // The mixing gauges as of the last round: analysis.json's figures.
  const std::string analysis =
      ReadFile(cluster.results_root() + "/" + id + "/analysis.json");
  for (const auto& [metric, field] :
       std::vector<std::pair<std::string, std::string>>{
           {"replex_job_second_eigenvalue", "second_eigenvalue"},
           {"replex_job_mean_round_trip_rounds", "mean_round_trip_rounds"}}) {
    std::smatch match;
    const std::regex value_re("\"" + field + "\": ([-0-9.eE+]+)");
    ASSERT_TRUE(std::regex_search(analysis, match, value_re))
        << field << " not in " << analysis;
    EXPECT_NEAR(Sum(coordinator, metric, of_job), std::stod(match[1]), 1e-9)
        << metric;
  }
  for (int r = 0; r < kRungs; ++r) {
    EXPECT_EQ(Sum(coordinator, "replex_job_replica_rung",
                  {{"job_id", id}, {"replica", absl::StrCat(r)}}),
              job.rung_of_replica(r));
  }
  // One segment per replica and round, split over the two workers.
  const double segments = kRungs * kRounds;
  EXPECT_EQ(Sum(coordinator, "replex_segment_duration_seconds_count"),
            segments);
  EXPECT_NEAR(Sum(coordinator, "replex_segment_simulated_ns_total"),
              segments * 50 * 0.002 / 1000, 1e-9);
  EXPECT_EQ(Sum(coordinator, "replex_exchange_overhead_seconds_count"),
            kRounds - 1);
  // The job names no checkpoint_interval: one checkpoint, after its last
  // round.
  EXPECT_EQ(Sum(coordinator, "replex_checkpoints_total"), 1);
  EXPECT_EQ(Sum(coordinator, "replex_checkpoint_duration_seconds_count"), 1);
  EXPECT_EQ(Sum(coordinator, "replex_jobs", {{"state", "succeeded"}}), 1);
  EXPECT_EQ(Sum(coordinator, "replex_coordinator_workers"), 2);
  EXPECT_EQ(Sum(coordinator, "replex_coordinator_worker_sessions_total"), 2);
  EXPECT_EQ(Sum(coordinator, "grpc_server_started_total",
                {{"grpc_service", "replex.v1.Coordinator"},
                 {"grpc_method", "Session"},
                 {"grpc_type", "bidi_stream"}}),
            2);
  EXPECT_GE(Sum(coordinator, "grpc_server_handled_total",
                {{"grpc_service", "replex.v1.JobService"},
                 {"grpc_method", "SubmitJob"},
                 {"grpc_code", "OK"}}),
            1);

  double worker_segments = 0;
  for (int w = 0; w < cluster.workers(); ++w) {
    const std::vector<Sample> worker =
        Scrape(cluster, absl::StrCat("worker-", w));
    worker_segments +=
        Sum(worker, "replex_worker_segments_total", {{"outcome", "done"}});
    EXPECT_EQ(Sum(worker, "replex_worker_reconnects_total"), 0);
    // Debian's CPU platform plugin loads everywhere.
    EXPECT_EQ(Sum(worker, "replex_worker_openmm_plugin",
                  {{"file", "libOpenMMCPU.so"}, {"loaded", "true"}}),
              1);
  }
  EXPECT_EQ(worker_segments, segments);

  // The gateway counts the unary calls it served: one SubmitJob, GetJobs.
  const std::vector<Sample> gateway = Scrape(cluster, "gateway");
  const std::map<std::string, std::string> submit{
      {"grpc_service", "replex.v1.JobService"},
      {"grpc_method", "SubmitJob"},
      {"grpc_type", "unary"}};
  EXPECT_EQ(Sum(gateway, "grpc_server_started_total", submit), 1);
  EXPECT_EQ(Sum(gateway, "grpc_server_handling_seconds_count", submit), 1);
  EXPECT_GE(Sum(gateway, "grpc_server_handled_total",
                {{"grpc_method", "GetJob"}, {"grpc_code", "OK"}}),
            1);
}

// A free loopback port for Prometheus (it cannot report one it picked).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Runs `expr` at Prometheus's /api/v1/query; the number of series or
// vector elements in its result, or an error with Prometheus's answer.
absl::StatusOr<int> QueryResults(int port, const std::string& expr) {
  absl::StatusOr<std::string> body =
      HttpGet(port, "/api/v1/query?query=" + UrlEncode(expr));
  if (!body.ok()) return body.status();
  absl::StatusOr<google::protobuf::Struct> json = ParseJson(*body, expr);
  if (!json.ok()) return json.status();
  if (StringField(*json, "status") != "success") {
    return absl::InvalidArgumentError(*body);
  }
  const auto& data = json->fields().at("data").struct_value();
  return data.fields().at("result").list_value().values_size();
}

// Dashboard variables as the test's cluster fills them.
std::string Substitute(const std::string& expr, const std::string& job_id) {
  return absl::StrReplaceAll(expr, {{"$__rate_interval", "1m"},
                                    {"$window", "1m"},
                                    {"$job", job_id},
                                    {"$worker", ".*"}});
}

// The rule for alert expressions, which are empty while all is well: every
// comparison with a number ("== 0", "< 0.05", ">= 20") is removed, and what
// is left -- the series the alert watches -- must return data.
std::string WithoutThresholds(const std::string& expr) {
  static const std::regex threshold(
      R"(\s*(==|!=|>=|<=|>|<)\s*(bool\s+)?-?[0-9]+(\.[0-9]+)?([eE]-?[0-9]+)?)");
  return std::regex_replace(expr, threshold, "");
}

TEST(MetricsTest, PrometheusFindsDataForEveryDashboardAndAlertExpression) {
  const std::string prometheus_bin = "/usr/bin/prometheus";
  if (!std::filesystem::exists(prometheus_bin)) {
    GTEST_SKIP() << prometheus_bin
                 << " is missing: apt-get install prometheus "
                    "(tools/install-deps.sh)";
  }
  absl::StatusOr<std::vector<Expression>> dashboard_exprs =
      DashboardExpressions();
  ASSERT_TRUE(dashboard_exprs.ok()) << dashboard_exprs.status();
  absl::StatusOr<std::vector<AlertRule>> rules = LoadAlertRules();
  ASSERT_TRUE(rules.ok()) << rules.status();

  LocalCluster cluster("metrics_prometheus");
  ASSERT_TRUE(cluster.StartServices().ok());
  ASSERT_TRUE(cluster.AddWorker().ok());
  // Long enough to be running for the whole test; the cluster's end stops it.
  const std::string id = cluster.SubmitJob(
      WriteHarmonicJob(cluster.dir(), "watched", 4, 200, 1000000));
  cluster.WaitForJob(
      id, [](const v1::Job& j) { return j.rounds_completed() >= 2; },
      "two rounds", absl::Seconds(60));

  // Prometheus with the shipped alert rules, scraping every second.
  const std::string dir = cluster.dir() + "/prometheus";
  std::filesystem::create_directories(dir + "/data");
  std::filesystem::copy_file(SourcePath("deploy/prometheus/alerts.yml"),
                             dir + "/alerts.yml",
                             std::filesystem::copy_options::overwrite_existing);
  std::string config =
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "rule_files: ['alerts.yml']\nscrape_configs:\n";
  const std::vector<std::pair<std::string, std::vector<std::string>>> jobs = {
      {"replex-coordinator", {"coordinator"}},
      {"replex-gateway", {"gateway"}},
      {"replex-worker", {"worker-0"}}};
  for (const auto& [job, processes] : jobs) {
    std::vector<std::string> targets;
    for (const std::string& process : processes) {
      absl::StatusOr<int> port = cluster.MetricsPort(process);
      ASSERT_TRUE(port.ok()) << port.status();
      targets.push_back(absl::StrCat("'127.0.0.1:", *port, "'"));
    }
    absl::StrAppend(&config, "  - job_name: ", job,
                    "\n    static_configs:\n      - targets: [",
                    absl::StrJoin(targets, ", "), "]\n");
  }
  std::ofstream(dir + "/prometheus.yml") << config;
  const int port = FreePort();
  absl::StatusOr<std::unique_ptr<Process>> prometheus = Process::Start(
      {prometheus_bin, "--config.file=" + dir + "/prometheus.yml",
       "--storage.tsdb.path=" + dir + "/data",
       absl::StrCat("--web.listen-address=127.0.0.1:", port)},
      dir + "/prometheus.log");
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();

  // Rates need a few scrapes of every target.
  const absl::Time deadline = absl::Now() + absl::Seconds(40);
  bool scraped = false;
  while (!scraped && absl::Now() < deadline) {
    absl::SleepFor(absl::Seconds(1));
    absl::StatusOr<int> ready =
        QueryResults(port, "count_over_time(up[1m]) >= 4 and up == 1");
    scraped = ready.ok() && *ready == 3;
  }
  ASSERT_TRUE(scraped) << "Prometheus did not scrape all three services:\n"
                       << (*prometheus)->Log() << cluster.Logs();

  // Every expression must find data; a late one gets retries until the
  // deadline (the first exchange overheads, a scrape in flight).
  std::vector<Expression> pending;
  for (const Expression& e : *dashboard_exprs) {
    pending.push_back({e.where, Substitute(e.expr, id)});
  }
  for (const AlertRule& rule : *rules) {
    pending.push_back({"alert " + rule.alert, WithoutThresholds(rule.expr)});
  }
  EXPECT_GE(pending.size(), 30u);
  std::map<std::string, std::string> failures;
  while (!pending.empty()) {
    std::vector<Expression> again;
    for (const Expression& e : pending) {
      absl::StatusOr<int> results = QueryResults(port, e.expr);
      if (results.ok() && *results > 0) continue;
      failures[e.where + ": " + e.expr] =
          results.ok() ? "no data" : std::string(results.status().message());
      again.push_back(e);
    }
    if (again.empty() || absl::Now() > deadline + absl::Seconds(10)) {
      pending = again;
      break;
    }
    pending = again;
    absl::SleepFor(absl::Seconds(1));
  }
  for (const Expression& e : pending) {
    ADD_FAILURE() << e.where << ": " << e.expr << " -> "
                  << failures[e.where + ": " + e.expr];
  }

  // Every rule of alerts.yml is loaded and evaluates cleanly.
  std::map<std::string, std::string> health;  // alert -> health
  std::set<std::string> groups;
  const absl::Time rules_deadline = absl::Now() + absl::Seconds(10);
  bool all_ok = false;
  while (!all_ok && absl::Now() < rules_deadline) {
    absl::StatusOr<std::string> body = HttpGet(port, "/api/v1/rules");
    ASSERT_TRUE(body.ok()) << body.status();
    absl::StatusOr<google::protobuf::Struct> json = ParseJson(*body, "rules");
    ASSERT_TRUE(json.ok()) << json.status();
    health.clear();
    groups.clear();
    for (const auto& group : json->fields()
                                 .at("data")
                                 .struct_value()
                                 .fields()
                                 .at("groups")
                                 .list_value()
                                 .values()) {
      groups.insert(StringField(group.struct_value(), "name"));
      for (const auto& rule :
           group.struct_value().fields().at("rules").list_value().values()) {
        health[StringField(rule.struct_value(), "name")] =
            StringField(rule.struct_value(), "health");
      }
    }
    all_ok = health.size() == rules->size();
    for (const auto& [name, state] : health) all_ok = all_ok && state == "ok";
    if (!all_ok) absl::SleepFor(absl::Milliseconds(500));
  }
  for (const AlertRule& rule : *rules) {
    EXPECT_TRUE(groups.count(rule.group)) << "group " << rule.group;
    EXPECT_EQ(health[rule.alert], "ok") << "rule " << rule.alert;
  }

  (*prometheus)->Signal(SIGTERM);
  if ((*prometheus)->Wait(absl::Seconds(10)) < 0) {
    (*prometheus)->Signal(SIGKILL);
  }
}

}  // namespace
}  // namespace replex::testing
