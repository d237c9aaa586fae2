// Small helpers shared by the benchmark programs.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace replex::bench {

// The integers of the comma-separated value of flag `name`, such as
// "16,256,1024". An entry that is not a non-negative integer ends the program
// with a message naming the flag.
inline std::vector<int> Ints(absl::string_view name, const std::string& list) {
  std::vector<int> values;
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    int value;
    if (!absl::SimpleAtoi(part, &value) || value < 0) {
      std::fprintf(stderr,
                   "--%.*s: \"%.*s\" is not a non-negative integer; give a "
                   "comma-separated list such as 16,256\n",
                   static_cast<int>(name.size()), name.data(),
                   static_cast<int>(part.size()), part.data());
      std::exit(2);
    }
    values.push_back(value);
  }
  return values;
}

// The median; NaN for none.
inline double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// The CPUs this process may use, in order.
inline std::vector<int> AllowedCpus() {
  cpu_set_t allowed;
  sched_getaffinity(0, sizeof(allowed), &allowed);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  }
  return cpus;
}

// Confines the calling thread, and the threads and processes it starts from
// now on, to `cpus`.
inline void PinThisThread(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

// CPU-seconds the whole machine has spent idle since boot, all CPUs together
// (/proc/stat's idle and iowait). Over a run on an otherwise idle machine,
// the difference is capacity nothing used: barrier waits, message round
// trips, a slot with no work left. A virtual machine's host taking a CPU
// away while it runs slows the run without showing here; only the waits
// that this causes on the other CPUs do.
inline double IdleCpuSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user, nice, system, idle, iowait;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return (idle + iowait) / sysconf(_SC_CLK_TCK);
}

}  // namespace replex::bench
