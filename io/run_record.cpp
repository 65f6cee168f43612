#include "io/run_record.h"

#include "geoshard_git_rev.h"  // generated at build time (cmake/GitRevision.cmake)

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>

#ifndef GEOSHARD_VERSION
#define GEOSHARD_VERSION "0.0.0"
#endif
#ifndef GEOSHARD_GIT_REV
#define GEOSHARD_GIT_REV "unknown"
#endif

namespace geoshard {

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

RunRecord::RunRecord(std::string command, std::vector<std::string> args)
    : command_(std::move(command)),
      args_(std::move(args)),
      start_wall_(std::chrono::system_clock::now()),
      start_(std::chrono::steady_clock::now()) {}

void RunRecord::set_accounting(uint64_t records_in, uint64_t records_out, uint64_t dead_letter_total,
                               const std::map<std::string, uint64_t>& dead_letter) {
  accounting_["records_in"] = records_in;
  accounting_["records_out"] = records_out;
  accounting_["dead_letter_total"] = dead_letter_total;
  accounting_["dead_letter"] = nlohmann::json::object();
  for (const auto& [k, v] : dead_letter) accounting_["dead_letter"][k] = v;
}

void RunRecord::set_status(std::string status, std::string error) {
  status_ = std::move(status);
  error_ = std::move(error);
}

nlohmann::json RunRecord::finish() {
  const auto end_wall = std::chrono::system_clock::now();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  nlohmann::json j;
  j["command"] = command_;
  j["args"] = args_;
  j["version"] = version();
  j["git_revision"] = git_revision();
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  j["host"] = host;
  if (const char* id = std::getenv("SLURM_JOB_ID")) j["slurm_job_id"] = id;
  j["start_time"] = iso8601_utc(start_wall_);
  j["end_time"] = iso8601_utc(end_wall);
  j["wall_seconds"] = wall;
  j["peak_rss_bytes"] = peak_rss_bytes();
  j["status"] = status_;
  if (!error_.empty()) j["error"] = error_;
  // Accounting keys are always present so consumers need no special case.
  j["records_in"] = accounting_.value("records_in", uint64_t{0});
  j["records_out"] = accounting_.value("records_out", uint64_t{0});
  j["dead_letter_total"] = accounting_.value("dead_letter_total", uint64_t{0});
  j["dead_letter"] = accounting_.value("dead_letter", nlohmann::json::object());
  for (auto it = extra_.begin(); it != extra_.end(); ++it) j[it.key()] = it.value();
  return j;
}

void RunRecord::write(const nlohmann::json& record, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw std::runtime_error("cannot write run record '" + path + "': " + std::strerror(errno));
    out << record.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    out.close();
    if (!out) throw std::runtime_error("cannot write run record '" + path + "': " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename run record to '" + path + "': " + std::strerror(errno));
}

std::string RunRecord::version() { return GEOSHARD_VERSION; }
std::string RunRecord::git_revision() { return GEOSHARD_GIT_REV; }

uint64_t RunRecord::peak_rss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace geoshard
