#include "tests/metrics_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "lib/spec/yaml_tree.h"
#include "tests/test_paths.h"

namespace replex::testing {

absl::StatusOr<google::protobuf::Struct> ParseJson(const std::string& text,
                                                   const std::string& what) {
  google::protobuf::Struct parsed;
  const auto status =
      google::protobuf::util::JsonStringToMessage(text, &parsed);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not valid JSON: ", status.ToString()));
  }
  return parsed;
}

std::string StringField(const google::protobuf::Struct& s,
                        const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? "" : it->second.string_value();
}

absl::StatusOr<std::vector<Dashboard>> LoadDashboards() {
  std::vector<std::string> paths;
  for (const auto& entry :
       std::filesystem::directory_iterator(SourcePath("dashboards"))) {
    if (entry.path().extension() == ".json") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<Dashboard> dashboards;
  for (const std::string& path : paths) {
    std::stringstream text;
    text << std::ifstream(path).rdbuf();
    absl::StatusOr<google::protobuf::Struct> json = ParseJson(text.str(), path);
    if (!json.ok()) return json.status();
    dashboards.push_back({path, *std::move(json)});
  }
  if (dashboards.empty()) {
    return absl::NotFoundError("no dashboards/*.json");
  }
  return dashboards;
}

namespace {

void AddPanels(const google::protobuf::Struct& parent,
               std::vector<const google::protobuf::Struct*>& out) {
  auto it = parent.fields().find("panels");
  if (it == parent.fields().end()) return;
  for (const google::protobuf::Value& panel :
       it->second.list_value().values()) {
    out.push_back(&panel.struct_value());
    AddPanels(panel.struct_value(), out);  // a row's collapsed panels
  }
}

}  // namespace

std::vector<const google::protobuf::Struct*> Panels(
    const google::protobuf::Struct& dashboard) {
  std::vector<const google::protobuf::Struct*> panels;
  AddPanels(dashboard, panels);
  return panels;
}

absl::StatusOr<std::vector<Expression>> DashboardExpressions() {
  absl::StatusOr<std::vector<Dashboard>> dashboards = LoadDashboards();
  if (!dashboards.ok()) return dashboards.status();
  std::vector<Expression> expressions;
  for (const Dashboard& dashboard : *dashboards) {
    for (const google::protobuf::Struct* panel : Panels(dashboard.json)) {
      auto targets = panel->fields().find("targets");
      if (targets == panel->fields().end()) continue;
      for (const google::protobuf::Value& target :
           targets->second.list_value().values()) {
        const std::string expr = StringField(target.struct_value(), "expr");
        if (expr.empty()) continue;
        expressions.push_back(
            {absl::StrCat(
                 std::filesystem::path(dashboard.path).filename().string(),
                 " panel \"", StringField(*panel, "title"), "\""),
             expr});
      }
    }
  }
  return expressions;
}

absl::StatusOr<std::vector<AlertRule>> LoadAlertRules() {
  using spec::internal::YamlNode;
  const std::string path = SourcePath("deploy/prometheus/alerts.yml");
  std::ifstream in(path);
  const std::string text{std::istreambuf_iterator<char>(in),
                         std::istreambuf_iterator<char>()};
  absl::StatusOr<std::vector<YamlNode>> documents =
      spec::internal::ParseYamlDocuments(text);
  if (!documents.ok() || documents->size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ",
        documents.ok() ? "not one document" : documents.status().ToString()));
  }
  // The value of `key` in a map; a null node when absent.
  auto find = [](const YamlNode& map, absl::string_view key) {
    for (const YamlNode::Entry& entry : map.entries) {
      if (entry.key.text == key) return entry.value;
    }
    return YamlNode();
  };
  std::vector<AlertRule> rules;
  for (const YamlNode& group : find((*documents)[0], "groups").items) {
    for (const YamlNode& rule : find(group, "rules").items) {
      AlertRule parsed;
      parsed.group = find(group, "name").text;
      parsed.alert = find(rule, "alert").text;
      parsed.expr = find(rule, "expr").text;
      parsed.for_duration = find(rule, "for").text;
      const YamlNode annotations = find(rule, "annotations");
      parsed.has_summary = !find(annotations, "summary").IsNull();
      parsed.has_description = !find(annotations, "description").IsNull();
      rules.push_back(parsed);
    }
  }
  return rules;
}

}  // namespace replex::testing
