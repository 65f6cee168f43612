// Sutherland–Hodgman clipping of a ring set to a CLOSED axis-aligned rectangle (a grid cell),
// the variant the coverage needs, written by hand because no library does exactly this:
//
//  - closed half-planes: a vertex ON a cell edge is inside and kept as it is (no new vertex);
//  - a crossing with a vertical line x = X gets x == X exactly and only y is computed (likewise
//    for horizontal lines), interpolated from the edge's end points taken in a fixed order so
//    the same edge gives the same crossing in either direction, and clamped to the edge's
//    y range, so every output vertex lies in the closed rectangle;
//  - every ring is clipped on its own; the output keeps what Sutherland–Hodgman keeps:
//    zero-width "bridges" along the rectangle's edges where a concave ring leaves and re-enters
//    the cell. By the even-odd rule (kernels/polygon.h) the clipped ring set is the area inside
//    the OPEN cell exactly (up to the rounding of created vertices); on the cell's edges it may
//    carry such bridges, which is why localise clips roads lying along a grid line against the
//    full area instead;
//  - consecutive duplicate vertices are removed; a ring left with fewer than 3 distinct vertices,
//    or lying wholly on one edge line of the rectangle (zero area along the cell edge), is dropped.
//
// Rings are stored open (no repeated closing vertex); close them when writing them out.
// Thread-safety: pure functions on the caller's buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/geohash.h"

namespace geoshard::cover {

// A ring set as open rings, structure of arrays: ring r has vertices [offset[r], offset[r+1]).
struct Rings {
  std::vector<double> x, y;
  std::vector<size_t> offset{0};

  size_t rings() const { return offset.size() - 1; }
  size_t vertices() const { return x.size(); }
  bool empty() const { return offset.size() == 1; }
  void clear() {
    x.clear();
    y.clear();
    offset.assign(1, 0);
  }
  // Appends one ring (n vertices, open or closed: a closing vertex equal to the first is dropped).
  void add_ring(const double* rx, const double* ry, size_t n);
};

// Reusable buffers for clip_rings (avoid reallocation in the refinement loop).
struct ClipScratch {
  std::vector<double> ax, ay, bx, by;
};

// Whether the ring set has area inside the open rectangle. True when a vertex lies inside or an
// edge runs through it; when every edge of every ring lies on the rectangle's boundary (each
// edge's end points share an edge line), true when the rings wind around the cell an odd number
// of times in all (the cell's own outline: a crossing rounded onto the cell's edge line), false
// otherwise -- e.g. a hole that is exactly the cell next to the shell clipped to the cell, or a
// ring running along two edges of the cell. Precondition: all vertices in the closed rectangle
// (as clip_rings produces them).
bool has_area_inside(const Rings& rings, const geohash::Bounds& b);

// True when some vertex lies strictly inside the open rectangle.
bool has_vertex_inside(const Rings& rings, const geohash::Bounds& b);

// Appends to `out` the rings of `in` clipped to the closed rectangle [b.west, b.east] x
// [b.south, b.north] (see the header comment). `out` is not cleared.
void clip_rings(const Rings& in, const geohash::Bounds& b, Rings& out, ClipScratch& scratch);

}  // namespace geoshard::cover
