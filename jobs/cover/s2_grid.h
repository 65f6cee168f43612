// The S2 grid (s2geometry, Hilbert order) as an exact, conservative INDEX for planar lon/lat
// geometry: the alternative to geohash for `cover --grid s2` (jobs/cover/cover.h) and for
// jobs/localise/localise_s2.h (docs/localise.md, "S2 grid").
//
// S2 cells are not lon/lat rectangles (their edges are geodesics on the sphere), while every
// predicate of the localisation is planar in lon/lat (GEOS semantics). So a cell is never used
// as geometry. It stands for a planar lon/lat RECTANGLE that surely holds it:
//
//   expanded_bounds(cell) = S2Cell::GetRectBound() (already conservative) grown by kMarginDeg
//   on every side; a bound whose longitude interval crosses the antimeridian (or is full, at the
//   poles) becomes the full width [-180, 180] (grown too): in the plane such a cell lies on both
//   sides of the ±180 line.
//
// Why the margin: a lon/lat point is assigned to a cell by S2CellId(S2LatLng::FromDegrees(..)),
// through trigonometry and rounding; the cell it gets may differ from the cell that holds the
// exact point by ~1e-15 of a radian (~1e-13 degrees). 1e-9 degrees (0.1 mm) is 10^4 times that,
// so every point of a cell AND every point assigned to it lies strictly inside the cell's
// expanded rectangle; the coverage's pieces are the area clipped to that rectangle, so a piece
// answers exactly (planar) for every point assigned to its cell.
//
// Keys: the coverage stores S2 leaf-cell ids (odd 64-bit numbers); a cell of level k is the
// closed range [range_min, range_max] of the leaf ids below it. For the flattening arithmetic the
// ids are halved (id >> 1): a level-k cell is then an aligned block of 4^(30-k) consecutive keys,
// exactly like a geohash cell in its Z-order key space (jobs/cover/flatten.h).
//
// This header includes no s2 header (s2 and OpenCV headers cannot share a translation unit,
// TOOLCHAIN.md): ids are plain uint64_t.
// Thread-safety: pure functions; the cache of cell bounds and neighbours is per thread (20 MiB).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/geohash.h"

namespace geoshard::s2grid {

constexpr int kMaxLevel = 30;
constexpr double kMarginDeg = 1e-9;
// Default level for `cover --grid s2`: level 16 cells are 120-170 m wide (average edge ~150 m),
// comparable to geohash precision 7 (153 m x 153 m at the equator).
constexpr int kDefaultLevel = 16;

// Leaf-id arithmetic (valid ids only).
inline uint64_t lsb(uint64_t id) { return id & (~id + 1); }
inline uint64_t range_min(uint64_t id) { return id - (lsb(id) - 1); }
inline uint64_t range_max(uint64_t id) { return id + (lsb(id) - 1); }
inline uint64_t lsb_for_level(int level) { return uint64_t{1} << (2 * (kMaxLevel - level)); }
inline int level_of(uint64_t id) { return kMaxLevel - __builtin_ctzll(id) / 2; }
inline uint64_t parent(uint64_t id, int level) {
  const uint64_t l = lsb_for_level(level);
  return (id & (~l + 1)) | l;
}
inline uint64_t child(uint64_t id, int i) {  // i in 0..3, Hilbert order
  const uint64_t l = lsb(id) >> 2;
  return id - lsb(id) + (2 * static_cast<uint64_t>(i) + 1) * l;
}
inline uint64_t face_cell(int face) { return (static_cast<uint64_t>(face) << 61) | (uint64_t{1} << 60); }

// The leaf cell a lon/lat point is assigned to (S2CellId(S2LatLng::FromDegrees(lat, lon))).
uint64_t leaf_of(double lon, double lat);
inline uint64_t cell_of(double lon, double lat, int level) { return parent(leaf_of(lon, lat), level); }

// The planar rectangle standing for the cell (see the header comment).
geohash::Bounds expanded_bounds(uint64_t id);

// Closed planar rectangles / segment tests, conservative by far less than kMarginDeg.
inline bool boxes_meet(const geohash::Bounds& a, const geohash::Bounds& b) {
  return !(a.west > b.east || a.east < b.west || a.south > b.north || a.north < b.south);
}
bool segment_meets_box(double ax, double ay, double bx, double by, const geohash::Bounds& b);

// The finest level <= max_level whose cells are at least `extent_deg` wide everywhere (a
// heuristic for start levels; correctness never depends on it).
int level_for_extent(double extent_deg, int max_level);

// Level-`level` cells whose expanded bounds meet the closed planar segment A-B (a flood fill
// over edge neighbours from A's cell; every cell holding a point of the segment is reached, see
// docs/localise.md). Replaces `out` with the cells, sorted.
void segment_cells(double ax, double ay, double bx, double by, int level, std::vector<uint64_t>& out);
// Level-`level` cells whose expanded bounds meet the closed box (same flood fill). Sorted.
void box_cells(const geohash::Bounds& box, int level, std::vector<uint64_t>& out);

}  // namespace geoshard::s2grid
