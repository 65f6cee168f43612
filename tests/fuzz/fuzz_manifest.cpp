// Fuzz target: the image manifest reader of `ingest images` (jobs/ingest/manifest.h).
// Input: byte 0 picks the format (even: CSV with a header, odd: JSON lines), the rest is the
// file. Checked: the reader either throws std::runtime_error naming the file (a wrong header, an
// empty file) or accounts for every non-blank row -- returned or dead-lettered with a reason
// code -- and every row it returns is usable: a non-empty UTF-8 path, lat and lon both given and
// in range or both absent, a known projection, finite numbers.
#include <cmath>
#include <stdexcept>

#include "io/dead_letter.h"
#include "jobs/ingest/manifest.h"
#include "tests/fuzz/fuzz.h"

using namespace geoshard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool jsonl = data[0] & 1;
  const std::string path = fuzz::write_input(jsonl ? "manifest.jsonl" : "manifest.csv", data + 1, size - 1);
  // Non-blank lines the reader must account for (CSV: all but the header).
  uint64_t lines = 0;
  {
    std::string text(reinterpret_cast<const char*>(data + 1), size - 1), line;
    size_t start = 0;
    bool header = !jsonl;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      line = text.substr(start, end - start);
      const bool last = end == text.size();
      if (!(last && line.empty())) {
        if (header) header = false;
        else if (line.find_first_not_of(" \t\r") != std::string::npos) ++lines;
      }
      start = end + 1;
    }
  }
  DeadLetterWriter dl(fuzz::scratch_dir() + "/dead.jsonl");
  uint64_t records_in = 0;
  std::vector<ingest::Candidate> rows;
  try {
    rows = ingest::read_manifest(path, dl, records_in);
  } catch (const std::runtime_error& e) {
    // A whole-file error must name the file.
    FUZZ_CHECK(std::string(e.what()).find(path) != std::string::npos);
    return 0;
  }
  FUZZ_CHECK(records_in == lines);
  FUZZ_CHECK(records_in == rows.size() + dl.total());
  for (const auto& r : rows) {
    FUZZ_CHECK(!r.rel.empty());
    FUZZ_CHECK(is_valid_utf8(r.rel) && is_valid_utf8(r.captured_at));
    FUZZ_CHECK(std::isnan(r.lat) == std::isnan(r.lon));
    if (!std::isnan(r.lat)) FUZZ_CHECK(r.lat >= -90 && r.lat <= 90 && r.lon >= -180 && r.lon <= 180);
    FUZZ_CHECK(!std::isinf(r.heading) && !std::isinf(r.hfov));
    FUZZ_CHECK(r.projection.empty() || r.projection == "equirect" || r.projection == "perspective" ||
               r.projection == "fisheye");
    FUZZ_CHECK(r.record.rfind("line ", 0) == 0);
  }
  dl.close();
  return 0;
}
