// The job a benchmark runs: its spec with defaults filled in and its
// System, loaded as the engine loads them, shared by the benchmarks that run
// OpenMM beside replex.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/engine/engine.h"
#include "lib/spec/spec.h"

namespace replex::bench {

struct BenchJob {
  v1::JobSpec spec;
  std::shared_ptr<const engine::Model> model;
};

// Loads the job at `path` (YAML), fills its defaults and loads its model.
inline absl::StatusOr<BenchJob> LoadBenchJob(const std::string& path) {
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(path);
  if (!spec.ok()) return spec.status();
  spec::ApplyDefaults(*spec);
  absl::StatusOr<std::shared_ptr<const engine::Model>> model =
      engine::Model::Load(spec->system_xml(), spec->state_xml(), spec->pdb());
  if (!model.ok()) return model.status();
  return BenchJob{*std::move(spec), *std::move(model)};
}

// "0.950 0.871 ", the per-run figures behind a median.
inline std::string Ratios(const std::vector<double>& ratios) {
  std::string each;
  for (double r : ratios) absl::StrAppend(&each, absl::StrFormat("%.3f ", r));
  return each;
}

}  // namespace replex::bench
