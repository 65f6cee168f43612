// The road table (roads.h5): columnar, rows sorted by the Z-order key of each road's first
// vertex, with a cumulative road-km column so the road-km of any row range is one subtraction.
// docs/formats.md documents the HDF5 layout; `h5dump -g /roads roads.h5` shows it plainly.
//
// Invariants (checked by validate()):
//  - every per-row column has rows() entries; vertex_offset and cum_km have rows()+1;
//  - vertex_offset is non-decreasing, starts at 0, ends at lon.size() == lat.size();
//  - every road has ≥ 2 vertices, all finite, lon in [-180,180], lat in [-90,90];
//  - zkey[i] == geohash::zkey(first vertex of row i) and zkey is non-decreasing
//    (ties ordered by id, then part);
//  - cum_km[0] == 0 and cum_km[i+1] - cum_km[i] == haversine length of row i in km.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <mpi.h>

namespace geoshard {

// oneway column values. kOther covers values such as "reversible" and "alternating":
// neither direction is always allowed, so routing must not treat the road as one-way.
enum class Oneway : int8_t { kBackward = -1, kNo = 0, kForward = 1, kOther = 2 };

struct RoadTable {
  // Per row (one road, or one part of a multi-part source feature).
  std::vector<int64_t> id;
  std::vector<uint16_t> part;           // 0 for single-part features
  std::vector<uint16_t> highway;        // index into highway_classes
  std::vector<int8_t> oneway;           // Oneway values
  std::vector<std::string> name;        // UTF-8, may be empty
  std::vector<float> maxspeed_kmh;      // NaN when unknown
  std::vector<uint8_t> gt_intersection_link;  // ground truth from synth; empty when the source has none
  // 1 for a roundabout (OSM junction=roundabout or circular; a `junction` field elsewhere);
  // empty in tables written before the column existed (read as "not known": all 0).
  std::vector<uint8_t> roundabout;
  std::vector<uint64_t> zkey;           // geohash::zkey of the first vertex
  std::vector<uint64_t> vertex_offset;  // rows()+1
  std::vector<double> cum_km;           // rows()+1, cumulative geodesic length in km
  // Per vertex.
  std::vector<double> lon, lat;
  // Dictionary of highway classes ("motorway", "residential", ...), and "" for unknown.
  std::vector<std::string> highway_classes;
  // Name variants (name:<lang>): one entry per (row, language).
  std::vector<uint64_t> variant_row;
  std::vector<std::string> variant_lang, variant_name;
  // Extra string fields kept from the source (--keep), one column per field.
  std::vector<std::string> extra_names;
  std::vector<std::vector<std::string>> extra_values;

  uint64_t row_offset = 0;  // first row of this slice in the whole table (row-range reads)

  size_t rows() const { return id.size(); }
  double road_km() const { return cum_km.empty() ? 0.0 : cum_km.back() - cum_km.front(); }
  // Throws std::runtime_error describing the first broken invariant.
  void validate() const;
  // Bytes the table's contents occupy in memory (element sizes × counts, string contents
  // included; allocator overhead not).
  uint64_t bytes() const;
};

// Writes `t` as group /roads of a new HDF5 file (truncating). Throws naming the path.
void write_road_table(const RoadTable& t, const std::string& path, const std::string& source);

// Number of rows in a road table file.
uint64_t road_table_rows(const std::string& path);

// What read_road_table reads: every column, or only the geometry (id, part, zkey, vertex_offset,
// cum_km, lon, lat; the other columns stay empty) for jobs that need nothing else (localise:
// names and name variants are variable-length strings, the slowest columns to read).
enum class RoadColumns { kAll, kGeometry };

namespace h5 {
class Group;
}
// Checks readers apply (read_road_table, and jobs that read columns of their own): the rows'
// vertex offsets `off` (rows row_begin.., one more than rows) do not decrease and stay within
// the /roads group's vertices; highway class indexes are below the number of classes. Throw
// std::runtime_error naming `path` and the row (a table changed in place, or written by another tool).
void check_vertex_offsets(const h5::Group& roads, const std::vector<uint64_t>& off, uint64_t row_begin,
                          const std::string& path);
void check_highway_classes(const std::vector<uint16_t>& highway, size_t classes, uint64_t row_begin,
                           const std::string& path);

// Reads rows [begin, end) (all rows when end is omitted) with hyperslab reads, with their name
// variants. Extras (--keep columns) are read only for the whole table. With `comm`, the file is opened with MPI-IO.
RoadTable read_road_table(const std::string& path, uint64_t begin = 0,
                          std::optional<uint64_t> end = std::nullopt,
                          std::optional<MPI_Comm> comm = std::nullopt, RoadColumns columns = RoadColumns::kAll);

}  // namespace geoshard
