// Reads the observability files the tests check: the Grafana dashboards in
// dashboards/ and the alert rules in deploy/prometheus/alerts.yml, so that
// the tests take every PromQL expression from the files themselves.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"

namespace replex::testing {

// Every dashboards/*.json, parsed, with its path.
struct Dashboard {
  std::string path;
  google::protobuf::Struct json;
};
absl::StatusOr<std::vector<Dashboard>> LoadDashboards();

// The panels of a dashboard, those nested in rows included.
std::vector<const google::protobuf::Struct*> Panels(
    const google::protobuf::Struct& dashboard);

// A PromQL expression and where it comes from (for failure messages).
struct Expression {
  std::string where;
  std::string expr;
};
// targets[].expr of every panel of every dashboard.
absl::StatusOr<std::vector<Expression>> DashboardExpressions();

// The rules of alerts.yml: group name, alert name, expr.
struct AlertRule {
  std::string group;
  std::string alert;
  std::string expr;
  std::string for_duration;
  bool has_summary = false;
  bool has_description = false;
};
absl::StatusOr<std::vector<AlertRule>> LoadAlertRules();

// Parses JSON text into a Struct; INVALID_ARGUMENT naming `what`.
absl::StatusOr<google::protobuf::Struct> ParseJson(const std::string& text,
                                                   const std::string& what);

// The string field `name` of `s`, or "" when missing or not a string.
std::string StringField(const google::protobuf::Struct& s,
                        const std::string& name);

}  // namespace replex::testing
