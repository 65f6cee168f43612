// Progress lines on stderr for long work: done/total, rate, ETA. Throttled to one line per
// interval so logs under Slurm stay small. Only the caller decides who prints (rank 0).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace geoshard {

class ProgressMeter {
 public:
  // `what` names the work ("ingest roads"), `unit` the counted things ("features").
  ProgressMeter(std::string what, std::string unit, double interval_seconds = 2.0, bool enabled = true);
  // Reports `done` of `total` (0 = unknown); prints when the interval has passed.
  void update(uint64_t done, uint64_t total);
  // Prints the final line.
  void finish(uint64_t done);

 private:
  void print(uint64_t done, uint64_t total, bool final);
  std::string what_, unit_;
  double interval_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace geoshard
