// The Grafana dashboards in dashboards/ are importable dashboard JSON with a
// templated data source and a job variable, and the alert rules each have a
// `for:` and annotations. Whether their queries find data in a real
// Prometheus is metrics_test's job.
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "tests/metrics_files.h"

namespace replex::testing {
namespace {

TEST(DashboardsTest, AreGrafanaDashboardsWithDatasourceAndJobVariables) {
  absl::StatusOr<std::vector<Dashboard>> dashboards = LoadDashboards();
  ASSERT_TRUE(dashboards.ok()) << dashboards.status();
  for (const Dashboard& dashboard : *dashboards) {
    SCOPED_TRACE(dashboard.path);
    const auto& fields = dashboard.json.fields();
    ASSERT_TRUE(fields.count("schemaVersion"));
    // Grafana migrates older schemas; 36 is where panel datasources became
    // {type, uid} objects as used here.
    EXPECT_GE(fields.at("schemaVersion").number_value(), 36);
    EXPECT_FALSE(StringField(dashboard.json, "title").empty());
    EXPECT_FALSE(StringField(dashboard.json, "uid").empty());

    std::set<std::string> variables;
    std::string datasource_variable;
    ASSERT_TRUE(fields.count("templating"));
    for (const auto& variable : fields.at("templating")
                                    .struct_value()
                                    .fields()
                                    .at("list")
                                    .list_value()
                                    .values()) {
      const std::string name = StringField(variable.struct_value(), "name");
      variables.insert(name);
      if (StringField(variable.struct_value(), "type") == "datasource") {
        EXPECT_EQ(StringField(variable.struct_value(), "query"), "prometheus");
        datasource_variable = name;
      }
    }
    ASSERT_FALSE(datasource_variable.empty()) << "no datasource variable";
    EXPECT_TRUE(variables.count("job")) << "no job variable";

    std::set<double> ids;
    const std::vector<const google::protobuf::Struct*> panels =
        Panels(dashboard.json);
    ASSERT_FALSE(panels.empty());
    for (const google::protobuf::Struct* panel : panels) {
      const std::string title = StringField(*panel, "title");
      SCOPED_TRACE(title);
      const auto& panel_fields = panel->fields();
      ASSERT_TRUE(panel_fields.count("id"));
      EXPECT_TRUE(ids.insert(panel_fields.at("id").number_value()).second)
          << "duplicate panel id";
      EXPECT_FALSE(StringField(*panel, "type").empty());
      EXPECT_TRUE(panel_fields.count("gridPos"));
      if (StringField(*panel, "type") == "row") continue;
      ASSERT_TRUE(panel_fields.count("datasource"));
      EXPECT_EQ(
          StringField(panel_fields.at("datasource").struct_value(), "uid"),
          "${" + datasource_variable + "}");
      ASSERT_TRUE(panel_fields.count("targets"));
      const auto& targets = panel_fields.at("targets").list_value().values();
      ASSERT_FALSE(targets.empty()) << "no query target";
      for (const auto& target : targets) {
        EXPECT_FALSE(StringField(target.struct_value(), "expr").empty());
        EXPECT_FALSE(StringField(target.struct_value(), "refId").empty());
      }
    }
  }
}

TEST(DashboardsTest, AlertRulesHaveForAndAnnotations) {
  absl::StatusOr<std::vector<AlertRule>> rules = LoadAlertRules();
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_FALSE(rules->empty());
  std::set<std::string> names;
  for (const AlertRule& rule : *rules) {
    SCOPED_TRACE(rule.alert);
    EXPECT_FALSE(rule.group.empty());
    EXPECT_TRUE(names.insert(rule.alert).second) << "duplicate alert name";
    EXPECT_FALSE(rule.expr.empty());
    EXPECT_FALSE(rule.for_duration.empty()) << "no for:";
    EXPECT_TRUE(rule.has_summary && rule.has_description);
  }
  for (const char* wanted :
       {"ReplexWorkerDown", "ReplexJobStalled", "ReplexPairAcceptanceLow",
        "ReplexReplicaRestartStorm"}) {
    EXPECT_TRUE(names.count(wanted)) << wanted;
  }
}

}  // namespace
}  // namespace replex::testing
