// replexctl's results commands: fetch downloads a job's results files,
// report prints its analysis (and writes the HTML report), both through
// DownloadResults.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "cli/replexctl_commands.h"
#include "cli/replexctl_format.h"
#include "lib/client/jobs_client.h"
#include "lib/results/report_html.h"
#include "lib/results/results.h"
#include "replex/v1/job_service.pb.h"

namespace replex::cli {
namespace {

// Calls `on_chunk` for each chunk of the job's results (`path`, or all).
absl::Status Download(client::JobsClient& client, const std::string& id,
                      const std::string& path,
                      const client::ResultsChunkCallback& on_chunk) {
  v1::DownloadResultsRequest request;
  request.set_job_id(id);
  request.set_path(path);
  return client.DownloadResults(request, on_chunk);
}

absl::StatusOr<std::string> DownloadText(client::JobsClient& client,
                                         const std::string& id,
                                         const std::string& path) {
  std::string text;
  absl::Status status =
      Download(client, id, path, [&](const v1::ResultsChunk& chunk) {
        text += chunk.data();
        return true;
      });
  if (!status.ok()) return status;
  return text;
}

absl::Status AlreadyThere(const std::filesystem::path& path) {
  return absl::AlreadyExistsError(
      absl::StrCat(path.string(),
                   " exists; replexctl never overwrites a file: fetch into "
                   "an empty directory or move it away"));
}

}  // namespace

absl::Status Fetch(client::JobsClient& client, const std::string& id,
                   const std::string& dir, const std::string& path) {
  std::ofstream out;
  std::filesystem::path current;
  int64_t files = 0, bytes = 0;
  absl::Status problem;
  absl::Status status =
      Download(client, id, path, [&](const v1::ResultsChunk& chunk) {
        if (chunk.offset() == 0) {
          current = std::filesystem::path(dir) / chunk.path();
          std::error_code error;
          if (std::filesystem::exists(current, error)) {
            problem = AlreadyThere(current);
            return false;
          }
          std::filesystem::create_directories(current.parent_path(), error);
          out = std::ofstream(current, std::ios::binary);
          ++files;
        }
        out.write(chunk.data().data(), chunk.data().size());
        bytes += chunk.data().size();
        if (!out) {
          problem = absl::InternalError(
              absl::StrCat("cannot write ", current.string()));
          return false;
        }
        if (chunk.eof()) {
          out.close();
          std::fprintf(stderr, "  %-32s %12lld bytes\n", chunk.path().c_str(),
                       static_cast<long long>(chunk.size()));
        }
        return true;
      });
  if (!problem.ok()) return problem;
  if (!status.ok()) return status;
  std::fprintf(stderr, "fetched %lld files, %lld bytes, into %s\n",
               static_cast<long long>(files), static_cast<long long>(bytes),
               dir.c_str());
  return absl::OkStatus();
}

absl::Status Report(client::JobsClient& client, const std::string& id,
                    const std::string& html_file) {
  absl::StatusOr<std::string> analysis =
      DownloadText(client, id, results::kAnalysisFile);
  if (!analysis.ok()) return analysis.status();
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s", analysis->c_str());
  } else {
    absl::StatusOr<std::string> table = AnalysisTable(*analysis);
    if (!table.ok()) return table.status();
    std::printf("%s", table->c_str());
  }
  if (html_file.empty()) return absl::OkStatus();
  if (std::filesystem::exists(html_file)) return AlreadyThere(html_file);
  absl::StatusOr<std::string> energies =
      DownloadText(client, id, results::kEnergiesFile);
  if (!energies.ok()) return energies.status();
  absl::StatusOr<std::string> exchange =
      DownloadText(client, id, results::kExchangeFile);
  if (!exchange.ok()) return exchange.status();
  absl::StatusOr<std::string> html =
      results::ReportHtml({id, *analysis, *energies, *exchange});
  if (!html.ok()) return html.status();
  std::ofstream(html_file, std::ios::binary) << *html;
  std::fprintf(stderr, "wrote %s\n", html_file.c_str());
  return absl::OkStatus();
}

}  // namespace replex::cli
