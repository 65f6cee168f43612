// Test helpers for cover: random valid area layers (polygons with holes, multipolygons, edges
// on grid lines, vertices at grid corners, nested and adjacent areas), GEOS as the oracle, and
// the property check of a coverage layer against its areas on sampled points.
#pragma once

#include <geos_c.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "io/area_table.h"
#include "io/coverage_table.h"
#include "kernels/geohash.h"
#include "kernels/polygon.h"

namespace geoshard::testing {

// ---- GEOS, for building fixtures and as the oracle ----

class Geos {
 public:
  Geos() : h_(GEOS_init_r()) {}
  ~Geos() { GEOS_finish_r(h_); }
  Geos(const Geos&) = delete;
  Geos& operator=(const Geos&) = delete;
  GEOSContextHandle_t h() const { return h_; }

 private:
  GEOSContextHandle_t h_;
};

struct GDel {
  GEOSContextHandle_t h;
  void operator()(GEOSGeometry* g) const {
    if (g) GEOSGeom_destroy_r(h, g);
  }
};
using G = std::unique_ptr<GEOSGeometry, GDel>;
struct PDel {
  GEOSContextHandle_t h;
  void operator()(const GEOSPreparedGeometry* g) const {
    if (g) GEOSPreparedGeom_destroy_r(h, g);
  }
};
using PG = std::unique_ptr<const GEOSPreparedGeometry, PDel>;

inline G wrap(const Geos& g, GEOSGeometry* p) {
  if (!p) throw std::runtime_error("GEOS returned null");
  return G(p, GDel{g.h()});
}

inline GEOSGeometry* raw_ring(const Geos& g, std::vector<double> x, std::vector<double> y) {
  if (x.front() != x.back() || y.front() != y.back()) {
    x.push_back(x.front());
    y.push_back(y.front());
  }
  GEOSCoordSequence* s = GEOSCoordSeq_copyFromArrays_r(g.h(), x.data(), y.data(), nullptr, nullptr,
                                                       static_cast<unsigned>(x.size()));
  return GEOSGeom_createLinearRing_r(g.h(), s);
}

inline G polygon(const Geos& g, const std::vector<double>& x, const std::vector<double>& y,
                 const std::vector<std::pair<std::vector<double>, std::vector<double>>>& holes = {}) {
  std::vector<GEOSGeometry*> hs;
  for (const auto& [hx, hy] : holes) hs.push_back(raw_ring(g, hx, hy));
  return wrap(g, GEOSGeom_createPolygon_r(g.h(), raw_ring(g, x, y), hs.data(), static_cast<unsigned>(hs.size())));
}

inline G rect(const Geos& g, double x0, double y0, double x1, double y1) {
  return wrap(g, GEOSGeom_createRectangle_r(g.h(), x0, y0, x1, y1));
}

// Star-shaped polygon around (cx, cy): n vertices at sorted angles, radii in [r/3, r] (simple).
inline std::pair<std::vector<double>, std::vector<double>> star(std::mt19937_64& rng, double cx, double cy, double r,
                                                                int n, double rmin_frac = 1.0 / 3) {
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> ang(n);
  for (auto& a : ang) a = u(rng) * 2 * M_PI;
  std::sort(ang.begin(), ang.end());
  std::vector<double> x, y;
  for (double a : ang) {
    const double rr = r * (rmin_frac + (1 - rmin_frac) * u(rng));
    x.push_back(cx + rr * std::cos(a));
    y.push_back(cy + rr * std::sin(a) * 0.8);
  }
  return {x, y};
}

// Appends a valid (multi)polygon as one area of the layer (rings as GEOS holds them).
inline void add_area(const Geos& g, AreaLayer& l, const GEOSGeometry* geom, const std::string& id) {
  if (l.polygon_offset.empty()) l.polygon_offset.push_back(0);
  if (l.ring_offset.empty()) l.ring_offset.push_back(0);
  if (l.vertex_offset.empty()) l.vertex_offset.push_back(0);
  const GEOSContextHandle_t h = g.h();
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  auto add_ring = [&](const GEOSGeometry* ring) {
    const GEOSCoordSequence* s = GEOSGeom_getCoordSeq_r(h, ring);
    unsigned n = 0;
    GEOSCoordSeq_getSize_r(h, s, &n);
    for (unsigned i = 0; i < n; ++i) {
      double x, y;
      GEOSCoordSeq_getXY_r(h, s, i, &x, &y);
      l.lon.push_back(x);
      l.lat.push_back(y);
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
    l.vertex_offset.push_back(l.lon.size());
  };
  auto add_polygon = [&](const GEOSGeometry* p) {
    if (GEOSisEmpty_r(h, p)) return;
    add_ring(GEOSGetExteriorRing_r(h, p));
    const int nh = GEOSGetNumInteriorRings_r(h, p);
    for (int i = 0; i < nh; ++i) add_ring(GEOSGetInteriorRingN_r(h, p, i));
    l.ring_offset.push_back(l.vertex_offset.size() - 1);
  };
  const int type = GEOSGeomTypeId_r(h, geom);
  if (type == GEOS_POLYGON) {
    add_polygon(geom);
  } else {
    const int n = GEOSGetNumGeometries_r(h, geom);
    for (int i = 0; i < n; ++i) {
      const GEOSGeometry* part = GEOSGetGeometryN_r(h, geom, i);
      if (GEOSGeomTypeId_r(h, part) == GEOS_POLYGON) add_polygon(part);
    }
  }
  l.polygon_offset.push_back(l.ring_offset.size() - 1);
  l.id.push_back(id);
  l.area_name.push_back("area " + id);
  l.repaired.push_back(0);
  l.min_lon.push_back(x0);
  l.min_lat.push_back(y0);
  l.max_lon.push_back(x1);
  l.max_lat.push_back(y1);
}

// Appends an area made of raw rings exactly as given (no closing, no orientation, no check):
// for the bad-input cases that ingest never writes. parts[k] = rings of polygon k.
inline void add_raw_area(AreaLayer& l, const std::string& id,
                         const std::vector<std::vector<std::vector<std::pair<double, double>>>>& parts) {
  if (l.polygon_offset.empty()) l.polygon_offset.push_back(0);
  if (l.ring_offset.empty()) l.ring_offset.push_back(0);
  if (l.vertex_offset.empty()) l.vertex_offset.push_back(0);
  for (const auto& rings : parts) {
    for (const auto& ring : rings) {
      for (const auto& [x, y] : ring) {
        l.lon.push_back(x);
        l.lat.push_back(y);
      }
      l.vertex_offset.push_back(l.lon.size());
    }
    l.ring_offset.push_back(l.vertex_offset.size() - 1);
  }
  l.polygon_offset.push_back(l.ring_offset.size() - 1);
  l.id.push_back(id);
  l.area_name.push_back("bad " + id);
  l.repaired.push_back(0);
  l.min_lon.push_back(0);
  l.min_lat.push_back(0);
  l.max_lon.push_back(0);
  l.max_lat.push_back(0);
}

// The bad areas of the corpus, with the reason code each must be dead-lettered with. All lie
// near (cx, cy), overlapping whatever good areas are there.
struct BadArea {
  std::string id, reason;
};
inline std::vector<BadArea> add_bad_areas(AreaLayer& l, double cx, double cy) {
  using R = std::vector<std::pair<double, double>>;
  const double n = std::nan(""), inf = std::numeric_limits<double>::infinity();
  auto sq = [&](double x0, double y0, double d) { return R{{x0, y0}, {x0 + d, y0}, {x0 + d, y0 + d}, {x0, y0 + d}, {x0, y0}}; };
  std::vector<BadArea> out;
  auto add = [&](const std::string& id, const std::string& reason, const std::vector<std::vector<R>>& parts) {
    add_raw_area(l, id, parts);
    out.push_back({id, reason});
  };
  add("nan-vertex", "NON_FINITE_COORDINATE", {{R{{cx, cy}, {cx + 0.1, cy}, {n, cy + 0.1}, {cx, cy}}}});
  add("inf-vertex", "NON_FINITE_COORDINATE", {{R{{cx, cy}, {inf, cy}, {cx + 0.1, cy + 0.1}, {cx, cy}}}});
  add("lon-200", "COORDINATE_OUT_OF_RANGE", {{R{{cx, cy}, {200.0, cy}, {cx + 0.1, cy + 0.1}, {cx, cy}}}});
  add("lat-91", "COORDINATE_OUT_OF_RANGE", {{R{{cx, cy}, {cx + 0.1, 91.0}, {cx + 0.1, cy + 0.1}, {cx, cy}}}});
  add("three-vertices", "INVALID_POLYGON", {{R{{cx, cy}, {cx + 0.1, cy}, {cx, cy}}}});
  add("unclosed", "INVALID_POLYGON", {{R{{cx, cy}, {cx + 0.1, cy}, {cx + 0.1, cy + 0.1}, {cx, cy + 0.1}}}});
  add("bow-tie", "INVALID_POLYGON", {{R{{cx, cy}, {cx + 0.1, cy + 0.1}, {cx + 0.1, cy}, {cx, cy + 0.1}, {cx, cy}}}});
  add("hole-outside-shell", "INVALID_POLYGON", {{sq(cx, cy, 0.1), sq(cx + 0.2, cy, 0.05)}});
  add("overlapping-parts", "INVALID_POLYGON", {{sq(cx, cy, 0.1)}, {sq(cx + 0.05, cy + 0.05, 0.1)}});
  add("spike", "INVALID_POLYGON", {{R{{cx, cy}, {cx + 0.1, cy}, {cx + 0.1, cy + 0.1}, {cx + 0.1, cy + 0.3}, {cx + 0.1, cy + 0.1}, {cx, cy + 0.1}, {cx, cy}}}});
  return out;
}

// Cell width/height at precision p, degrees.
inline double cell_w(int p) { return 360.0 / static_cast<double>(geohash::columns(p)); }
inline double cell_h(int p) { return 180.0 / static_cast<double>(geohash::rows(p)); }

// Snaps v down to the grid line of precision p (exact: dyadic).
inline double snap_lon(double v, int p) { return geohash::Cell::from_point(v, 0, p).bounds().west; }
inline double snap_lat(double v, int p) { return geohash::Cell::from_point(0, v, p).bounds().south; }

// A random layer of ~`n` areas around (cx, cy) scaled to precision P (areas span ~4..40 cells):
// stars with holes, unions of grid cells of precision P and P-1 (edges on grid lines, corners
// at grid corners, holes), convex hulls of grid corners with a grid-aligned hole, multipolygons,
// an area nesting others (overlap) and areas sharing edges.
inline AreaLayer random_layer(const Geos& g, uint64_t seed, int P, double cx, double cy, int n = 12) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const double w = cell_w(P), hgt = cell_h(P);
  const double s = std::max(w, hgt);
  AreaLayer l;
  l.name = "random_p" + std::to_string(P);
  l.source = "test";
  int id = 0;
  auto next_id = [&] { return "A" + std::to_string(id++); };
  auto valid = [&](const GEOSGeometry* x) {
    if (GEOSisValid_r(g.h(), x) != 1 || GEOSisEmpty_r(g.h(), x)) return false;
    double x0, y0, x1, y1;
    GEOSGeom_getXMin_r(g.h(), x, &x0), GEOSGeom_getYMin_r(g.h(), x, &y0);
    GEOSGeom_getXMax_r(g.h(), x, &x1), GEOSGeom_getYMax_r(g.h(), x, &y1);
    return x0 >= -180 && x1 <= 180 && y0 >= -90 && y1 <= 90;
  };
  const double span = 60 * s;  // region side
  auto rnd_center = [&] { return std::pair{cx + (u(rng) - 0.5) * span, cy + (u(rng) - 0.5) * span * 0.6}; };
  while (id < n) {
    const int kind = id % 6;
    G geom;
    if (kind == 0) {  // star with holes
      auto [x, y] = rnd_center();
      const double r = s * (3 + 20 * u(rng));
      auto shell = star(rng, x, y, r, 8 + static_cast<int>(u(rng) * 40));
      std::vector<std::pair<std::vector<double>, std::vector<double>>> holes;
      holes.push_back(star(rng, x, y, r / 4, 5 + static_cast<int>(u(rng) * 10)));
      geom = polygon(g, shell.first, shell.second, holes);
    } else if (kind == 1 || kind == 2) {  // union of grid cells (precision P or P-1), may have holes
      const int q = kind == 1 ? P : P - 1;
      auto [x, y] = rnd_center();
      const double cw = cell_w(q), ch = cell_h(q);
      const double x0 = snap_lon(x, q), y0 = snap_lat(y, q);
      const int k = kind == 1 ? 6 + static_cast<int>(u(rng) * 10) : 3 + static_cast<int>(u(rng) * 5);
      std::vector<GEOSGeometry*> cells;
      for (int i = 0; i < k; ++i)
        for (int j = 0; j < k; ++j)
          if (u(rng) < 0.7 || (i > 0 && j > 0 && i < k - 1 && j < k - 1 && u(rng) < 0.5))
            cells.push_back(GEOSGeom_createRectangle_r(g.h(), x0 + i * cw, y0 + j * ch, x0 + (i + 1) * cw, y0 + (j + 1) * ch));
      G coll = wrap(g, GEOSGeom_createCollection_r(g.h(), GEOS_GEOMETRYCOLLECTION, cells.data(),
                                                   static_cast<unsigned>(cells.size())));
      geom = wrap(g, GEOSUnaryUnion_r(g.h(), coll.get()));
      // Unions of cells touching at corners only are invalid as one polygon; GEOS returns a
      // MultiPolygon whose parts touch at points -- valid. Cells touching at corners inside
      // one ring (self-touching) make GEOS output invalid rings: skip those.
    } else if (kind == 3) {  // convex hull of grid corners (diagonal edges through corners), grid-aligned hole
      auto [x, y] = rnd_center();
      std::vector<GEOSGeometry*> pts;
      const double x0 = snap_lon(x, P), y0 = snap_lat(y, P);
      for (int i = 0; i < 12; ++i)
        pts.push_back(GEOSGeom_createPointFromXY_r(g.h(), x0 + std::floor(u(rng) * 20) * w, y0 + std::floor(u(rng) * 20) * hgt));
      G mp = wrap(g, GEOSGeom_createCollection_r(g.h(), GEOS_MULTIPOINT, pts.data(), static_cast<unsigned>(pts.size())));
      G hull = wrap(g, GEOSConvexHull_r(g.h(), mp.get()));
      G hole = rect(g, x0 + 8 * w, y0 + 8 * hgt, x0 + 10 * w, y0 + 11 * hgt);
      geom = wrap(g, GEOSDifference_r(g.h(), hull.get(), hole.get()));
    } else if (kind == 4) {  // multipolygon: 2..4 stars far apart, one touching a grid line
      auto [x, y] = rnd_center();
      std::vector<GEOSGeometry*> parts;
      const int m = 2 + static_cast<int>(u(rng) * 3);
      for (int i = 0; i < m; ++i) {
        auto sh = star(rng, x + i * 12 * s, y + (i % 2) * 5 * s, s * (1 + 4 * u(rng)), 6 + i * 3);
        if (i == 1) {  // one vertex exactly on a grid line, one exactly at a grid corner
          sh.first[0] = snap_lon(sh.first[0], P);
          sh.first[2] = snap_lon(sh.first[2], P);
          sh.second[2] = snap_lat(sh.second[2], P);
        }
        parts.push_back(polygon(g, sh.first, sh.second).release());
      }
      geom = wrap(g, GEOSGeom_createCollection_r(g.h(), GEOS_MULTIPOLYGON, parts.data(), static_cast<unsigned>(parts.size())));
    } else {  // an area overlapping the previous ones (nested admin levels), with a hole
      auto [x, y] = rnd_center();
      const double x0 = snap_lon(x, P - 1), y0 = snap_lat(y, P - 1);
      G outer = rect(g, x0 - 10 * s, y0 - 6 * s, x0 + 14 * s + 0.37 * w, y0 + 9 * s);
      G hole = rect(g, x0, y0, x0 + cell_w(P - 1), y0 + cell_h(P - 1));
      geom = wrap(g, GEOSDifference_r(g.h(), outer.get(), hole.get()));
    }
    if (!valid(geom.get())) continue;  // e.g. a union with self-touching rings; try again
    add_area(g, l, geom.get(), next_id());
  }
  // Two areas sharing an edge on a grid line (adjacent admin areas).
  {
    auto [x, y] = rnd_center();
    const double x0 = snap_lon(x, P - 1), y0 = snap_lat(y, P);
    G a = polygon(g, {x0 - 7 * w, x0, x0, x0 - 5 * w}, {y0, y0, y0 + 9 * hgt, y0 + 6.3 * hgt});
    G b = polygon(g, {x0, x0 + 8.5 * w, x0 + 6 * w, x0}, {y0, y0 + 0.5 * hgt, y0 + 9 * hgt, y0 + 9 * hgt});
    add_area(g, l, a.get(), next_id());
    add_area(g, l, b.get(), next_id());
  }
  l.keep_names = {};
  l.validate();
  return l;
}

// RingSet of area a of a layer (all its rings, even-odd).
inline RingSet area_rings(const AreaLayer& l, size_t a) {
  const uint64_t r0 = l.ring_offset[l.polygon_offset[a]], r1 = l.ring_offset[l.polygon_offset[a + 1]];
  return RingSet{l.lon.data(), l.lat.data(), l.vertex_offset.data() + r0, r1 - r0};
}

// GEOS geometry of area a.
inline G area_geom(const Geos& g, const AreaLayer& l, size_t a) {
  std::vector<GEOSGeometry*> polys;
  for (uint64_t p = l.polygon_offset[a]; p < l.polygon_offset[a + 1]; ++p) {
    std::vector<GEOSGeometry*> rings;
    for (uint64_t r = l.ring_offset[p]; r < l.ring_offset[p + 1]; ++r) {
      const uint64_t v0 = l.vertex_offset[r], v1 = l.vertex_offset[r + 1];
      rings.push_back(raw_ring(g, std::vector<double>(l.lon.begin() + v0, l.lon.begin() + v1),
                               std::vector<double>(l.lat.begin() + v0, l.lat.begin() + v1)));
    }
    polys.push_back(GEOSGeom_createPolygon_r(g.h(), rings[0], rings.data() + 1, static_cast<unsigned>(rings.size() - 1)));
  }
  return wrap(g, GEOSGeom_createCollection_r(g.h(), GEOS_MULTIPOLYGON, polys.data(), static_cast<unsigned>(polys.size())));
}

// Sum of |shoelace area| over the rings (zero for degenerate rings).
inline double abs_area(const RingSet& rs) {
  double total = 0;
  for (uint64_t r = 0; r < rs.n_rings; ++r) {
    double a = 0;
    const uint64_t v0 = rs.ring_offsets[r], v1 = rs.ring_offsets[r + 1];
    for (uint64_t v = v0; v + 1 < v1; ++v) a += (rs.lon[v] - rs.lon[v0]) * (rs.lat[v + 1] - rs.lat[v0]) - (rs.lon[v + 1] - rs.lon[v0]) * (rs.lat[v] - rs.lat[v0]);
    total += std::abs(0.5 * a);
  }
  return total;
}

struct PropertyCounts {
  uint64_t points = 0, inside = 0, interior_hits = 0, boundary_hits = 0, boundary_compared = 0, cells_checked = 0;
};

// The point property of a coverage layer against its areas (see tests/cover/cover_test.cpp):
// checks `points` points, drawn by `draw`, against every area whose bbox holds them.
inline PropertyCounts check_points(const Geos& g, const CoverageLayer& cov, const AreaLayer& l, uint64_t points,
                                   const std::function<std::pair<double, double>()>& draw) {
  PropertyCounts c;
  const int P = cov.precision;
  std::vector<PG> prep;
  std::vector<G> geoms;
  for (size_t a = 0; a < l.areas(); ++a) {
    geoms.push_back(area_geom(g, l, a));
    prep.push_back(PG(GEOSPrepare_r(g.h(), geoms.back().get()), PDel{g.h()}));
  }
  std::set<std::pair<uint64_t, uint32_t>> interior_checked;
  int failures = 0;
  for (uint64_t i = 0; i < points && failures < 20; ++i) {
    const auto [x, y] = draw();
    ++c.points;
    const geohash::Cell cell = geohash::Cell::from_point(x, y, P);
    const geohash::Bounds b = cell.bounds();
    const int64_t iv = cov.find(cell.key_lo());
    if (iv >= 0) {
      EXPECT_LE(cov.lo[iv], cell.key_lo());
      EXPECT_GE(cov.hi[iv], cell.key_hi());
    }
    const bool strictly_inside_cell = x > b.west + 1e-9 && x < b.east - 1e-9 && y > b.south + 1e-9 && y < b.north - 1e-9;
    const bool off_cell_edges = x > b.west && x < b.east && y > b.south && y < b.north;
    for (size_t a = 0; a < l.areas(); ++a) {
      if (x < l.min_lon[a] || x > l.max_lon[a] || y < l.min_lat[a] || y > l.max_lat[a]) {
        // Outside the bbox: the area must not claim the point as INTERIOR.
        if (iv >= 0)
          for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e)
            if (cov.entry_area[e] == a && cov.entry_kind[e] == static_cast<uint8_t>(CoverKind::kInterior)) {
              ADD_FAILURE() << "INTERIOR cell of area " << a << " holds a point outside its bbox: " << x << " " << y;
              ++failures;
            }
        continue;
      }
      const PipResult orig = point_in_rings(area_rings(l, a), x, y);
      int64_t entry = -1;
      if (iv >= 0)
        for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e)
          if (cov.entry_area[e] == a) entry = static_cast<int64_t>(e);
      if (orig == PipResult::kInside) ++c.inside;
      // No gaps: a point inside the area (or on its border, off the cell's edges) is covered.
      if (entry < 0) {
        if (orig == PipResult::kInside || (orig == PipResult::kBoundary && off_cell_edges)) {
          ADD_FAILURE() << "area " << l.id[a] << " (" << a << ") misses point " << x << " " << y << " at P=" << P
                        << " (point " << (orig == PipResult::kInside ? "inside" : "on the border") << ")";
          ++failures;
        }
        continue;
      }
      if (cov.entry_kind[entry] == static_cast<uint8_t>(CoverKind::kInterior)) {
        ++c.interior_hits;
        if (orig == PipResult::kOutside) {
          ADD_FAILURE() << "INTERIOR entry of area " << a << " holds outside point " << x << " " << y;
          ++failures;
        }
        // The whole closed cell lies in the area: its corners by the exact kernel, the cell by GEOS.
        if (interior_checked.insert({cell.key_lo(), static_cast<uint32_t>(a)}).second) {
          ++c.cells_checked;
          for (auto [cx, cy] : {std::pair{b.west, b.south}, {b.east, b.south}, {b.west, b.north}, {b.east, b.north}})
            if (point_in_rings(area_rings(l, a), cx, cy) == PipResult::kOutside) {
              ADD_FAILURE() << "corner " << cx << " " << cy << " of INTERIOR cell outside area " << a;
              ++failures;
            }
          G r = rect(g, b.west, b.south, b.east, b.north);
          if (GEOSPreparedCovers_r(g.h(), prep[a].get(), r.get()) != 1) {
            ADD_FAILURE() << "GEOS: area " << a << " does not cover its INTERIOR cell " << geohash::to_string(cell);
            ++failures;
          }
        }
      } else {
        ++c.boundary_hits;
        if (strictly_inside_cell && orig != PipResult::kBoundary) {
          ++c.boundary_compared;
          const PipResult piece = point_in_rings(cov.piece_rings(cov.entry_piece[entry]), x, y);
          if ((piece == PipResult::kInside) != (orig == PipResult::kInside)) {
            ADD_FAILURE() << "piece of area " << a << " in cell " << geohash::to_string(cell) << " says "
                          << static_cast<int>(piece) << ", the area " << static_cast<int>(orig) << " at " << x << " " << y;
            ++failures;
          }
        }
      }
    }
  }
  return c;
}

// Exhaustive: every precision-P cell over (and around) each area's bounding box has exactly the
// entry GEOS implies: covers -> INTERIOR; interiors intersect -> BOUNDARY; else no entry (the
// area is outside or only touches the closed cell along an edge or at a corner).
inline void expect_cells_match_geos(const Geos& g, const CoverageLayer& cov, const AreaLayer& l, uint64_t* cells,
                             uint64_t* rounding) {
  const int P = cov.precision;
  for (size_t a = 0; a < l.areas(); ++a) {
    G geom = area_geom(g, l, a);
    PG prep(GEOSPrepare_r(g.h(), geom.get()), PDel{g.h()});
    const auto c0 = geohash::Cell::from_point(l.min_lon[a], l.min_lat[a], P);
    const auto c1 = geohash::Cell::from_point(l.max_lon[a], l.max_lat[a], P);
    int failures = 0;
    for (uint64_t iy = c0.iy() ? c0.iy() - 1 : 0; iy <= std::min(c1.iy() + 1, geohash::rows(P) - 1); ++iy)
      for (uint64_t ixr = c0.ix() + geohash::columns(P) - 1; ixr <= c1.ix() + geohash::columns(P) + 1; ++ixr) {
        const uint64_t ix = ixr % geohash::columns(P);
        const geohash::Cell cell = geohash::Cell::from_xy(ix, iy, P);
        const auto b = cell.bounds();
        G r = rect(g, b.west, b.south, b.east, b.north);
        const bool covers = GEOSPreparedCovers_r(g.h(), prep.get(), r.get()) == 1;
        const bool overlap = !covers && GEOSRelatePattern_r(g.h(), geom.get(), r.get(), "T********") == 1;
        const int64_t iv = cov.find(cell.key_lo());
        int kind = 0;
        if (iv >= 0)
          for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e)
            if (cov.entry_area[e] == a) kind = cov.entry_kind[e];
        const int want = covers ? 1 : (overlap ? 2 : 0);
        ++*cells;
        // BOUNDARY vs "no entry" may differ within rounding (coverage_table.h: created vertices
        // carry one rounded coordinate): a sliver of area within ~1e-16 of a grid corner that
        // GEOS sees and the clipped piece does not, or the reverse. Both are far below 1e-9 of
        // the cell's area; INTERIOR is never allowed to differ.
        const double cell_area = (b.east - b.west) * (b.north - b.south);
        if (kind == 0 && want == 2) {
          G x = wrap(g, GEOSIntersection_r(g.h(), geom.get(), r.get()));
          double area = 0;
          GEOSArea_r(g.h(), x.get(), &area);
          if (area <= 1e-9 * cell_area) {
            ++*rounding;
            continue;
          }
        }
        if (kind == 2 && want == 0) {
          double area = 0;
          for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e)
            if (cov.entry_area[e] == a) area = abs_area(cov.piece_rings(cov.entry_piece[e]));
          if (area <= 1e-9 * cell_area) {
            ++*rounding;
            continue;
          }
        }
        if (kind != want && failures++ < 5)
          ADD_FAILURE() << "P=" << P << " area " << l.id[a] << " cell " << geohash::to_string(cell) << ": kind " << kind
                        << ", GEOS implies " << want;
      }
  }
}

// Draws points uniformly from the cells of random BOUNDARY entries (one cell per entry, so
// cells shared by several areas are drawn more often).
inline std::function<std::pair<double, double>()> boundary_cell_sampler(const CoverageLayer& cov, uint64_t seed) {
  auto cells = std::make_shared<std::vector<geohash::Cell>>();
  for (size_t i = 0; i < cov.intervals(); ++i)
    for (uint64_t e = cov.entry_offset[i]; e < cov.entry_offset[i + 1]; ++e)
      if (cov.entry_kind[e] == static_cast<uint8_t>(CoverKind::kBoundary))
        cells->push_back(geohash::Cell::from_key(cov.lo[i], cov.precision));
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [cells, rng]() -> std::pair<double, double> {
    if (cells->empty()) return {0.0, 0.0};
    std::uniform_real_distribution<double> u(0, 1);
    const auto b = (*cells)[(*rng)() % cells->size()].bounds();
    return {b.west + u(*rng) * (b.east - b.west), b.south + u(*rng) * (b.north - b.south)};
  };
}

}  // namespace geoshard::testing
