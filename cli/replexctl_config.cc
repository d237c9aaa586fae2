// replexctl's settings from the environment and the config file
// (replexctl_config.h).
#include "cli/replexctl_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/spec/yaml_tree.h"

ABSL_FLAG(std::string, context, "",
          "The context of the config file to use (its gateway, TLS files and "
          "token file); default $REPLEX_CONTEXT, else the file's `current`.");

namespace replex::cli {
namespace {

namespace fs = std::filesystem;
using spec::internal::YamlNode;

struct Setting {
  const char* flag;
  const char* variable;
  const char* key;
  bool path;  // a file name: ~ and relative names are resolved
};

constexpr Setting kSettings[] = {
    {"gateway", "REPLEX_GATEWAY", "gateway", false},
    {"tls_ca", "REPLEX_TLS_CA", "tls_ca", true},
    {"tls_client_cert", "REPLEX_TLS_CLIENT_CERT", "tls_client_cert", true},
    {"tls_client_key", "REPLEX_TLS_CLIENT_KEY", "tls_client_key", true},
    {"tls_server_name", "REPLEX_TLS_SERVER_NAME", "tls_server_name", false},
    {nullptr, "REPLEX_TOKEN", "token_file", true}};

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

fs::path ConfigPath() {
  if (std::string path = Env("REPLEX_CONFIG"); !path.empty()) return path;
  if (std::string config = Env("XDG_CONFIG_HOME"); !config.empty()) {
    return fs::path(config) / "replex" / "config.yaml";
  }
  if (std::string home = Env("HOME"); !home.empty()) {
    return fs::path(home) / ".config" / "replex" / "config.yaml";
  }
  return "";
}

// `value` as a file name: "~/x" under $HOME, a relative name beside the
// config file.
std::string Resolve(const std::string& value, const fs::path& config) {
  if (absl::StartsWith(value, "~/")) {
    return (fs::path(Env("HOME")) / value.substr(2)).string();
  }
  if (fs::path(value).is_relative()) {
    return (config.parent_path() / value).string();
  }
  return value;
}

const YamlNode* Find(const YamlNode& map, const std::string& key) {
  for (const YamlNode::Entry& entry : map.entries) {
    if (entry.key.text == key) return &entry.value;
  }
  return nullptr;
}

// A context's settings by key (file names resolved).
using ContextSettings = std::map<std::string, std::string>;

// The settings of the context to use; empty when there is no file and no
// context was asked for.
absl::StatusOr<ContextSettings> Context(const fs::path& path) {
  std::string wanted = absl::GetFlag(FLAGS_context);
  if (wanted.empty()) wanted = Env("REPLEX_CONTEXT");
  std::error_code error;
  if (path.empty() || !fs::exists(path, error)) {
    if (wanted.empty()) return ContextSettings{};
    return absl::InvalidArgumentError(absl::StrCat(
        "context \"", wanted, "\" asked for, but there is no config file ",
        path.string(), " (docs/api.md, \"Contexts\")"));
  }
  std::ifstream in(path);
  const std::string text{std::istreambuf_iterator<char>(in),
                         std::istreambuf_iterator<char>()};
  auto bad = [&](const std::string& problem) {
    return absl::InvalidArgumentError(absl::StrCat(
        path.string(), ": ", problem, " (docs/api.md, \"Contexts\")"));
  };
  absl::StatusOr<std::vector<YamlNode>> documents =
      spec::internal::ParseYamlDocuments(text);
  if (!documents.ok()) return bad(std::string(documents.status().message()));
  if (documents->size() != 1 || !(*documents)[0].IsMap()) {
    return bad("expected a map with `current` and `contexts`");
  }
  const YamlNode& root = (*documents)[0];
  for (const YamlNode::Entry& entry : root.entries) {
    if (entry.key.text != "current" && entry.key.text != "contexts") {
      return bad(absl::StrCat("unknown key \"", entry.key.text,
                              "\"; the keys are current and contexts"));
    }
  }
  if (wanted.empty()) {
    if (const YamlNode* current = Find(root, "current");
        current != nullptr && current->IsScalar()) {
      wanted = current->text;
    }
  }
  if (wanted.empty()) return ContextSettings{};
  const YamlNode* contexts = Find(root, "contexts");
  const YamlNode* context =
      contexts == nullptr ? nullptr : Find(*contexts, wanted);
  if (context == nullptr || !context->IsMap()) {
    std::vector<std::string> names;
    if (contexts != nullptr) {
      for (const YamlNode::Entry& entry : contexts->entries) {
        names.push_back(entry.key.text);
      }
    }
    return bad(
        absl::StrCat("no context \"", wanted, "\"; it has ",
                     names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  ContextSettings settings;
  for (const YamlNode::Entry& entry : context->entries) {
    const Setting* setting = nullptr;
    for (const Setting& s : kSettings) {
      if (entry.key.text == s.key) setting = &s;
    }
    if (setting == nullptr || !entry.value.IsScalar()) {
      return bad(absl::StrCat(
          "contexts.", wanted, ".", entry.key.text,
          setting == nullptr ? ": unknown key; the keys are gateway, tls_ca, "
                               "tls_client_cert, tls_client_key, "
                               "tls_server_name and token_file"
                             : ": expected a string"));
    }
    settings[entry.key.text] =
        setting->path ? Resolve(entry.value.text, path) : entry.value.text;
  }
  return settings;
}

}  // namespace

absl::Status ApplyConfig(const std::set<std::string>& given,
                         std::string& token_file) {
  const fs::path path = ConfigPath();
  absl::StatusOr<ContextSettings> context = Context(path);
  if (!context.ok()) return context.status();
  for (const Setting& setting : kSettings) {
    if (setting.flag == nullptr || given.count(setting.flag) > 0) continue;
    std::string value = Env(setting.variable);
    if (const auto it = context->find(setting.key);
        value.empty() && it != context->end()) {
      value = it->second;
    }
    if (value.empty()) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(setting.flag);
    std::string error;
    if (flag != nullptr && !flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", setting.flag, ": ", error));
    }
  }
  // The token: $REPLEX_TOKEN is read where it is used; the context gives
  // only a file.
  const auto token = context->find("token_file");
  token_file = token == context->end() ? "" : token->second;
  return absl::OkStatus();
}

}  // namespace replex::cli
