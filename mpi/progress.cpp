#include "mpi/progress.h"

#include <cstdio>

namespace geoshard {

ProgressMeter::ProgressMeter(std::string what, std::string unit, double interval_seconds, bool enabled)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      interval_(interval_seconds),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void ProgressMeter::update(uint64_t done, uint64_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  print(done, total, false);
}

void ProgressMeter::finish(uint64_t done) { print(done, 0, true); }

void ProgressMeter::print(uint64_t done, uint64_t total, bool final) {
  if (!enabled_) return;
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = t > 0 ? done / t : 0;
  if (final) {
    std::fprintf(stderr, "[%s] done: %llu %s in %.1f s (%.0f %s/s)\n", what_.c_str(),
                 static_cast<unsigned long long>(done), unit_.c_str(), t, rate, unit_.c_str());
  } else if (total > 0) {
    const double eta = rate > 0 && total > done ? (total - done) / rate : 0;
    std::fprintf(stderr, "[%s] %llu/%llu %s (%.0f%%), %.0f %s/s, ETA %.0f s\n", what_.c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), unit_.c_str(),
                 100.0 * done / total, rate, unit_.c_str(), eta);
  } else {
    std::fprintf(stderr, "[%s] %llu %s, %.0f %s/s\n", what_.c_str(), static_cast<unsigned long long>(done),
                 unit_.c_str(), rate, unit_.c_str());
  }
  std::fflush(stderr);
}

}  // namespace geoshard
