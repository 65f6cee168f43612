// The image index (images.h5): one row per photo, sorted by the geohash Z-order key of its
// capture point and weighted by megapixels, so the engine plans image tasks by geohash density
// exactly as it plans roads by road-km (mpi/engine.h plan_for_table over zkey + cum_mp).
// Photos without a location get zkey = UINT64_MAX: they sort last and form a task of their own
// (a cell that cannot be split further), never lost. `h5dump -g /images images.h5` shows it.
//
// Invariants (validate()): every column has rows() entries, cum_mp rows()+1 with cum_mp[0] = 0
// and cum_mp[i+1] - cum_mp[i] = megapixels[i]; zkey non-decreasing, == geohash::zkey(lon, lat)
// for located rows; width, height > 0; projection one of "equirect", "perspective", "fisheye".
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace geoshard {

constexpr uint64_t kNoLocationKey = std::numeric_limits<uint64_t>::max();
// The largest width or height a row may have (read_image_table refuses more): 2^20 pixels.
constexpr int kMaxImageSide = 1 << 20;

struct ImageTable {
  std::string root;                  // folder the paths are relative to (absolute)
  std::vector<std::string> path;     // relative to root, '/' separators
  std::vector<double> lon, lat;      // degrees; NaN when the photo has no location
  std::vector<uint64_t> zkey;        // geohash::zkey(lon, lat), kNoLocationKey without location
  std::vector<int32_t> width, height;            // pixels as stored (before EXIF orientation)
  std::vector<double> megapixels;                // width * height / 1e6
  std::vector<double> cum_mp;                    // rows()+1, cumulative megapixels
  std::vector<std::string> projection;           // "equirect" | "perspective" | "fisheye"
  std::vector<double> hfov_deg;                  // horizontal field of view; NaN when unknown
  std::vector<double> heading_deg;               // camera heading (GPSImgDirection / manifest); NaN
  std::vector<std::string> captured_at;          // as given (EXIF DateTimeOriginal or manifest); may be empty
  std::vector<uint8_t> orientation;              // EXIF orientation 1..8 (1 when absent)
  std::vector<std::string> location_source;      // "manifest", "exif" or "" (none)

  size_t rows() const { return path.size(); }
  void validate() const;  // throws std::runtime_error naming the broken invariant
};

// Why a photo of this projection cannot have this horizontal field of view (degrees), or "" when
// it can: NaN (not known) always can; else it must be above 0 and below 180 for a pinhole
// ("perspective"; 180 and more is no pinhole's), below 360 for a fisheye, at most 360 for an
// equirect (a cropped panorama covers less). The rule of find_regions (jobs/blur/anonymise.h),
// checked where the field of view enters (ingest images) and again before a photo is searched.
std::string field_of_view_problem(const std::string& projection, double hfov_deg);

void write_image_table(const ImageTable& t, const std::string& path, const std::string& source);
// Rows [begin, end) (all when end is omitted).
ImageTable read_image_table(const std::string& path, uint64_t begin = 0, std::optional<uint64_t> end = std::nullopt);
uint64_t image_table_rows(const std::string& path);

}  // namespace geoshard
