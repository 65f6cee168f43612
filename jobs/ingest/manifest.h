// The image manifest reader of `ingest images` (docs/formats.md), exposed for the manifest fuzz
// target (tests/fuzz/fuzz_manifest.cpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "io/dead_letter.h"

namespace geoshard::ingest {

// A candidate photo before it is opened: what the manifest said (NaN / "" when not given).
struct Candidate {
  std::string record;  // how dead letters name it: "line N" of the manifest, or the path
  std::string rel;     // path relative to the root
  double lat = std::nan(""), lon = std::nan(""), heading = std::nan(""), hfov = std::nan("");
  std::string captured_at, projection;
};

// Manifest rows (CSV with a header, or JSON lines for .jsonl/.json) as candidates; each non-blank
// row counts in `records_in`, and rows that cannot be used go to `dl` with their line number and
// a reason (kBadManifestRow, kInvalidUtf8, kNonFiniteCoordinate, kCoordinateOutOfRange), so
// records_in == returned + dead letters written. Throws std::runtime_error naming the file when
// it cannot be read, is empty, or its header is wrong.
std::vector<Candidate> read_manifest(const std::string& path, DeadLetterWriter& dl, uint64_t& records_in);

}  // namespace geoshard::ingest
