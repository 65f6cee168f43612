// Reading TOML files (area specs, job files) with errors that name the file and line.
// Header-only: its users link tomlplusplus::tomlplusplus themselves.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <toml++/toml.h>

namespace geoshard {

// "FILE:LINE" of a node or error.
inline std::string toml_where(const std::string& path, const toml::source_region& r) {
  return path + ":" + std::to_string(r.begin.line);
}

// Parses `path`; throws std::runtime_error "cannot open WHAT 'path': no such file" or
// "WHAT FILE:LINE: description" (what: "area spec", "job file", ...).
inline toml::table parse_toml_file(const std::string& path, const std::string& what) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    if (!std::filesystem::exists(path)) throw std::runtime_error("cannot open " + what + " '" + path + "': no such file");
    throw std::runtime_error(what + " " + toml_where(path, e.source()) + ": " + std::string(e.description()));
  }
}

}  // namespace geoshard
