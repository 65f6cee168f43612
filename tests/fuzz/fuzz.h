// Shared by the libFuzzer targets of tests/fuzz (docs/reliability.md, "Fuzzing").
// Each target defines LLVMFuzzerTestOneInput; it is linked either with libFuzzer (clang,
// -DGEOSHARD_FUZZ=ON: coverage-guided search) or with replay_main.cpp (any compiler: runs the
// seed and regression corpus once, as a unit test).
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

// An invariant of the code under test: a violation aborts, which libFuzzer reports as a crash
// (with the input saved) and the replay test as a failure.
#define FUZZ_CHECK(cond)                                                                       \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace geoshard::fuzz {

// A private folder for the files an input is written to, made once per process and removed
// at exit (libFuzzer ends with exit(), so atexit handlers run).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/geoshard-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    static std::string keep = tmpl;
    std::atexit([] { std::system(("rm -rf '" + keep + "'").c_str()); });
    return tmpl;
  }();
  return dir;
}

// Writes bytes to scratch_dir()/name and returns the path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  FUZZ_CHECK(out.good());
  return path;
}

}  // namespace geoshard::fuzz
