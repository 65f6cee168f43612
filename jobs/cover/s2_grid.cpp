#include "jobs/cover/s2_grid.h"

#include <absl/container/flat_hash_set.h>
#include <s2/s2cell.h>
#include <s2/s2cell_id.h>
#include <s2/s2latlng.h>
#include <s2/s2latlng_rect.h>
#include <s2/s2metrics.h>

#include <algorithm>
#include <cmath>

namespace geoshard::s2grid {

uint64_t leaf_of(double lon, double lat) { return S2CellId(S2LatLng::FromDegrees(lat, lon)).id(); }

namespace {

geohash::Bounds compute_bounds(uint64_t id) {
  const S2LatLngRect r = S2Cell(S2CellId(id)).GetRectBound();
  geohash::Bounds b;
  b.south = r.lat_lo().degrees() - kMarginDeg;
  b.north = r.lat_hi().degrees() + kMarginDeg;
  if (r.lng().is_inverted() || r.lng().is_full()) {
    // Crosses the antimeridian (S1Interval also writes [-180, x] as the inverted [180, x]) or
    // holds a pole: in the plane the cell may lie on both sides of the ±180 line.
    b.west = -180.0 - kMarginDeg;
    b.east = 180.0 + kMarginDeg;
  } else {
    b.west = r.lng_lo().degrees() - kMarginDeg;
    b.east = r.lng_hi().degrees() + kMarginDeg;
  }
  return b;
}

// Roads and area edges arrive in spatial order, so a per-thread cache of each cell's bounds and
// edge neighbours saves most of the trigonometry of GetRectBound and of the (face, i, j)
// conversions. Direct-mapped (2^18 slots of 80 bytes, 20 MiB per thread that uses it, allocated
// on first use): no allocation afterwards, no rehashing.
struct CellInfo {
  uint64_t id = 0;  // 0 is not a valid cell id
  bool has_neighbours = false;
  geohash::Bounds b{};
  uint64_t nb[4] = {0, 0, 0, 0};
};
struct InfoCache {
  static constexpr int kBits = 18;
  std::vector<CellInfo> slots = std::vector<CellInfo>(size_t{1} << kBits);
};

CellInfo& info(uint64_t id) {
  thread_local InfoCache cache;
  const uint64_t h = (id ^ (id >> 29)) * 0x9E3779B97F4A7C15ull;
  CellInfo& s = cache.slots[h >> (64 - InfoCache::kBits)];
  if (s.id != id) {
    s.b = compute_bounds(id);
    s.id = id;
    s.has_neighbours = false;
  }
  return s;
}

}  // namespace

geohash::Bounds expanded_bounds(uint64_t id) { return info(id).b; }

bool segment_meets_box(double ax, double ay, double bx, double by, const geohash::Bounds& b) {
  if (std::max(ax, bx) < b.west || std::min(ax, bx) > b.east || std::max(ay, by) < b.south || std::min(ay, by) > b.north)
    return false;
  const double dx = bx - ax, dy = by - ay;
  if (dx == 0 || dy == 0) return true;  // an axis-parallel segment (or a point) meeting the box's bounds meets the box
  // Separating axis: the box misses the line iff all four corners are strictly on one side. The
  // rounding of these products is ~1e-16 x |segment| x 360, far below kMarginDeg x |segment|, so
  // no cell that truly meets the segment is missed.
  const double c[4] = {dx * (b.south - ay) - dy * (b.west - ax), dx * (b.south - ay) - dy * (b.east - ax),
                       dx * (b.north - ay) - dy * (b.west - ax), dx * (b.north - ay) - dy * (b.east - ax)};
  const bool all_pos = c[0] > 0 && c[1] > 0 && c[2] > 0 && c[3] > 0;
  const bool all_neg = c[0] < 0 && c[1] < 0 && c[2] < 0 && c[3] < 0;
  return !(all_pos || all_neg);
}

int level_for_extent(double extent_deg, int max_level) {
  const int l = S2::kMinWidth.GetLevelForMinValue(extent_deg * M_PI / 180.0);
  return std::clamp(l, 0, max_level);
}

namespace {

// Flood fill over edge neighbours: the cells of `level` reachable from `start` through cells
// accepted by `meets`. The accepted cells that hold points of a connected region form an
// edge-connected set (where a region passes exactly through a cell vertex, the other cells at
// that vertex meet it too, because bounds are expanded), so all of them are reached.
template <class Meets>
void flood(uint64_t start, Meets meets, std::vector<uint64_t>& out) {
  // Most floods see a handful of cells: a linear scan of `seen` beats hashing until it grows.
  thread_local std::vector<uint64_t> seen;
  thread_local absl::flat_hash_set<uint64_t> seen_set;
  thread_local std::vector<uint64_t> frontier;
  constexpr size_t kLinear = 48;
  seen.clear();
  seen_set.clear();
  frontier.clear();
  out.clear();
  auto insert = [&](uint64_t id) {
    if (seen.size() < kLinear) {
      if (std::find(seen.begin(), seen.end(), id) != seen.end()) return false;
      seen.push_back(id);
      if (seen.size() == kLinear) seen_set.insert(seen.begin(), seen.end());
      return true;
    }
    return seen_set.insert(id).second;
  };
  insert(start);
  frontier.push_back(start);
  while (!frontier.empty()) {
    const uint64_t id = frontier.back();
    frontier.pop_back();
    // The start cell holds (up to rounding, well inside the margin) the region's first point:
    // keep it even if a degenerate test says otherwise.
    CellInfo& c = info(id);
    if (id != start && !meets(c.b)) continue;
    out.push_back(id);
    if (!c.has_neighbours) {
      S2CellId nb[4];
      S2CellId(id).GetEdgeNeighbors(nb);
      for (int k = 0; k < 4; ++k) c.nb[k] = nb[k].id();
      c.has_neighbours = true;
    }
    const uint64_t nb[4] = {c.nb[0], c.nb[1], c.nb[2], c.nb[3]};  // `c` may be evicted below
    for (uint64_t n : nb)
      if (insert(n)) frontier.push_back(n);
  }
  std::sort(out.begin(), out.end());
  if (seen_set.size() > 4096) seen_set = absl::flat_hash_set<uint64_t>();  // do not keep a huge table per thread
}

}  // namespace

void segment_cells(double ax, double ay, double bx, double by, int level, std::vector<uint64_t>& out) {
  flood(cell_of(ax, ay, level), [&](const geohash::Bounds& b) { return segment_meets_box(ax, ay, bx, by, b); }, out);
}

void box_cells(const geohash::Bounds& box, int level, std::vector<uint64_t>& out) {
  flood(cell_of(box.west, box.south, level), [&](const geohash::Bounds& b) { return boxes_meet(box, b); }, out);
}

}  // namespace geoshard::s2grid
