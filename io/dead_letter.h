// Dead letters: every input record geoshard cannot use is written here, never dropped.
//
// One JSON object per line: {"source": FILE, "record": ID, "reason": CODE, "message": TEXT}.
// Reason codes are stable strings (docs/formats.md lists them); like absl::StatusCode they
// say whether fixing the input is needed (all input reasons) or a retry could help (none here:
// a retryable failure is an error of the run, not a dead letter).
// The writer counts per reason so a job can assert records_in == records_out + dead_letter_total.
//
// Thread-safety: one writer per thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace geoshard {

enum class Reason {
  kNoGeometry,           // feature without a geometry
  kEmptyGeometry,        // geometry present but empty
  kUnsupportedGeometry,  // geometry type the job cannot use (e.g. a point as a road)
  kNonFiniteCoordinate,  // NaN or infinity
  kCoordinateOutOfRange, // lon outside [-180,180] or lat outside [-90,90]
  kTooFewPoints,         // line with fewer than two distinct points
  kUnrepairablePolygon,  // make-valid left no polygonal part
  kInvalidUtf8,          // a text field is not valid UTF-8
  kDuplicateId,          // id already seen in this input (first one kept)
  kMissingId,            // id field empty or null
  kInvalidId,            // id not an integer where the table needs one
  // Records a table let through that still break an invariant of a later job (tables written
  // by other tools or older versions; ingest itself never writes them):
  kInvalidPolygon,       // area is not a valid polygon (self-intersection, ring < 4 points, unclosed ring)
  kGeometryFailure,      // GEOS (or the exact kernels) could not evaluate the record
  // Images and manifests:
  kFileNotFound,         // a listed or found file does not exist / cannot be opened
  kUnreadableImage,      // not an image GDAL can read (corrupt, zero bytes, unknown format)
  kBadManifestRow,       // manifest row with missing or extra columns, or a value that is not a number
  kImageTooLarge,        // (blur) more megapixels than --max-megapixels: not decoded
  kBadFieldOfView,       // (ingest images, blur) a field of view the photo's projection cannot have
  kUnsafeOutputPath,     // (blur) the photo's output would lie outside --out or be the input file itself
};

std::string_view reason_code(Reason r);
// The Reason of a code written by reason_code(); nullopt for an unknown code.
std::optional<Reason> reason_from_code(std::string_view code);

class DeadLetterWriter {
 public:
  // Opens `path` for writing (truncates). Throws std::runtime_error naming the path on failure.
  explicit DeadLetterWriter(const std::string& path);
  ~DeadLetterWriter();
  DeadLetterWriter(const DeadLetterWriter&) = delete;
  DeadLetterWriter& operator=(const DeadLetterWriter&) = delete;

  void write(std::string_view source, std::string_view record, Reason reason, std::string_view message);
  uint64_t total() const { return total_; }
  const std::map<std::string, uint64_t>& counts() const { return counts_; }
  const std::string& path() const { return path_; }
  // Flushes and closes; throws when the data did not reach the file.
  void close();

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t total_ = 0;
  std::map<std::string, uint64_t> counts_;
};

// True when s is well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF).
bool is_valid_utf8(std::string_view s);
// s itself when valid UTF-8; otherwise every non-ASCII byte written as \xNN.
std::string sanitize_utf8(std::string_view s);

}  // namespace geoshard
