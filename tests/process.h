// Child processes for end-to-end tests: start a real binary with its output
// in a log file, signal it, wait for it; the destructor kills what is left so
// no test leaves a process running.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace replex::testing {

// Not thread-safe.
class Process {
 public:
  static absl::StatusOr<std::unique_ptr<Process>> Start(
      const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int signal);
  // The exit code, 128 + signal when killed, or -1 on timeout.
  int Wait(absl::Duration timeout);
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

 private:
  Process(pid_t pid, std::string log_path) : pid_(pid), log_path_(log_path) {}
  pid_t pid_;
  std::string log_path_;
  int exit_code_ = -1;
  bool reaped_ = false;
};

// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);

// Waits for a non-empty file (a --port_file) and returns its contents.
absl::StatusOr<std::string> WaitForFile(const std::string& path,
                                        absl::Duration timeout);

// Starts a server binary with its log at `dir`/`name`.log, adding
// --port_file=`dir`/`name`.port, and waits for that file: returns
// "127.0.0.1:PORT" (the binary listens on loopback, e.g. --listen with port
// 0), or the log when it did not start.
absl::StatusOr<std::string> StartServer(const std::string& dir,
                                        const std::string& name,
                                        std::vector<std::string> argv,
                                        std::unique_ptr<Process>& process);

// Runs a shell command to completion; returns exit code and stdout+stderr.
std::pair<int, std::string> RunCommand(const std::string& command);

// GET http://127.0.0.1:`port``target` (e.g. a /metrics endpoint); the body
// of a 200 answer.
absl::StatusOr<std::string> HttpGet(int port, const std::string& target);

}  // namespace replex::testing
