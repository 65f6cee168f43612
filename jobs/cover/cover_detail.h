// Internals shared by the two grids of jobs/cover (cover.cpp: geohash and the MPI driver;
// cover_s2.cpp: the S2 grid). Not an API: include only from jobs/cover/*.cpp.
#pragma once

#include <cstdint>
#include <memory>

#include "io/area_table.h"
#include "io/geos.h"
#include "jobs/cover/flatten.h"

namespace geoshard::cover::detail {

struct LayerCounters {
  uint64_t areas = 0, interior_cells = 0, interior_at_p = 0, boundary_cells = 0, touch_dropped = 0, geos_calls = 0;
  double seconds = 0;
};

uint64_t saturating_add(uint64_t a, uint64_t b);

// One polygon of an area as a GEOS Polygon, coordinates copied as they are.
geos::Geom polygon_geometry(const geos::Context& c, const AreaLayer& l, size_t a, uint64_t p);

// The area's polygons, each prepared, with its shell's bounding box (see cover.cpp).
struct PreparedPart {
  geos::Geom geom;
  geos::Prepared prep;
  double x0, y0, x1, y1;
};
// Prepares every non-empty polygon of area a. Throws std::runtime_error naming the area.
std::vector<PreparedPart> prepare_parts(const geos::Context& c, const AreaLayer& l, size_t a);

// Covers the areas of one layer, appending raw entries (and pieces) to the layer it was made for.
class Coverer {
 public:
  virtual ~Coverer() = default;
  virtual void cover(const AreaLayer& l, size_t a) = 0;
};

// The S2 grid (cover_s2.cpp): boundary cells of `level`, entries as leaf-id ranges.
std::unique_ptr<Coverer> make_s2_coverer(const geos::Context& c, int level, bool clip_first, RawLayer& out,
                                         LayerCounters& counters);

}  // namespace geoshard::cover::detail
