#include "io/output.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace geoshard {

void check_output_writable(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw std::runtime_error("no output path given");
  const fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) throw std::runtime_error("output '" + path + "' is a folder, expected a file name");
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) throw std::runtime_error("output folder '" + dir.string() + "' of '" + path + "' does not exist");
  // access() says what permissions say; a probe file also catches read-only mounts.
  const std::string probe = (dir / (".geoshard-probe-" + std::to_string(::getpid()))).string();
  std::FILE* f = std::fopen(probe.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write output '" + path + "': " + std::strerror(errno));
  std::fclose(f);
  std::remove(probe.c_str());
}

void write_atomically(const std::string& path, const std::function<void(const std::string& tmp)>& write) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    write(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "': " + why);
  }
}

}  // namespace geoshard
