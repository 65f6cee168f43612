// Point-in-polygon and segment clipping against a ring set: the exact predicates behind the
// BOUNDARY cells of a coverage layer (DESIGN.md: "a piece in a BOUNDARY cell is clipped exactly
// against the cell's clipped piece").
//
// Ring set. A polygon with holes, or several polygons, given as rings of a flat vertex array
// (structure of arrays lon[], lat[]) with ring offsets: ring r has vertices
// [ring_offsets[r], ring_offsets[r+1]) (absolute indices). A ring is closed implicitly (last
// vertex -> first); a repeated closing vertex (OGR/GeoJSON style) is harmless (a zero-length
// edge). Rings need no orientation. Membership is the EVEN-ODD rule over all rings: a point is
// inside if a ray from it crosses an odd number of ring edges. For a valid polygon with holes,
// or a multipolygon whose parts do not overlap (what GEOS make-valid produces), that is exactly
// the polygon's interior. Planar geometry in lon/lat, like GEOS.
//
// point_in_rings: Outside / Inside / Boundary. Boundary = the point lies exactly on an edge or
// vertex. Decided exactly (no epsilon): crossing test with exact coordinate comparisons and the
// exact orient2d predicate (predicates.h), half-open in y so a ray through a vertex counts once.
// Deterministic, identical on host and device.
//
// clip_segment: the parts of segment A->B inside the CLOSED polygon (interior + boundary, as
// GEOS intersection: a segment running along an edge is inside), as sorted, merged, disjoint
// parameter intervals [t0, t1] with t1 > t0. Method: every t where the segment meets an edge
// (proper crossings, touching vertices, end points of collinear overlaps) is collected; the
// sub-intervals between consecutive t are classified -- those within a collinear overlap are
// on the boundary (inside); the others by point_in_rings of their midpoint (Boundary counts as
// inside). Which edges the segment meets is decided exactly (orient2d); the t values and the
// midpoint are rounded (a few ulps), so a sub-interval can only be misclassified if it is
// shorter than rounding or its midpoint is within rounding of an edge (a segment that grazes an
// edge at an angle ~1e-16 without being collinear). Cost O(k * E) for E edges and k crossings.
// A zero-length segment yields no interval (it has no length).
//
// clip_segment is device-safe without allocation: the caller passes a scratch buffer of
// clip_scratch_size(rings) doubles and an output array of clip_output_capacity(rings)
// intervals, or smaller ones and gets ClipStatus::kScratchTooSmall / kOutputTooSmall.
// Host conveniences returning std::vector are at the bottom.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/hd.h"
#include "kernels/predicates.h"

namespace geoshard {

enum class PipResult : uint8_t { kOutside = 0, kInside = 1, kBoundary = 2 };

// Non-owning view of a ring set (see header). ring_offsets has n_rings + 1 entries.
struct RingSet {
  const double* lon = nullptr;
  const double* lat = nullptr;
  const uint64_t* ring_offsets = nullptr;
  uint64_t n_rings = 0;

  GEOSHARD_HD uint64_t n_edges() const {
    return n_rings == 0 ? 0 : ring_offsets[n_rings] - ring_offsets[0];
  }
};

// Non-owning view of many polygons in CSR form: polygon j is the ring set of rings
// [poly_ring_offsets[j], poly_ring_offsets[j+1]); ring r has vertices
// [ring_offsets[r], ring_offsets[r+1]) of lon/lat. The layout the batch functions (batch.h) and
// the CUDA backend take.
struct PolygonSet {
  const double* lon = nullptr;
  const double* lat = nullptr;
  const uint64_t* ring_offsets = nullptr;       // n_rings + 1 entries
  const uint64_t* poly_ring_offsets = nullptr;  // n_polys + 1 entries
  uint64_t n_polys = 0;

  GEOSHARD_HD RingSet polygon(uint64_t j) const {
    return RingSet{lon, lat, ring_offsets + poly_ring_offsets[j],
                   poly_ring_offsets[j + 1] - poly_ring_offsets[j]};
  }
  GEOSHARD_HD uint64_t n_rings() const { return n_polys == 0 ? 0 : poly_ring_offsets[n_polys]; }
  GEOSHARD_HD uint64_t n_vertices() const { return n_rings() == 0 ? 0 : ring_offsets[n_rings()]; }
};

// Exact point-in-polygon, even-odd rule, Boundary for points on an edge or vertex.
GEOSHARD_HD_INLINE PipResult point_in_rings(const RingSet& rings, double x, double y) {
  bool inside = false;
  for (uint64_t r = 0; r < rings.n_rings; ++r) {
    const uint64_t begin = rings.ring_offsets[r], end = rings.ring_offsets[r + 1];
    if (end == begin) continue;
    for (uint64_t i = begin; i < end; ++i) {
      const uint64_t j = (i + 1 < end) ? i + 1 : begin;
      const double ax = rings.lon[i], ay = rings.lat[i];
      const double bx = rings.lon[j], by = rings.lat[j];
      // Edges wholly above or below the point can neither touch it nor cross its ray.
      if ((ay > y && by > y) || (ay < y && by < y)) continue;
      if (ay == by) {  // horizontal edge at the point's height: only touching is possible
        if ((ax <= x && x <= bx) || (bx <= x && x <= ax)) return PipResult::kBoundary;
        continue;
      }
      if (ax < x && bx < x) continue;  // wholly left: no touch, no crossing to the right
      // Half-open in y: an upward edge counts for ay <= y < by, a downward one for by <= y < ay,
      // so a ray through a vertex is counted once (or twice, for a local extremum).
      const bool up = ay <= y && y < by;
      const bool down = by <= y && y < ay;
      if (ax > x && bx > x) {  // wholly right: cannot touch; crosses iff it straddles
        if (up || down) inside = !inside;
        continue;
      }
      const int o = orient2d_sign(ax, ay, bx, by, x, y);
      // y lies within [min(ay,by), max(ay,by)] of a non-horizontal edge: collinear => on it.
      if (o == 0) return PipResult::kBoundary;
      if ((up && o > 0) || (down && o < 0)) inside = !inside;
    }
  }
  return inside ? PipResult::kInside : PipResult::kOutside;
}

// Twice the signed area of the ring x[0, n), y[0, n) (the last vertex joins the first; a closed
// ring's repeated vertex adds nothing), in double, about the origin (ox, oy) (a vertex of the ring
// or a corner near it keeps the products small): positive when the ring turns counter-clockwise.
GEOSHARD_HD_INLINE double twice_signed_area(const double* x, const double* y, uint64_t n, double ox, double oy) {
  double twice = 0;
  for (uint64_t v = 0, u = n - 1; v < n; u = v++) twice += (x[u] - ox) * (y[v] - oy) - (x[v] - ox) * (y[u] - oy);
  return twice;
}

struct TInterval {
  double t0, t1;
};

enum class ClipStatus : int { kOk = 0, kScratchTooSmall = 1, kOutputTooSmall = 2 };

// Scratch doubles clip_segment may need: 2 end parameters + one t per edge met (2 for a
// collinear edge) + 2 per collinear overlap.
GEOSHARD_HD_INLINE uint64_t clip_scratch_size(const RingSet& rings) { return 2 + 4 * rings.n_edges(); }
// Output intervals clip_segment may need (inside intervals alternate with gaps).
GEOSHARD_HD_INLINE uint64_t clip_output_capacity(const RingSet& rings) { return 1 + rings.n_edges(); }

namespace detail {

// In-place heapsort: O(n log n) without recursion or allocation (device-safe).
GEOSHARD_HD_INLINE void sift_down(double* a, uint64_t start, uint64_t n) {
  uint64_t root = start;
  while (2 * root + 1 < n) {
    uint64_t child = 2 * root + 1;
    if (child + 1 < n && a[child] < a[child + 1]) ++child;
    if (!(a[root] < a[child])) return;
    const double tmp = a[root];
    a[root] = a[child];
    a[child] = tmp;
    root = child;
  }
}
GEOSHARD_HD_INLINE void heap_sort(double* a, uint64_t n) {
  if (n < 2) return;
  for (uint64_t s = n / 2; s-- > 0;) sift_down(a, s, n);
  for (uint64_t end = n - 1; end > 0; --end) {
    const double tmp = a[0];
    a[0] = a[end];
    a[end] = tmp;
    sift_down(a, 0, end);
  }
}

// Parameter of the orthogonal projection of (vx, vy) onto the line A + t d (rounded).
GEOSHARD_HD_INLINE double project_t(double ax, double ay, double dx, double dy, double vx, double vy) {
  return ((vx - ax) * dx + (vy - ay) * dy) / (dx * dx + dy * dy);
}

GEOSHARD_HD_INLINE double clamp01(double t) { return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t); }

}  // namespace detail

// The exact cut of segment A-B, within its parameter range [t0, t1], by edge U-V: exact
// orientation predicates on the exact coordinates, so a segment drawn along an edge stays
// collinear with it (localise's boundary cells: jobs/localise/cuts.h).
//   kind kNone:    they do not meet within (t0, t1) (or only at t0 / t1);
//   kind kCut:     they meet at parameter ta, t0 < ta < t1 (rounded; exact when the meeting point
//                  is a vertex of either);
//   kind kOverlap: collinear, overlapping on [ta, tb] (clamped into [t0, t1], tb > ta).
// ta of a crossing inside both is o(U,V,A) / (o(U,V,A) - o(U,V,B)) from side determinants
// within 2^-40 (orient2d_accurate): accurate where the lines are nearly parallel, as when a
// road is drawn along a border to within rounding (the plain cross-product formula is off by
// up to a quarter of the segment there).
struct EdgeCut {
  enum Kind : int32_t { kNone = 0, kCut = 1, kOverlap = 2 };
  double ta = 0.0, tb = 0.0;
  int32_t kind = kNone;
};

GEOSHARD_HD_INLINE EdgeCut edge_cut(double ax, double ay, double bx, double by, double ux, double uy, double vx,
                                    double vy, double t0, double t1) {
  EdgeCut c;
  const double dx = bx - ax, dy = by - ay;
  const int oa = orient2d_sign(ax, ay, bx, by, ux, uy);
  const int ob = orient2d_sign(ax, ay, bx, by, vx, vy);
  if (oa == ob && oa != 0) return c;
  if (oa == 0 && ob == 0) {
    double ta = detail::project_t(ax, ay, dx, dy, ux, uy), tb = detail::project_t(ax, ay, dx, dy, vx, vy);
    if (ta > tb) {
      const double tmp = ta;
      ta = tb;
      tb = tmp;
    }
    if (ta < t0) ta = t0;
    if (tb > t1) tb = t1;
    if (tb > ta) c.ta = ta, c.tb = tb, c.kind = EdgeCut::kOverlap;
    return c;
  }
  const double vc = orient2d_accurate(ux, uy, vx, vy, ax, ay);
  const double vd = orient2d_accurate(ux, uy, vx, vy, bx, by);
  const int oc = (vc > 0.0) - (vc < 0.0), od = (vd > 0.0) - (vd < 0.0);
  if (oc == od && oc != 0) return c;
  double t;
  if (oa == 0) t = detail::project_t(ax, ay, dx, dy, ux, uy);
  else if (ob == 0) t = detail::project_t(ax, ay, dx, dy, vx, vy);
  else if (oc == 0) t = 0.0;
  else if (od == 0) t = 1.0;
  else t = vc / (vc - vd);  // vc, vd of opposite signs: no cancellation
  if (t > t0 && t < t1) c.ta = t, c.kind = EdgeCut::kCut;
  return c;
}

// Inside parts of segment (x0,y0)->(x1,y1) w.r.t. the closed polygon, see the header comment.
// scratch: scratch_cap doubles (clip_scratch_size(rings) always suffice); out: out_cap intervals
// (clip_output_capacity(rings) always suffice). *n_out receives the number of intervals.
GEOSHARD_HD_INLINE ClipStatus clip_segment(const RingSet& rings, double x0, double y0, double x1,
                                           double y1, double* scratch, uint64_t scratch_cap,
                                           TInterval* out, uint64_t out_cap, uint64_t* n_out) {
  *n_out = 0;
  const double dx = x1 - x0, dy = y1 - y0;
  if (x0 == x1 && y0 == y1) return ClipStatus::kOk;
  // t values grow from the front of scratch, collinear overlaps (pairs) from the back.
  uint64_t nt = 0, ov_begin = scratch_cap;
  if (scratch_cap < 2) return ClipStatus::kScratchTooSmall;
  scratch[nt++] = 0.0;
  scratch[nt++] = 1.0;

  for (uint64_t r = 0; r < rings.n_rings; ++r) {
    const uint64_t begin = rings.ring_offsets[r], end = rings.ring_offsets[r + 1];
    for (uint64_t i = begin; i < end; ++i) {
      const uint64_t j = (i + 1 < end) ? i + 1 : begin;
      const double ax = rings.lon[i], ay = rings.lat[i];
      const double bx = rings.lon[j], by = rings.lat[j];
      // Cheap reject: edge bounding box disjoint from the segment's.
      if ((ax < x0 && ax < x1 && bx < x0 && bx < x1) || (ax > x0 && ax > x1 && bx > x0 && bx > x1) ||
          (ay < y0 && ay < y1 && by < y0 && by < y1) || (ay > y0 && ay > y1 && by > y0 && by > y1))
        continue;
      const int oa = orient2d_sign(x0, y0, x1, y1, ax, ay);
      const int ob = orient2d_sign(x0, y0, x1, y1, bx, by);
      if (oa == ob && oa != 0) continue;  // edge wholly on one side of the segment's line
      if (oa == 0 && ob == 0) {
        // Collinear: the overlap (if any) is boundary, i.e. inside.
        double ta = detail::project_t(x0, y0, dx, dy, ax, ay);
        double tb = detail::project_t(x0, y0, dx, dy, bx, by);
        if (ta > tb) { const double tmp = ta; ta = tb; tb = tmp; }
        if (tb < 0.0 || ta > 1.0) continue;
        ta = detail::clamp01(ta);
        tb = detail::clamp01(tb);
        if (nt + 2 > ov_begin) return ClipStatus::kScratchTooSmall;
        scratch[nt++] = ta;
        scratch[nt++] = tb;
        if (tb > ta) {
          if (ov_begin < nt + 2) return ClipStatus::kScratchTooSmall;
          ov_begin -= 2;
          scratch[ov_begin] = ta;
          scratch[ov_begin + 1] = tb;
        }
        continue;
      }
      const double vc = orient2d_accurate(ax, ay, bx, by, x0, y0);
      const double vd = orient2d_accurate(ax, ay, bx, by, x1, y1);
      const int oc = (vc > 0.0) - (vc < 0.0), od = (vd > 0.0) - (vd < 0.0);
      if (oc == od && oc != 0) continue;  // segment wholly on one side of the edge's line
      // They meet in exactly one point; take its parameter from the exact case analysis.
      double t;
      if (oa == 0) {
        t = detail::project_t(x0, y0, dx, dy, ax, ay);
      } else if (ob == 0) {
        t = detail::project_t(x0, y0, dx, dy, bx, by);
      } else if (oc == 0) {
        t = 0.0;
      } else if (od == 0) {
        t = 1.0;
      } else {
        t = vc / (vc - vd);  // as edge_cut: accurate where the lines are nearly parallel
      }
      if (nt + 1 > ov_begin) return ClipStatus::kScratchTooSmall;
      scratch[nt++] = detail::clamp01(t);
    }
  }

  detail::heap_sort(scratch, nt);
  const uint64_t n_ov = (scratch_cap - ov_begin) / 2;
  for (uint64_t k = 0; k + 1 < nt; ++k) {
    const double lo = scratch[k], hi = scratch[k + 1];
    if (!(hi > lo)) continue;
    bool in = false;
    for (uint64_t v = 0; v < n_ov && !in; ++v)
      in = scratch[ov_begin + 2 * v] <= lo && hi <= scratch[ov_begin + 2 * v + 1];
    if (!in) {
      const double mid = 0.5 * (lo + hi);
      in = point_in_rings(rings, x0 + mid * dx, y0 + mid * dy) != PipResult::kOutside;
    }
    if (!in) continue;
    if (*n_out > 0 && out[*n_out - 1].t1 == lo) {
      out[*n_out - 1].t1 = hi;  // merge with the previous inside interval
    } else {
      if (*n_out >= out_cap) return ClipStatus::kOutputTooSmall;
      out[(*n_out)++] = TInterval{lo, hi};
    }
  }
  return ClipStatus::kOk;
}

// ---- Host conveniences ----

// An owning ring set (structure of arrays), handy for tests and for building coverage pieces.
struct RingSetData {
  std::vector<double> lon, lat;
  std::vector<uint64_t> ring_offsets{0};

  // Appends one ring given as n (lon, lat) vertices (closing vertex optional).
  void add_ring(const double* ring_lon, const double* ring_lat, size_t n) {
    lon.insert(lon.end(), ring_lon, ring_lon + n);
    lat.insert(lat.end(), ring_lat, ring_lat + n);
    ring_offsets.push_back(lon.size());
  }
  RingSet view() const {
    return RingSet{lon.data(), lat.data(), ring_offsets.data(), ring_offsets.size() - 1};
  }
};

// Inside parts of the segment as merged, sorted t-intervals (see clip_segment above).
inline std::vector<TInterval> clip_segment(const RingSet& rings, double x0, double y0, double x1,
                                           double y1) {
  std::vector<double> scratch(clip_scratch_size(rings));
  std::vector<TInterval> out(clip_output_capacity(rings));
  uint64_t n = 0;
  clip_segment(rings, x0, y0, x1, y1, scratch.data(), scratch.size(), out.data(), out.size(), &n);
  out.resize(n);
  return out;
}

}  // namespace geoshard
