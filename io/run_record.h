// The JSON run record every geoshard command writes: what ran, on what, how long, how much
// memory, and the record accounting (records_in == records_out + dead_letter_total).
// docs/run-record.md lists the keys; jobs add their own under their own names.
//
// Thread-safety: not thread-safe; one per command.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace geoshard {

class RunRecord {
 public:
  // Starts the clock. `command` is e.g. "ingest roads"; `args` the command line as given.
  RunRecord(std::string command, std::vector<std::string> args);

  // Job-specific keys (counts, timings, files). Use snake_case names.
  nlohmann::json& extra() { return extra_; }

  void set_accounting(uint64_t records_in, uint64_t records_out, uint64_t dead_letter_total,
                      const std::map<std::string, uint64_t>& dead_letter);
  // "ok", "failed", "too_many_bad_records", "interrupted".
  void set_status(std::string status, std::string error = "");

  // Stops the clock and measures peak RSS; returns the whole record.
  nlohmann::json finish();
  // Writes the record (write to a temporary name, then rename). Throws naming the path.
  static void write(const nlohmann::json& record, const std::string& path);

  static std::string version();
  static std::string git_revision();
  // Peak resident set size of this process so far, bytes.
  static uint64_t peak_rss_bytes();

 private:
  std::string command_;
  std::vector<std::string> args_;
  std::chrono::system_clock::time_point start_wall_;
  std::chrono::steady_clock::time_point start_;
  nlohmann::json extra_ = nlohmann::json::object();
  nlohmann::json accounting_ = nlohmann::json::object();
  std::string status_ = "ok";
  std::string error_;
};

// ISO 8601 UTC, seconds precision: 2026-11-22T00:21:29Z.
std::string iso8601_utc(std::chrono::system_clock::time_point t);

}  // namespace geoshard
