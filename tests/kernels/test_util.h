// Shared generators for the kernels tests (and tests/cuda, which must run the very same cases):
// random star-shaped polygons with holes, dyadic polygons whose edge points are exactly
// representable, and a CSR polygon set with points for the pip_batch tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/batch.h"
#include "kernels/polygon.h"

namespace geoshard::testing {

inline double uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}
inline int64_t uniform_int(std::mt19937_64& rng, int64_t lo, int64_t hi) {  // inclusive
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

// One star-shaped ring around (cx, cy): n vertices at increasing angles (gaps below 1.8*2pi/n),
// radii in [rmin, rmax]. Counter-clockwise if ccw, else clockwise.
inline void star_ring(std::mt19937_64& rng, double cx, double cy, double rmin, double rmax, int n, bool ccw,
                      std::vector<double>& lon, std::vector<double>& lat) {
  lon.clear();
  lat.clear();
  const double phase = uniform(rng, 0.0, 2.0 * M_PI);
  for (int i = 0; i < n; ++i) {
    const double a = phase + 2.0 * M_PI * (i + uniform(rng, 0.0, 0.8)) / n;
    const double r = uniform(rng, rmin, rmax);
    lon.push_back(cx + r * std::cos(a));
    lat.push_back(cy + r * std::sin(a));
  }
  if (!ccw) {
    std::reverse(lon.begin(), lon.end());
    std::reverse(lat.begin(), lat.end());
  }
}

// A valid polygon with one hole: outer star ring of radius in [R/2, R] (n >= 8 vertices), hole a
// star ring of radius in [0.1R, 0.35R] around the same centre (inside the outer ring's kernel:
// with angle gaps < 1.41 rad every outer chord stays farther than 0.38R from the centre).
// Ring orientation random (even-odd ignores it). If snap > 0, vertices are rounded to multiples
// of snap (dyadic grids make edge points exactly representable).
inline RingSetData star_polygon_with_hole(std::mt19937_64& rng, double cx, double cy, double R, int n_outer,
                                          int n_hole, double snap = 0.0) {
  RingSetData rs;
  std::vector<double> lon, lat;
  auto add = [&](double rmin, double rmax, int n) {
    star_ring(rng, cx, cy, rmin, rmax, n, uniform_int(rng, 0, 1) == 1, lon, lat);
    if (snap > 0.0)
      for (size_t i = 0; i < lon.size(); ++i) {
        lon[i] = std::round(lon[i] / snap) * snap;
        lat[i] = std::round(lat[i] / snap) * snap;
      }
    rs.add_ring(lon.data(), lat.data(), lon.size());
  };
  add(0.5 * R, R, n_outer);
  if (n_hole >= 3) add(0.1 * R, 0.35 * R, n_hole);
  return rs;
}

// Many polygons in CSR form plus points for pip_batch: each point tests one polygon; a third of
// the points are random near the polygon, a third are exactly on an edge or vertex (dyadic
// polygons: vertices on a 2^-10 grid, edge points a + k/16 (b - a) are exact), a third are
// nudged a few ulps off an edge. Deterministic for a seed.
struct PipCases {
  std::vector<double> vlon, vlat;               // all vertices
  std::vector<uint64_t> ring_offsets{0};        // per ring
  std::vector<uint64_t> poly_ring_offsets{0};   // per polygon
  std::vector<double> lon, lat;                 // points
  std::vector<uint32_t> poly_of_point;

  PolygonSet view() const {
    return PolygonSet{vlon.data(), vlat.data(), ring_offsets.data(), poly_ring_offsets.data(),
                      poly_ring_offsets.size() - 1};
  }
};

inline PipCases make_pip_cases(uint64_t seed, int n_polys, int points_per_poly) {
  std::mt19937_64 rng(seed);
  PipCases pc;
  for (int j = 0; j < n_polys; ++j) {
    const double cx = std::round(uniform(rng, -170.0, 170.0)), cy = std::round(uniform(rng, -80.0, 80.0));
    const double R = uniform(rng, 0.5, 5.0);
    const RingSetData poly = star_polygon_with_hole(rng, cx, cy, R, static_cast<int>(uniform_int(rng, 8, 40)),
                                                    static_cast<int>(uniform_int(rng, 0, 12)), 1.0 / 1024);
    const uint64_t vbase = pc.vlon.size();
    pc.vlon.insert(pc.vlon.end(), poly.lon.begin(), poly.lon.end());
    pc.vlat.insert(pc.vlat.end(), poly.lat.begin(), poly.lat.end());
    for (size_t r = 1; r < poly.ring_offsets.size(); ++r) pc.ring_offsets.push_back(vbase + poly.ring_offsets[r]);
    pc.poly_ring_offsets.push_back(pc.ring_offsets.size() - 1);
    const size_t nv = poly.lon.size();
    for (int k = 0; k < points_per_poly; ++k) {
      double x, y;
      const int kind = k % 3;
      if (kind == 0) {
        x = cx + uniform(rng, -1.1 * R, 1.1 * R);
        y = cy + uniform(rng, -1.1 * R, 1.1 * R);
      } else {
        // An edge point: pick a vertex; its ring's next vertex closes the edge.
        const size_t i = static_cast<size_t>(uniform_int(rng, 0, static_cast<int64_t>(nv) - 1));
        size_t r = 0;
        while (poly.ring_offsets[r + 1] <= i) ++r;
        const size_t nxt = (i + 1 < poly.ring_offsets[r + 1]) ? i + 1 : poly.ring_offsets[r];
        const double f = static_cast<double>(uniform_int(rng, 0, 16)) / 16.0;
        x = poly.lon[i] + f * (poly.lon[nxt] - poly.lon[i]);
        y = poly.lat[i] + f * (poly.lat[nxt] - poly.lat[i]);
        if (kind == 2) {
          const int steps = static_cast<int>(uniform_int(rng, 1, 3));
          for (int s = 0; s < steps; ++s) {
            x = std::nextafter(x, uniform_int(rng, 0, 1) ? 1e300 : -1e300);
            if (uniform_int(rng, 0, 1)) y = std::nextafter(y, uniform_int(rng, 0, 1) ? 1e300 : -1e300);
          }
        }
      }
      pc.lon.push_back(x);
      pc.lat.push_back(y);
      pc.poly_of_point.push_back(static_cast<uint32_t>(j));
    }
  }
  return pc;
}

// Segments and edges for cut_batch, on a coarse integer grid (coordinates -8..8, so crossings
// at vertices, collinear overlaps and shared end points are frequent), some segments limited to
// a part [t0, t1] of their parameter range (as a boundary cell's piece is), each segment with
// 0..edges_per_segment edges, a few of them zero-length. Deterministic for a seed.
struct CutCases {
  std::vector<double> ax, ay, bx, by, t0, t1;
  std::vector<double> ux, uy, vx, vy;
  std::vector<uint32_t> segment_of_edge;
  CutSet view() const {
    return CutSet{ax.data(), ay.data(), bx.data(), by.data(), t0.data(), t1.data(), ax.size(),
                  ux.data(), uy.data(), vx.data(), vy.data(), segment_of_edge.data(), ux.size()};
  }
};

inline CutCases make_cut_cases(uint64_t seed, int n_segments, int edges_per_segment) {
  std::mt19937_64 rng(seed);
  CutCases c;
  auto coord = [&] { return static_cast<double>(uniform_int(rng, -8, 8)); };
  for (int k = 0; k < n_segments; ++k) {
    double ax = coord(), ay = coord(), bx = coord(), by = coord();
    if (ax == bx && ay == by) bx += 1;  // segments have a length (the walk drops others)
    c.ax.push_back(ax), c.ay.push_back(ay), c.bx.push_back(bx), c.by.push_back(by);
    double t0 = 0, t1 = 1;
    if (uniform_int(rng, 0, 2) == 0) {  // a part, with dyadic ends
      t0 = static_cast<double>(uniform_int(rng, 0, 7)) / 16;
      t1 = static_cast<double>(uniform_int(rng, 9, 16)) / 16;
    }
    c.t0.push_back(t0), c.t1.push_back(t1);
    const int ne = static_cast<int>(uniform_int(rng, 0, edges_per_segment));
    for (int e = 0; e < ne; ++e) {
      double ux, uy, vx, vy;
      const int kind = static_cast<int>(uniform_int(rng, 0, 5));
      if (kind == 0) {  // on the segment's line (collinear: overlapping or not)
        const double f = static_cast<double>(uniform_int(rng, -8, 24)) / 8, g = static_cast<double>(uniform_int(rng, -8, 24)) / 8;
        ux = ax + f * (bx - ax), uy = ay + f * (by - ay), vx = ax + g * (bx - ax), vy = ay + g * (by - ay);
      } else if (kind == 1) {  // from a vertex of the segment
        ux = uniform_int(rng, 0, 1) ? ax : bx, uy = ux == ax ? ay : by, vx = coord(), vy = coord();
      } else {
        ux = coord(), uy = coord(), vx = coord(), vy = coord();
      }
      c.ux.push_back(ux), c.uy.push_back(uy), c.vx.push_back(vx), c.vy.push_back(vy);
      c.segment_of_edge.push_back(static_cast<uint32_t>(k));
    }
  }
  return c;
}

}  // namespace geoshard::testing
