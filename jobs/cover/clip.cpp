#include "jobs/cover/clip.h"

#include <algorithm>
#include <cmath>

#include "kernels/polygon.h"

namespace geoshard::cover {

void Rings::add_ring(const double* rx, const double* ry, size_t n) {
  if (n > 1 && rx[0] == rx[n - 1] && ry[0] == ry[n - 1]) --n;
  x.insert(x.end(), rx, rx + n);
  y.insert(y.end(), ry, ry + n);
  offset.push_back(x.size());
}

namespace {

// One Sutherland–Hodgman pass against the closed half-plane u >= c (kGreater) or u <= c, where
// u is x (kVertical: the line x = c) or y. (u, v) are the coordinate along the line's normal and
// along the line; crossings get u == c exactly and v interpolated.
template <bool kGreater>
void clip_pass(const std::vector<double>& iu, const std::vector<double>& iv, double c, std::vector<double>& ou,
               std::vector<double>& ov) {
  ou.clear();
  ov.clear();
  const size_t n = iu.size();
  if (n == 0) return;
  // side > 0 strictly inside, 0 on the line, < 0 strictly outside.
  auto side = [c](double u) { return kGreater ? (u > c) - (u < c) : (u < c) - (u > c); };
  auto cross = [&](size_t s, size_t e) {
    // Fixed order (smaller u first) so an edge and its reverse give the same crossing.
    size_t p = s, q = e;
    if (iu[q] < iu[p]) std::swap(p, q);
    const double pu = iu[p], pv = iv[p], qu = iu[q], qv = iv[q];
    double v = pv + (c - pu) * (qv - pv) / (qu - pu);
    const double vmin = std::min(pv, qv), vmax = std::max(pv, qv);
    v = v < vmin ? vmin : (v > vmax ? vmax : v);
    ou.push_back(c);
    ov.push_back(v);
  };
  size_t s = n - 1;
  int ss = side(iu[s]);
  for (size_t e = 0; e < n; ++e) {
    const int es = side(iu[e]);
    if (es >= 0) {
      if (ss < 0 && es > 0) cross(s, e);
      ou.push_back(iu[e]);
      ov.push_back(iv[e]);
    } else if (ss > 0) {
      cross(s, e);
    }
    s = e;
    ss = es;
  }
}

// Removes consecutive duplicates (cyclically) in place.
void dedupe(std::vector<double>& x, std::vector<double>& y) {
  size_t m = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (m > 0 && x[i] == x[m - 1] && y[i] == y[m - 1]) continue;
    x[m] = x[i];
    y[m] = y[i];
    ++m;
  }
  while (m > 1 && x[m - 1] == x[0] && y[m - 1] == y[0]) --m;
  x.resize(m);
  y.resize(m);
}

bool all_equal(const std::vector<double>& v, double c) {
  for (double a : v)
    if (a != c) return false;
  return true;
}

}  // namespace

bool has_vertex_inside(const Rings& rings, const geohash::Bounds& b) {
  for (size_t v = 0; v < rings.vertices(); ++v)
    if (rings.x[v] > b.west && rings.x[v] < b.east && rings.y[v] > b.south && rings.y[v] < b.north) return true;
  return false;
}

bool has_area_inside(const Rings& rings, const geohash::Bounds& b) {
  // Bit set of the rectangle's edge lines a vertex lies on (0: strictly inside).
  auto sides = [&](size_t v) {
    return (rings.x[v] == b.west ? 1 : 0) | (rings.x[v] == b.east ? 2 : 0) | (rings.y[v] == b.south ? 4 : 0) |
           (rings.y[v] == b.north ? 8 : 0);
  };
  for (size_t r = 0; r < rings.rings(); ++r) {
    const size_t v0 = rings.offset[r], v1 = rings.offset[r + 1];
    int prev = sides(v1 - 1);
    for (size_t v = v0; v < v1; ++v) {
      const int s = sides(v);
      // A vertex inside, or an edge between two boundary points on no common edge line (the
      // rectangle is convex: such an edge runs through its interior).
      if (s == 0 || (s & prev) == 0) return true;
      prev = s;
    }
  }
  // Every edge runs along the boundary: each ring is a closed walk around the perimeter, and its
  // signed area is a whole number of cells -- how often it winds around the open cell. Even-odd:
  // inside when the sum is odd. A ring along two edges winds 0 times, a hole equal to the cell
  // next to its shell's outline makes 1 - 1; the cell's own outline (a crossing that rounded
  // onto the cell's edge line, while GEOS says the closed cell is not covered) winds once.
  const double cell = (b.east - b.west) * (b.north - b.south);
  long long winds = 0;
  for (size_t r = 0; r < rings.rings(); ++r) {
    const size_t v0 = rings.offset[r], v1 = rings.offset[r + 1];
    const double twice = twice_signed_area(rings.x.data() + v0, rings.y.data() + v0, v1 - v0, b.west, b.south);
    winds += std::llround(twice / (2 * cell));
  }
  return (winds & 1) != 0;
}

void clip_rings(const Rings& in, const geohash::Bounds& b, Rings& out, ClipScratch& sc) {
  for (size_t r = 0; r < in.rings(); ++r) {
    const size_t v0 = in.offset[r], v1 = in.offset[r + 1];
    if (v1 - v0 < 3) continue;
    double x0 = in.x[v0], x1 = x0, y0 = in.y[v0], y1 = y0;
    for (size_t v = v0 + 1; v < v1; ++v) {
      x0 = std::min(x0, in.x[v]);
      x1 = std::max(x1, in.x[v]);
      y0 = std::min(y0, in.y[v]);
      y1 = std::max(y1, in.y[v]);
    }
    // Wholly outside one closed half-plane: nothing is left (the passes would return nothing).
    if (x1 < b.west || x0 > b.east || y1 < b.south || y0 > b.north) continue;
    sc.ax.assign(in.x.begin() + static_cast<ptrdiff_t>(v0), in.x.begin() + static_cast<ptrdiff_t>(v1));
    sc.ay.assign(in.y.begin() + static_cast<ptrdiff_t>(v0), in.y.begin() + static_cast<ptrdiff_t>(v1));
    // Only the passes whose line cuts the ring's box can change it.
    if (x0 < b.west) {
      clip_pass<true>(sc.ax, sc.ay, b.west, sc.bx, sc.by);
      std::swap(sc.ax, sc.bx);
      std::swap(sc.ay, sc.by);
    }
    if (x1 > b.east && sc.ax.size() >= 3) {
      clip_pass<false>(sc.ax, sc.ay, b.east, sc.bx, sc.by);
      std::swap(sc.ax, sc.bx);
      std::swap(sc.ay, sc.by);
    }
    if (y0 < b.south && sc.ax.size() >= 3) {
      clip_pass<true>(sc.ay, sc.ax, b.south, sc.by, sc.bx);
      std::swap(sc.ax, sc.bx);
      std::swap(sc.ay, sc.by);
    }
    if (y1 > b.north && sc.ax.size() >= 3) {
      clip_pass<false>(sc.ay, sc.ax, b.north, sc.by, sc.bx);
      std::swap(sc.ax, sc.bx);
      std::swap(sc.ay, sc.by);
    }
    dedupe(sc.ax, sc.ay);
    if (sc.ax.size() < 3) continue;
    // Zero area along one edge of the cell (the ring only touches the cell there).
    if (all_equal(sc.ax, b.west) || all_equal(sc.ax, b.east) || all_equal(sc.ay, b.south) ||
        all_equal(sc.ay, b.north))
      continue;
    out.x.insert(out.x.end(), sc.ax.begin(), sc.ax.end());
    out.y.insert(out.y.end(), sc.ay.begin(), sc.ay.end());
    out.offset.push_back(out.x.size());
  }
}

}  // namespace geoshard::cover
