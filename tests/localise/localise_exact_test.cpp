// localise == GEOS oracle, on the cases that break naive methods (roads along borders that lie
// on grid lines, corners, enclaves, holes), on random grid-snapped data, and on a synthetic region.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <numeric>
#include <random>

#include <boost/multiprecision/cpp_int.hpp>

#include "jobs/ingest/ingest.h"
#include "jobs/synth/synth.h"
#include "kernels/cpu.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"
#include "jobs/localise/box_grid.h"
#include "jobs/localise/cell_keys.h"
#include "jobs/localise/lengths.h"
#include "jobs/localise/localise_s2.h"
#include "tests/kernels/polyline_check.h"
#include "tests/localise/exactness.h"
#include "tests/oracle/tables.h"

namespace geoshard {
namespace {

using oracle::testing::Poly;
using oracle::testing::Pt;
using oracle::testing::Ring;

AreaLayer make_layer(const std::string& name, const std::vector<std::pair<std::string, std::vector<Poly>>>& areas) {
  oracle::testing::LayerBuilder b(name);
  for (const auto& [id, polys] : areas) b.add(id, polys);
  return b.layer();
}

// Road table from polylines (ids = index + 1), rows in Z-order of the first vertex as ingest writes them.
RoadTable make_roads(const std::vector<Ring>& lines) {
  std::vector<size_t> order(lines.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return geohash::zkey(lines[a][0].first, lines[a][0].second) < geohash::zkey(lines[b][0].first, lines[b][0].second);
  });
  oracle::testing::RoadBuilder b;
  for (size_t k : order) b.add(static_cast<int64_t>(k + 1), lines[k]);
  return b.table();
}

// Cell width at precision 5 in both axes: 360/2^13 = 180/2^12 degrees (exact).
constexpr double kW = 0.0439453125;

Ring square(double x0, double y0, double x1, double y1) { return oracle::testing::box(x0, y0, x1, y1); }

TEST(LocaliseExact, BordersOnGridLinesCornersEnclavesHoles) {
  const double w = kW;
  // A and B share the grid line x = 4w; C has a hole that is exactly enclave D; E is a
  // multipolygon of two squares touching at a corner.
  const AreaLayer areas = make_layer(
      "admin", {{"1", {{square(0, 0, 4 * w, 4 * w)}}},
                {"2", {{square(4 * w, 0, 8 * w, 4 * w)}}},
                {"3", {{square(10 * w, 0, 16 * w, 6 * w), square(12 * w, 2 * w, 14 * w, 4 * w)}}},
                {"4", {{square(12 * w, 2 * w, 14 * w, 4 * w)}}},
                {"5", {{square(20 * w, 0, 21 * w, 1 * w)}, {square(21 * w, 1 * w, 22 * w, 2 * w)}}}});
  const RoadTable roads = make_roads({
      {{4 * w, 1 * w}, {4 * w, 3 * w}},                   // along the A|B border on a grid line: both, full length
      {{1 * w, 4 * w}, {3 * w, 4 * w}},                   // along A's north edge (grid line): A only
      {{-1 * w, -1 * w}, {0, 0}},                          // touches A's corner: nothing
      {{-1 * w, -1 * w}, {0, 0}, {1 * w, -1 * w}},         // touches the corner and leaves: nothing
      {{9 * w, 3 * w}, {17 * w, 3 * w}},                   // through the enclave: C outside parts, D inside
      {{12.5 * w, 2.5 * w}, {13.5 * w, 3.5 * w}},          // inside the hole: D only
      {{12 * w, 1 * w}, {12 * w, 5 * w}},                  // along the hole's west edge (grid line): C all, D part
      {{2 * w, 2 * w}, {6 * w, 2.5 * w}},                  // crosses A|B inside cells
      {{2 * w, 2 * w}, {4 * w, 2 * w}, {6 * w, 2 * w}},    // crosses the border at a vertex
      {{20 * w, 0}, {22 * w, 2 * w}},                      // diagonal through E's touching corner
      {{20.5 * w, 1 * w}, {21.5 * w, 1 * w}},              // along E's inner edges (grid line)
      {{30 * w, 30 * w}, {31 * w, 31 * w}},                // outside everything
      {{0.3 * w, 0.1 * w}, {0.6 * w, 0.2 * w}},           // inside A, inside one cell
  });
  for (int p : {3, 5, 6, 7}) testing::expect_exact(roads, {areas}, p, "hand-built");
}

// Random grid-snapped areas (axis-aligned rectangles and triangles) and random roads of
// `min_vertices` .. `max_vertices` vertices moving mostly along grid lines (anywhere in the
// area, or with `local` by at most 3 grid steps at a time), checked at precisions 4-6.
void random_grid_snapped(uint64_t seed, int min_vertices, int max_vertices, int roads_count, bool local, const char* label) {
  std::mt19937_64 rng(seed);
  const double w = kW;
  std::uniform_int_distribution<int> cell(0, 40);
  auto snap = [&](int half) { return cell(rng) * w / half; };  // grid points of precision 5 and finer
  std::vector<std::pair<std::string, std::vector<Poly>>> defs;
  for (int a = 0; a < 40; ++a) {
    const int half = 1 << (rng() % 3);
    double x0 = snap(half), y0 = snap(half), x1 = snap(half), y1 = snap(half);
    if (x0 == x1 || y0 == y1) continue;
    if (a % 2) defs.push_back({std::to_string(a), {{square(std::min(x0, x1), std::min(y0, y1), std::max(x0, x1), std::max(y0, y1))}}});
    else defs.push_back({std::to_string(a), {{Ring{{x0, y0}, {x1, y0}, {x0, y1}}}}});
  }
  const AreaLayer areas = make_layer("random", defs);
  std::vector<Ring> lines;
  for (int r = 0; r < roads_count; ++r) {
    const int half = 1 << (rng() % 3);
    Ring l;
    const int n = min_vertices + static_cast<int>(rng() % (max_vertices - min_vertices + 1));
    for (int k = 0; k < n; ++k) {
      // Mostly axis-aligned moves along grid lines, sometimes diagonal.
      std::pair<double, double> p = l.empty() ? std::make_pair(snap(half), snap(half)) : l.back();
      if (!l.empty() && local) {
        auto step = [&](double v) { return std::clamp(v + (static_cast<int>(rng() % 7) - 3) * w / half, 0.0, 40 * w); };
        const int m = static_cast<int>(rng() % 3);
        if (m == 0) p.first = step(p.first);
        else if (m == 1) p.second = step(p.second);
        else p = {step(p.first), step(p.second)};
      } else if (!l.empty()) {
        const int m = static_cast<int>(rng() % 3);
        if (m == 0) p.first = snap(half);
        else if (m == 1) p.second = snap(half);
        else p = {snap(half), snap(half)};
      }
      if (l.empty() || p != l.back()) l.push_back(p);
    }
    if (l.size() >= 2) lines.push_back(l);
  }
  const RoadTable roads = make_roads(lines);
  for (int p : {4, 5, 6}) testing::expect_exact(roads, {areas}, p, label);
}

TEST(LocaliseExact, RandomGridSnappedRoadsAndAreas) { random_grid_snapped(2026, 2, 5, 3000, false, "grid-snapped random"); }

// Roads of 10-60 vertices: the localiser settles a long road chunk by chunk (8 segments), each
// chunk's rectangle under the west/south edge rule as a road's; chunks along grid lines and
// borders must come out as the segments would.
TEST(LocaliseExact, RandomLongGridSnappedRoads) {
  random_grid_snapped(7, 10, 60, 600, false, "long grid-snapped random");
  random_grid_snapped(8, 10, 60, 1500, true, "long local grid-snapped random");
}

TEST(LocaliseExact, SyntheticRegionAllLayers) {
  testing::TempDir dir;
  synth::SynthOptions so;
  so.segments = 60000;
  so.seed = 3;
  so.out_dir = dir.file("region");
  synth::generate(so);
  ingest::RoadOptions ro;
  ro.in = dir.file("region/roads.fgb");
  ro.out = dir.file("roads.h5");
  ingest::ingest_roads(ro);
  ingest::AreaOptions ao;
  ao.layers = ingest::read_area_spec(dir.file("region/areas.toml"));
  ao.out = dir.file("areas.h5");
  ingest::ingest_areas(ao);
  const RoadTable roads = read_road_table(ro.out);
  std::vector<AreaLayer> layers;
  for (const auto& n : area_layer_names(ao.out)) layers.push_back(read_area_layer(ao.out, n));
  for (int p : {6, 7}) testing::expect_exact(roads, layers, p, "synthetic");
}

// convex_orientation: which areas the localiser may settle by "every vertex strictly inside".
TEST(LocaliseConvex, ConvexOrientationOfRings) {
  const double k = 0.01;
  Ring pentagram, regular70;
  for (int i = 0; i < 5; ++i) {  // vertices 0, 2, 4, 1, 3 of a pentagon: all turns alike, winds twice
    const double t = 2 * M_PI * ((2 * i) % 5) / 5;
    pentagram.push_back({std::cos(t), std::sin(t)});
  }
  for (int i = 0; i < 70; ++i) regular70.push_back({std::cos(2 * M_PI * i / 70), std::sin(2 * M_PI * i / 70)});
  AreaLayer l = make_layer(
      "shapes", {{"square", {{square(0, 0, k, k)}}},
                 {"triangle", {{Ring{{0, 0}, {k, 0}, {0, k}}}}},
                 {"collinear vertex", {{Ring{{0, 0}, {k / 2, 0}, {k, 0}, {k, k}, {0, k}}}}},
                 {"L", {{Ring{{0, 0}, {2 * k, 0}, {2 * k, k}, {k, k}, {k, 2 * k}, {0, 2 * k}}}}},
                 {"pentagram", {{pentagram}}},
                 {"hole", {{square(0, 0, 4 * k, 4 * k), square(k, k, 2 * k, 2 * k)}}},
                 {"two squares", {{square(0, 0, k, k)}, {square(2 * k, 0, 3 * k, k)}}},
                 {"spike", {{Ring{{0, 0}, {k, 0}, {2 * k, 0}, {k, 0}, {k, k}, {0, k}}}}},
                 {"repeated vertex", {{Ring{{0, 0}, {k, 0}, {k, 0}, {k, k}, {0, k}}}}},
                 {"regular 70-gon", {{regular70}}},
                 {"nan", {{Ring{{0, 0}, {k, 0}, {NAN, k}, {0, k}}}}},
                 {"clockwise", {{square(0, 0, k, k)}}}});
  // The builder orients shells counter-clockwise; reverse the last area's ring by hand.
  const uint64_t r = l.ring_offset[l.polygon_offset[11]];
  std::reverse(l.lon.begin() + l.vertex_offset[r], l.lon.begin() + l.vertex_offset[r + 1]);
  std::reverse(l.lat.begin() + l.vertex_offset[r], l.lat.begin() + l.vertex_offset[r + 1]);
  const std::vector<int> want{+1, +1, +1, 0, 0, 0, 0, 0, 0, 0, 0, -1};
  for (uint32_t a = 0; a < want.size(); ++a)
    EXPECT_EQ(localise::convex_orientation(l, a, 64), want[a]) << l.id[a];
  EXPECT_EQ(localise::convex_orientation(l, 9, 70), 1) << "the 70-gon within a limit of 70 vertices";
  EXPECT_EQ(localise::convex_orientation(l, 0, 3), 0) << "the square over a limit of 3 vertices";
}

// Random convex areas (points on circles, not on grid lines; some overlapping), roads lying wholly
// inside one (vertices strictly inside: the localiser settles their runs without walking when no
// other area shares their cells), roads crossing borders, and roads inside one convex area along
// a grid line that is the border of another area beside it.
TEST(LocaliseExact, RandomConvexAreasRoadsInsideAndAcross) {
  std::mt19937_64 rng(4242);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::pair<std::string, std::vector<Poly>>> defs;
  std::vector<Ring> shells;
  for (int a = 0; a < 30; ++a) {
    const double cx = 0.4 * u(rng), cy = 0.4 * u(rng), rad = 0.004 + 0.04 * u(rng);
    const int n = 3 + static_cast<int>(rng() % 10);
    std::vector<double> t(n);
    for (double& v : t) v = 2 * M_PI * u(rng);
    std::sort(t.begin(), t.end());
    Ring ring;
    for (double v : t) ring.push_back({cx + rad * std::cos(v), cy + rad * 0.8 * std::sin(v)});
    shells.push_back(ring);
    defs.push_back({std::to_string(a), {{ring}}});
  }
  // Along the grid line x = 8 kW (precision 5 and finer): inside convex area "grid", and the
  // east border of area "beside", which lies within it.
  const double w = kW;
  defs.push_back({"grid", {{Ring{{6 * w, 6 * w}, {10 * w, 6.5 * w}, {10.5 * w, 10 * w}, {6.5 * w, 10.5 * w}}}}});
  defs.push_back({"beside", {{square(7 * w, 7 * w, 8 * w, 9 * w)}}});
  const AreaLayer areas = make_layer("convex", defs);
  for (uint32_t a = 0; a < 31; ++a) EXPECT_EQ(localise::convex_orientation(areas, a, 64), 1) << areas.id[a];

  // A point strictly inside a convex ring: a positive combination of three distinct vertices
  // (not of one edge's two ends: there a road runs along a border to within rounding, where the
  // GEOS oracle itself rounds; RoadsHuggingAnEdgeMatchExactArithmetic checks those).
  auto inside = [&](const Ring& r) {
    const size_t i = rng() % r.size(), j = (i + 1 + rng() % (r.size() - 1)) % r.size();
    size_t k = rng() % r.size();
    while (k == i || k == j) k = (k + 1) % r.size();
    const Pt& p = r[i];
    const Pt& q = r[j];
    const Pt& s = r[k];
    double a = 0.05 + u(rng), b = 0.05 + u(rng), c = 0.05 + u(rng);
    const double sum = a + b + c;
    a /= sum, b /= sum, c /= sum;
    return Pt{a * p.first + b * q.first + c * s.first, a * p.second + b * q.second + c * s.second};
  };
  std::vector<Ring> lines;
  for (int i = 0; i < 1500; ++i) {
    const Ring& r = shells[rng() % shells.size()];
    Ring l;
    const int n = 2 + static_cast<int>(rng() % 30);
    const bool across = i % 3 == 0;  // a third of the roads leave the area
    for (int k = 0; k < n; ++k) {
      const Pt p = across && k == n - 1 ? Pt{0.4 * u(rng), 0.4 * u(rng)} : inside(r);
      if (l.empty() || p != l.back()) l.push_back(p);
    }
    if (l.size() >= 2) lines.push_back(l);
  }
  lines.push_back({{8 * w, 7.2 * w}, {8 * w, 8.8 * w}});             // along "beside"'s east border, inside "grid"
  lines.push_back({{7.5 * w, 6.9 * w}, {7.5 * w, 7.5 * w}, {9 * w, 7.5 * w}});  // into "beside" and out
  lines.push_back({{8.5 * w, 7.2 * w}, {9.5 * w, 8.8 * w}, {9 * w, 9.5 * w}});   // inside "grid" only
  const RoadTable roads = make_roads(lines);
  for (int p : {5, 6, 7}) testing::expect_exact(roads, {areas}, p, "convex random");
}

// A sparse layer (small areas far apart: the localiser settles roads by its grid over the areas'
// boxes, jobs/localise/box_grid.h): roads drawn exactly along the four sides of axis-aligned
// rectangles (the road's box then meets the area's box only on that side), along a rotated
// square's sides, through a corner only, one ulp outside a side, and long roads (chunked) that
// pass some areas, run along one side for a while and cross others.
TEST(LocaliseExact, SparseLayerRoadsAlongAreaBoxSides) {
  std::mt19937_64 rng(1207);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::pair<std::string, std::vector<Poly>>> defs;
  std::vector<Ring> rings;
  std::vector<double> x0s, y0s, x1s, y1s;
  for (int i = 0; i < 40; ++i) {  // a 10 x 4 lattice of areas 0.05 degrees apart, each at most 0.005 wide
    const double cx = 0.013 + 0.05 * (i % 10) + 0.01 * u(rng), cy = 0.017 + 0.05 * (i / 10) + 0.01 * u(rng);
    const double hw = 0.001 + 0.0015 * u(rng), hh = 0.001 + 0.0015 * u(rng);
    Ring r;
    if (i % 4 == 3) {  // a rotated square (convex): its box's sides touch it at its corners only
      const double t = u(rng);
      for (int k = 0; k < 4; ++k) r.push_back({cx + hw * std::cos(t + k * M_PI / 2), cy + hw * std::sin(t + k * M_PI / 2)});
    } else {
      r = square(cx - hw, cy - hh, cx + hw, cy + hh);
    }
    double a = INFINITY, b = INFINITY, c = -INFINITY, d = -INFINITY;
    for (const Pt& p : r) a = std::min(a, p.first), b = std::min(b, p.second), c = std::max(c, p.first), d = std::max(d, p.second);
    x0s.push_back(a), y0s.push_back(b), x1s.push_back(c), y1s.push_back(d);
    rings.push_back(r);
    defs.push_back({"s" + std::to_string(i), {Poly{r}}});
  }
  const AreaLayer areas = make_layer("sparse", defs);
  ASSERT_LT(localise::BoxGrid(x0s, y0s, x1s, y1s).fill(), localise::Localiser::kSparseFill) << "the layer must be sparse";
  std::vector<Ring> lines;
  for (size_t a = 0; a < rings.size(); ++a) {
    const double X0 = x0s[a], Y0 = y0s[a], X1 = x1s[a], Y1 = y1s[a], w = X1 - X0, h = Y1 - Y0;
    // Along each side of the box, from beyond one corner to inside the side or beyond the other.
    lines.push_back({{X0, Y0 - h * u(rng)}, {X0, Y0 + h * (0.2 + u(rng))}});  // west
    lines.push_back({{X1, Y1 + h * u(rng)}, {X1, Y0 + h * u(rng)}});          // east
    lines.push_back({{X0 - w * u(rng), Y0}, {X0 + w * (0.2 + u(rng)), Y0}});  // south
    lines.push_back({{X1 + w * u(rng), Y1}, {X0 + w * u(rng), Y1}});          // north
    // One ulp outside the west and north sides; through the south-west corner only.
    lines.push_back({{std::nextafter(X0, -1.0), Y0 - h}, {std::nextafter(X0, -1.0), Y1 + h}});
    lines.push_back({{X0 - w, std::nextafter(Y1, 2.0)}, {X1 + w, std::nextafter(Y1, 2.0)}});
    lines.push_back({{X0 - w, Y0 + h}, {X0 + w, Y0 - h}});
    // Along two sides of the ring itself, vertex to vertex (the rotated squares' sides are not
    // their boxes'; a point between vertices would be off the side by rounding, where GEOS rounds
    // too: RoadsHuggingAnEdgeMatchExactArithmetic has those).
    const Ring& r = rings[a];
    const size_t k = rng() % r.size();
    lines.push_back({r[k], r[(k + 1) % r.size()], r[(k + 2) % r.size()]});
  }
  for (int i = 0; i < 60; ++i) {  // long roads of 10 to 60 vertices: wander, sometimes along a side
    Ring l{{0.5 * u(rng), 0.2 * u(rng)}};
    const int n = 10 + static_cast<int>(rng() % 50);
    size_t side = 0;
    for (int v = 1; v < n; ++v) {
      Pt next{l.back().first + 0.02 * (u(rng) - 0.5), l.back().second + 0.02 * (u(rng) - 0.5)};
      if (v % 7 == 0) {  // onto a west side, then along it past its north end
        side = rng() % rings.size();
        next = {x0s[side], y0s[side] + (y1s[side] - y0s[side]) * u(rng)};
      } else if (v % 7 == 1) {
        next = {x0s[side], y1s[side] + 0.003 * u(rng)};
      }
      if (next != l.back()) l.push_back(next);
    }
    lines.push_back(l);
  }
  const RoadTable roads = make_roads(lines);
  for (int p : {5, 6, 7}) testing::expect_exact(roads, {areas}, p, "sparse layer, roads along box sides");
  // The stored boxes are not trusted (the grid's come from the vertices): all of them wrong, a
  // point far off, and the answers stay exact.
  AreaLayer wrong = areas;
  for (size_t a = 0; a < wrong.areas(); ++a) {
    wrong.min_lon[a] = wrong.max_lon[a] = 179;
    wrong.min_lat[a] = wrong.max_lat[a] = 89;
  }
  testing::expect_exact(roads, {wrong}, 7, "sparse layer, wrong stored boxes");
}

// `areas` covered on `grid` at `precision` into dir/c.h5; returns that path.
std::string grid_coverage(const testing::TempDir& dir, const AreaLayer& areas, const std::string& grid, int precision) {
  cover::CoverOptions co;
  co.grid = grid;
  co.precision = precision;
  write_coverage(dir.file("c.h5"), cover::cover_layers({areas}, co, nullptr).layers, {areas});
  return dir.file("c.h5");
}

// The exact part of segment A-B inside the area (even-odd over all its rings; the boundary
// counts as inside), as a fraction of the segment, in rational arithmetic on the exact
// coordinates: the referee where GEOS itself rounds (a segment drawn along an edge to within
// an ulp crosses it at an angle of ~1e-15 rad; GEOS's intersection point is computed in double
// and lands up to a few per cent of the segment away).
double exact_inside_fraction(const AreaLayer& l, uint32_t a, Pt A, Pt B) {
  using Q = boost::multiprecision::cpp_rational;
  struct P2 {
    Q x, y;
  };
  const P2 pa{Q(A.first), Q(A.second)}, pb{Q(B.first), Q(B.second)};
  const P2 d{pb.x - pa.x, pb.y - pa.y};
  auto orient = [](const P2& p, const P2& q, const P2& r) { return (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x); };
  std::vector<std::pair<P2, P2>> edges;
  for (uint64_t pg = l.polygon_offset[a]; pg < l.polygon_offset[a + 1]; ++pg)
    for (uint64_t r = l.ring_offset[pg]; r < l.ring_offset[pg + 1]; ++r)
      for (uint64_t v = l.vertex_offset[r]; v + 1 < l.vertex_offset[r + 1]; ++v)
        edges.push_back({P2{Q(l.lon[v]), Q(l.lat[v])}, P2{Q(l.lon[v + 1]), Q(l.lat[v + 1])}});
  std::vector<Q> ts{Q(0), Q(1)};
  std::vector<std::pair<Q, Q>> along;
  const Q dd = d.x * d.x + d.y * d.y;
  for (const auto& [u, v] : edges) {
    const Q ou = orient(pa, pb, u), ov = orient(pa, pb, v);
    if ((ou > 0 && ov > 0) || (ou < 0 && ov < 0)) continue;
    if (ou == 0 && ov == 0) {  // collinear: the projections' overlap is boundary
      Q tu = ((u.x - pa.x) * d.x + (u.y - pa.y) * d.y) / dd, tv = ((v.x - pa.x) * d.x + (v.y - pa.y) * d.y) / dd;
      if (tu > tv) std::swap(tu, tv);
      along.push_back({tu, tv});
      for (const Q& t : {tu, tv})
        if (t > 0 && t < 1) ts.push_back(t);
      continue;
    }
    const Q oa = orient(u, v, pa), ob = orient(u, v, pb);
    if ((oa > 0 && ob > 0) || (oa < 0 && ob < 0)) continue;
    if (oa == ob) continue;  // both zero is the collinear case above
    const Q t = oa / (oa - ob);
    if (t > 0 && t < 1) ts.push_back(t);
  }
  std::sort(ts.begin(), ts.end());
  Q inside(0);
  for (size_t k = 0; k + 1 < ts.size(); ++k) {
    const Q lo = ts[k], hi = ts[k + 1];
    if (!(hi > lo)) continue;
    bool in = false;
    for (const auto& [t0, t1] : along) in = in || (t0 <= lo && hi <= t1);
    if (!in) {  // even-odd ray to +x from the midpoint, half-open in y
      const Q m = (lo + hi) / 2;
      const P2 p{pa.x + m * d.x, pa.y + m * d.y};
      for (const auto& [u, v] : edges) {
        if ((u.y > p.y) == (v.y > p.y)) continue;
        const Q x = u.x + (p.y - u.y) * (v.x - u.x) / (v.y - u.y);
        if (p.x < x) in = !in;
      }
    }
    if (in) inside += hi - lo;
  }
  return static_cast<double>(inside);
}

// Roads along grid lines (precision 5 and finer) that area edges cross at ~1e-16 rad, or hug
// to within a few ulps on either side. Cover once dropped the precision-6 cell below the line
// where "below"'s top edge crosses it: clipped, the cell kept only its own outline (a crossing
// half an ulp from the line rounded onto it) and counted as merely touching, so the road lost
// that cell's stretch (0.656 of it inside instead of 0.708). Against the GEOS oracle (right here)
// at P5-P8, and against exact arithmetic on both grids.
TEST(LocaliseExact, RoadAlongAGridLineAnEdgeCrossesAtASubUlpAngle) {
  const double w = kW;
  const AreaLayer areas = make_layer(
      "sliver", {{"above", {{Ring{{6 * w, 8 * w}, {8.5 * w, 8 * w + 1e-15}, {8.5 * w, 10 * w}, {6 * w, 10 * w}}}}},
                 {"below", {{Ring{{6 * w, 6 * w}, {9 * w, 6 * w}, {9 * w, 8 * w - 3e-16}, {6 * w, 8 * w + 2e-16}}}}},
                 {"right", {{Ring{{8 * w + 1e-16, 6 * w}, {10 * w, 6 * w}, {10 * w, 10 * w}, {8 * w - 1e-16, 10 * w}}}}}});
  const std::vector<Ring> lines{{{6.2 * w, 8 * w}, {7.8 * w, 8 * w}},
                                {{6.2 * w, 8 * w}, {9.5 * w, 8 * w}},
                                {{8 * w, 6.3 * w}, {8 * w, 9.7 * w}},
                                {{9.7 * w, 8 * w}, {6.1 * w, 8 * w}}};
  const RoadTable roads = make_roads(lines);
  for (int p : {5, 6, 7, 8}) testing::expect_exact(roads, {areas}, p, "grid line, sub-ulp crossing");
  for (const auto& [grid, precision] : std::vector<std::pair<std::string, int>>{{"geohash", 6}, {"geohash", 7}, {"s2", 12}, {"s2", 16}}) {
    testing::TempDir dir;
    const localise::GridLocaliser loc(grid_coverage(dir, areas, grid, precision));
    std::vector<localise::Hit> hits;
    std::vector<double> len;
    loc.localise(roads, hits, len);
    for (uint64_t row = 0; row < roads.rows(); ++row) {
      const size_t k = static_cast<size_t>(roads.id[row] - 1);
      for (uint32_t a = 0; a < areas.areas(); ++a) {
        double got = 0;
        for (const auto& h : hits)
          if (h.row == row && h.area == a) got = h.length_m / len[row];
        EXPECT_NEAR(got, exact_inside_fraction(areas, a, lines[k][0], lines[k][1]), 1e-9)
            << grid << " " << precision << " road " << k << " area " << areas.id[a];
      }
    }
  }
}

// Roads of one segment each that hug an area's edge: both ends are combinations of one edge's
// two vertices (on its line to within rounding, on either side, some beyond its ends), so the
// segment meets the edge, if at all, at an angle of ~1e-15 rad. Found by a convex-area test
// (docs/localise.md, "Hugging an edge"): the crossing parameter needs side determinants accurate
// where the lines are nearly parallel, and the sub-interval after it the exact side of that
// edge (a midpoint lies within rounding of the edge). Against the rational referee, every
// (road, area) share within 1e-9 of the road, at geohash precisions 3-7 and S2 levels 8-16.
TEST(LocaliseExact, RoadsHuggingAnEdgeMatchExactArithmetic) {
  std::mt19937_64 rng(606);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::pair<std::string, std::vector<Poly>>> defs;
  std::vector<Ring> shells;
  // The reproducer (docs/localise.md): GEOS 128.46 m of the 507.8 m segment inside, exactly 129.60 m.
  shells.push_back(Ring{{0.24540531521119105, 0.066632355972869206}, {0.21673022320952412, 0.076650265890400429},
                        {0.20505160836019187, 0.065974335100079107}, {0.20419193084489931, 0.06081324787990508},
                        {0.21286866987054806, 0.047506895239418527}, {0.21506927458742325, 0.046380349384041453},
                        {0.22929465118315356, 0.044540718318233113}, {0.24160505270500726, 0.050322016489990566},
                        {0.24516103459373625, 0.055189458640295216}});
  std::vector<Pt> centres{{0.225, 0.06}};
  for (int a = 0; a < 14; ++a) {  // convex and not (a star), some with a hole
    const double cx = 0.3 * u(rng), cy = 0.3 * u(rng), rad = 0.004 + 0.04 * u(rng);
    centres.push_back({cx, cy});
    const int n = 3 + static_cast<int>(rng() % 10);
    const bool star = a % 3 == 1;
    std::vector<double> t(n);
    for (double& v : t) v = 2 * M_PI * u(rng);
    std::sort(t.begin(), t.end());
    Ring ring;
    for (int k = 0; k < n; ++k) {
      const double rr = star && k % 2 ? 0.45 * rad : rad;
      ring.push_back({cx + rr * std::cos(t[k]), cy + rr * 0.8 * std::sin(t[k])});
    }
    shells.push_back(ring);
  }
  std::vector<Ring> hugged = shells;  // per area: the ring whose edges the roads hug
  for (size_t a = 0; a < shells.size(); ++a) {
    Poly poly{shells[a]};
    if (a % 4 == 3) {  // a hole: the ring shrunk to 0.3 about its centre (star-shaped about it); its edges are hugged
      Ring hole;
      for (const Pt& p : shells[a]) hole.push_back({centres[a].first + 0.3 * (p.first - centres[a].first),
                                                    centres[a].second + 0.3 * (p.second - centres[a].second)});
      poly.push_back(hole);
      hugged[a] = hole;
    }
    defs.push_back({std::to_string(a), {poly}});
  }
  const AreaLayer areas = make_layer("hug", defs);
  std::vector<Ring> lines{{{0.22421941806735415, 0.045197049378659732}, {0.21969474272981809, 0.045782182099583742}}};
  std::vector<uint32_t> line_area{0};
  for (int i = 0; i < 600; ++i) {
    const uint32_t a = static_cast<uint32_t>(rng() % shells.size());
    const Ring& r = hugged[a];
    const size_t k = rng() % r.size();
    const Pt p = r[k], q = r[(k + 1) % r.size()];
    auto on_line = [&](double lo, double hi) {
      const double s = lo + (hi - lo) * u(rng);
      return Pt{s * p.first + (1 - s) * q.first, s * p.second + (1 - s) * q.second};
    };
    // Both ends within the edge; or one beyond a vertex (along the line, past the corner).
    const Pt e0 = on_line(0.02, 0.98), e1 = i % 4 == 0 ? on_line(1.0, 1.3) : on_line(0.02, 0.98);
    if (e0 == e1) continue;
    lines.push_back({e0, e1});
    line_area.push_back(a);
  }
  const RoadTable roads = make_roads(lines);
  std::vector<double> want(roads.rows());  // per row: the exact share of its hugged area
  std::vector<uint32_t> want_area(roads.rows());
  for (uint64_t row = 0; row < roads.rows(); ++row) {
    const size_t k = static_cast<size_t>(roads.id[row] - 1);
    want_area[row] = line_area[k];
    want[row] = exact_inside_fraction(areas, line_area[k], lines[k][0], lines[k][1]);
  }
  EXPECT_NEAR(want[std::find(roads.id.begin(), roads.id.end(), 1) - roads.id.begin()], 0.2552026, 1e-7);
  size_t partial = 0;
  for (double w : want) partial += w > 1e-6 && w < 1 - 1e-6;
  {  // For the record (not asserted: GEOS's rounding, not ours): how far the GEOS oracle is off here.
    std::vector<double> geos(roads.rows(), 0.0), len(roads.rows(), 0.0);
    for (const auto& r : oracle::localise_with_geos(roads, areas, oracle::Method::kStrTreePrepared))
      if (r.area == want_area[r.row]) geos[r.row] = r.length_m;
    size_t off = 0;
    double worst = 0;
    for (uint64_t row = 0; row < roads.rows(); ++row) {
      for (uint64_t v = roads.vertex_offset[row]; v + 1 < roads.vertex_offset[row + 1]; ++v)
        len[row] += haversine_m(roads.lon[v], roads.lat[v], roads.lon[v + 1], roads.lat[v + 1]);
      const double err = std::fabs(geos[row] / len[row] - want[row]);
      off += err > 1e-9;
      worst = std::max(worst, err);
    }
    const size_t r1 = static_cast<size_t>(std::find(roads.id.begin(), roads.id.end(), 1) - roads.id.begin());
    std::printf("GEOS oracle on the hugging roads: %zu of %llu shares off by > 1e-9 (largest %.3g); the reproducer %.2f m\n",
                off, (unsigned long long)roads.rows(), worst, geos[r1]);
  }
  EXPECT_GT(partial, 100u) << "the hugging roads must cross their edges often";
  for (const auto& [grid, precision] :
       std::vector<std::pair<std::string, int>>{{"geohash", 3}, {"geohash", 4}, {"geohash", 5}, {"geohash", 6}, {"geohash", 7},
                                                {"s2", 8}, {"s2", 12}, {"s2", 16}}) {
    testing::TempDir dir;
    const localise::GridLocaliser loc(grid_coverage(dir, areas, grid, precision));
    std::vector<localise::Hit> hits;
    std::vector<double> len;
    loc.localise(roads, hits, len);
    std::vector<double> got(roads.rows(), 0.0);
    for (const auto& h : hits)
      if (h.area == want_area[h.row]) got[h.row] = h.length_m / len[h.row];
    size_t bad = 0;
    double worst = 0;
    for (uint64_t row = 0; row < roads.rows(); ++row) {
      const double err = std::fabs(got[row] - want[row]);
      worst = std::max(worst, err);
      if (err > 1e-9 && ++bad <= 5)
        ADD_FAILURE() << grid << " " << precision << ": road " << roads.id[row] << " (area " << want_area[row] << ") share "
                      << got[row] << ", exactly " << want[row];
    }
    EXPECT_EQ(bad, 0u) << grid << " " << precision;
    const size_t r1 = static_cast<size_t>(std::find(roads.id.begin(), roads.id.end(), 1) - roads.id.begin());
    std::printf("hugging roads, %s %d: %llu roads, largest share error %.3g; the reproducer %.2f m of %.2f m\n",
                grid.c_str(), precision, (unsigned long long)roads.rows(), worst, got[r1] * len[r1], len[r1]);
  }
}

// A layer asked for twice is an error before any layer is read, on both grids (found by a
// bad-input sweep: every shard was computed before gather failed on a duplicate column).
TEST(LocaliseLayers, ALayerNamedTwiceIsAnError) {
  const AreaLayer areas = make_layer("zones", {{"1", {{square(0, 0, 3 * kW, 3 * kW)}}}});
  for (const auto& [grid, precision] : {std::pair<std::string, int>{"geohash", 5}, {"s2", 12}}) {
    SCOPED_TRACE(grid);
    testing::TempDir dir;
    const std::string cov = grid_coverage(dir, areas, grid, precision);
    EXPECT_NO_THROW(localise::GridLocaliser(cov, {"zones"}));
    try {
      localise::GridLocaliser(cov, {"zones", "zones"});
      ADD_FAILURE() << "a layer named twice was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("layer 'zones' named twice"), std::string::npos) << e.what();
    }
  }
}

// The boundary cells' segment cuts and point-in-polygon tests go through the backend the
// localiser was given (backend::cut_batch, backend::pip_batch), not around it, on both grids:
// with a CUDA choice and no usable device the localiser stops with the dispatcher's error; on a
// machine with a GPU the hits equal the CPU's bit for bit.
TEST(LocaliseBackend, BoundaryCellsRunOnTheChosenBackend) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 40 * kW);
  std::vector<std::pair<std::string, std::vector<Poly>>> defs;
  for (int a = 0; a < 12; ++a) defs.push_back({std::to_string(a), {{Ring{{u(rng), u(rng)}, {u(rng), u(rng)}, {u(rng), u(rng)}}}}});
  const AreaLayer areas = make_layer("triangles", defs);
  std::vector<Ring> lines;
  for (int r = 0; r < 400; ++r) lines.push_back(Ring{{u(rng), u(rng)}, {u(rng), u(rng)}, {u(rng), u(rng)}});
  const RoadTable roads = make_roads(lines);
  const bool device = backend::built_with_cuda() && backend::resolve(backend::Request::automatic).kind == backend::Kind::cuda;
  backend::Choice cuda;
  cuda.kind = backend::Kind::cuda;
  cuda.reason = "test";
  for (const auto& [grid, precision] : {std::pair<std::string, int>{"geohash", 5}, {"s2", 12}}) {
    SCOPED_TRACE(grid);
    testing::TempDir dir;
    const std::string cov = grid_coverage(dir, areas, grid, precision);
    std::vector<localise::Hit> cpu_hits, gpu_hits;
    std::vector<double> cpu_len, gpu_len;
    localise::GridLocaliser(cov).localise(roads, cpu_hits, cpu_len);
    ASSERT_GT(cpu_hits.size(), 100u);
    const localise::GridLocaliser on_gpu(cov, {}, cuda);
    ASSERT_EQ(on_gpu.grid(), grid);
    if (!device) {
      try {
        on_gpu.localise(roads, gpu_hits, gpu_len);
        ADD_FAILURE() << "a CUDA choice without a device localised without error: the tests did not go through the backend";
      } catch (const std::exception& e) {
        const std::string what = e.what();
        EXPECT_TRUE(what.find("CUDA") != std::string::npos || what.find("cuda") != std::string::npos) << what;
      }
      continue;
    }
    on_gpu.localise(roads, gpu_hits, gpu_len);
    ASSERT_EQ(gpu_hits.size(), cpu_hits.size());
    for (size_t i = 0; i < cpu_hits.size(); ++i) {
      EXPECT_EQ(gpu_hits[i].row, cpu_hits[i].row);
      EXPECT_EQ(gpu_hits[i].area, cpu_hits[i].area);
      EXPECT_EQ(gpu_hits[i].length_m, cpu_hits[i].length_m);
    }
  }
  if (!device) GTEST_SKIP() << "no CUDA device: checked that both grids' batches go to the cuda dispatcher; GPU == CPU not run";
}

// The localiser's length floor as it runs (road_segments_m: the AVX2 build where this CPU has it)
// against cos_lat and haversine_m_short vertex by vertex: the same bits for every segment and the
// same sum, on random polylines of 0 to 40 vertices (vector loops and their remainders), short
// segments mixed with long ones (past the switch to haversine_m_cos).
TEST(LocaliseLengths, RoadSegmentsMatchVertexByVertex) {
  if (!cpu_has_avx2()) std::printf("no AVX2 here: the SSE2 build is checked (as in Geodesic.*)\n");
  testing::check_polyline_segments(localise::road_segments_m, 56, 20000);
}

// The same check on the localiser's window: run_series_m over the polyline placed between other
// roads' vertices (junk before and after it in the run, some far away: a pair across two roads
// that the series does not serve must not matter), then road_from_series. Both outcomes occur
// (the window's values, and road_segments_m's for polylines with a long segment); NaN
// coordinates give a NaN length, as road_segments_m gives.
TEST(LocaliseLengths, WindowOfManyRoadsMatchesVertexByVertex) {
  std::mt19937_64 rng(57);
  std::uniform_real_distribution<double> u(0, 1);
  size_t served = 0, redone = 0;
  auto windowed = [&](const double* lon, const double* lat, size_t n, double* c, double* seg) -> double {
    const size_t before = static_cast<size_t>(u(rng) * 9), after = static_cast<size_t>(u(rng) * 9);
    std::vector<double> wlon, wlat;
    for (size_t k = 0; k < before + n + after; ++k) {
      const bool own = k >= before && k < before + n;
      wlon.push_back(own ? lon[k - before] : u(rng) < 0.5 ? -170 + 340 * u(rng) : (n ? lon[0] : 0) + 1e-4 * u(rng));
      wlat.push_back(own ? lat[k - before] : -80 + 160 * u(rng));
    }
    std::vector<double> wcos(wlon.size()), wseg(wlon.size());
    localise::run_series_m(wlon.data(), wlat.data(), wlon.size(), wcos.data(), wseg.data());
    if (n == 0) return 0.0;
    const double* seg_m = nullptr;
    bool from_window = false;
    const double len = localise::road_from_series(wseg.data() + before, lon, lat, n, c, seg, &seg_m, &from_window);
    if (from_window) {
      ++served;
      std::copy(wcos.begin() + before, wcos.begin() + before + n, c);
      std::copy(seg_m, seg_m + (n - 1), seg);
    } else {
      ++redone;
      EXPECT_EQ(seg_m, seg);
    }
    return len;
  };
  testing::check_polyline_segments(windowed, 58, 20000);
  EXPECT_GT(served, 2000u);
  EXPECT_GT(redone, 2000u);
  // A NaN coordinate: the length is NaN (road_segments_m's answer), never a number.
  const double lon[3] = {1.0, std::nan(""), 1.001}, lat[3] = {2.0, 2.001, 2.002};
  double wcos[3], wseg[3], c[3], seg[2];
  localise::run_series_m(lon, lat, 3, wcos, wseg);
  const double* seg_m = nullptr;
  bool from_window = true;
  EXPECT_TRUE(std::isnan(localise::road_from_series(wseg, lon, lat, 3, c, seg, &seg_m, &from_window)));
  EXPECT_FALSE(from_window);
}

// road_cell_keys (AVX2 where the CPU has it) against CellKeyer one vertex at a time, and both
// against geohash::zkey: the same key and near flag for every vertex, at every precision, on
// random points, points on and within 1e-9 of a cell's grid lines, the domain's edges (lon
// +-180, lat +-90), out-of-range and NaN coordinates, and roads of 0 to 11 vertices (the
// vector loop's remainder).
TEST(LocaliseCellKeys, RoadKeysMatchTheKeyerAndZkey) {
  if (!cpu_has_avx2()) std::printf("no AVX2 here: only the plain loop is checked\n");
  std::mt19937_64 rng(71);
  std::uniform_real_distribution<double> ulon(-180.0, 180.0), ulat(-90.0, 90.0), u01(0.0, 1.0);
  const double nan = std::nan("");
  const double specials[][2] = {{-180, -90}, {180, 90},   {180, 0},    {-180, 0},  {0, 90},   {0, -90},
                                {0, 0},      {nan, 10},   {10, nan},   {181, 0},   {0, -91},  {-180.0000001, 0},
                                {1e308, 0},  {-1e308, 1}, {INFINITY, 0}, {0, -INFINITY}};
  size_t lanes = 0, near_lanes = 0;
  for (int p = 1; p <= 12; ++p) {
    const localise::CellKeyer key(p);
    const uint64_t mask = ~(~uint64_t{0} >> (5 * p));
    const double cw = 360.0 / static_cast<double>(geohash::columns(p)), ch = 180.0 / static_cast<double>(geohash::rows(p));
    for (int road = 0; road < 1500; ++road) {
      const size_t n = rng() % 12;
      std::vector<double> lon(n), lat(n);
      for (size_t v = 0; v < n; ++v) {
        const int kind = static_cast<int>(rng() % 8);
        if (kind <= 3) {
          lon[v] = ulon(rng), lat[v] = ulat(rng);
        } else if (kind <= 5) {  // on or next to a grid line of this precision (or a coarser one)
          const double gx = -180.0 + cw * std::floor(u01(rng) * static_cast<double>(geohash::columns(p)));
          const double gy = -90.0 + ch * std::floor(u01(rng) * static_cast<double>(geohash::rows(p)));
          const double eps[] = {0.0, 1e-9 * cw, -1e-9 * cw, 5e-7 * cw, -5e-7 * cw, 2e-6 * cw, -2e-6 * cw, 0.5 * cw};
          lon[v] = gx + eps[rng() % 8];
          lat[v] = kind == 4 ? ulat(rng) : gy + eps[rng() % 8] * (ch / cw);
        } else if (kind == 6) {
          const auto& sp = specials[rng() % (sizeof specials / sizeof specials[0])];
          lon[v] = sp[0], lat[v] = sp[1];
        } else {  // a step from the previous vertex, as along a road
          lon[v] = v > 0 ? lon[v - 1] + (u01(rng) - 0.5) * 3 * cw : ulon(rng);
          lat[v] = v > 0 ? lat[v - 1] + (u01(rng) - 0.5) * 3 * ch : ulat(rng);
        }
      }
      std::vector<uint64_t> zk(n + 1, 7), zp(n + 1, 7);
      std::vector<char> nk(n + 1, 9), np(n + 1, 9);
      localise::road_cell_keys(key, lon.data(), lat.data(), n, zk.data(), nk.data());
      localise::detail::road_cell_keys_plain(key, lon.data(), lat.data(), n, zp.data(), np.data());
      ASSERT_EQ(zk[n], 7u) << "wrote past the road";
      ASSERT_EQ(nk[n], 9);
      for (size_t v = 0; v < n; ++v) {
        SCOPED_TRACE(::testing::Message() << "precision " << p << " vertex " << v << " of " << n << " at ("
                                          << lon[v] << ", " << lat[v] << ")");
        ASSERT_EQ(zk[v], zp[v]);
        ASSERT_EQ(nk[v], np[v]);
        ASSERT_TRUE(nk[v] == 0 || nk[v] == 1);
        bool nr;
        ASSERT_EQ(zk[v], key(lon[v], lat[v], &nr));
        ASSERT_EQ(static_cast<bool>(nk[v]), nr);
        if (std::isfinite(lon[v]) && std::isfinite(lat[v]) && std::fabs(lon[v]) <= 180 && std::fabs(lat[v]) <= 90) {
          ASSERT_EQ(zk[v], geohash::zkey(lon[v], lat[v]) & mask);
        }
        ++lanes;
        near_lanes += nk[v];
      }
    }
  }
  // Both paths were exercised: most lanes off the lines, many near them.
  EXPECT_GT(near_lanes, lanes / 10);
  EXPECT_LT(near_lanes, lanes * 9 / 10);
}

// road_bbox (AVX2 where the CPU has it) against the plain first-vertex-then-min/max loop on
// random roads of 1 to 40 vertices (the vector loop, its overlapping tail, short roads), with
// signed zeros, infinities and NaNs at the first, a middle and the last vertex: the same box
// (== per coordinate; NaN where the plain loop has NaN).
TEST(LocaliseCellKeys, RoadBoxMatchesThePlainLoop) {
  std::mt19937_64 rng(72);
  std::uniform_real_distribution<double> ulon(-180.0, 180.0), ulat(-90.0, 90.0);
  const double nan = std::nan("");
  size_t with_nan = 0;
  for (int road = 0; road < 20000; ++road) {
    const size_t n = 1 + rng() % 40;
    std::vector<double> lon(n), lat(n);
    const double x0 = ulon(rng), y0 = ulat(rng);
    for (size_t v = 0; v < n; ++v) {  // a local road, as the localiser sees them, or anywhere
      lon[v] = road % 3 == 0 ? ulon(rng) : x0 + ulon(rng) * 1e-3;
      lat[v] = road % 3 == 0 ? ulat(rng) : y0 + ulat(rng) * 1e-3;
    }
    if (road % 7 == 1) lon[rng() % n] = (rng() & 1) ? -0.0 : 0.0, lat[rng() % n] = (rng() & 1) ? -0.0 : 0.0;
    if (road % 11 == 2) lon[rng() % n] = (rng() & 1) ? INFINITY : -INFINITY;
    if (road % 13 == 3) {
      const size_t at[] = {0, n / 2, n - 1};
      ((rng() & 1) ? lon : lat)[at[rng() % 3]] = nan;
      ++with_nan;
    }
    double got[4], want[4];
    localise::road_bbox(lon.data(), lat.data(), n, got);
    localise::detail::road_bbox_plain(lon.data(), lat.data(), n, want);
    for (int c = 0; c < 4; ++c) {
      SCOPED_TRACE(::testing::Message() << "road " << road << " of " << n << " vertices, coordinate " << c);
      if (std::isnan(want[c])) {
        ASSERT_TRUE(std::isnan(got[c]));
      } else {
        ASSERT_EQ(got[c], want[c]);
      }
    }
    if (road % 13 != 3 && road % 11 != 2) {  // finite: the box holds every vertex and touches it
      for (size_t v = 0; v < n; ++v) {
        ASSERT_LE(got[0], lon[v]);
        ASSERT_LE(got[1], lat[v]);
        ASSERT_GE(got[2], lon[v]);
        ASSERT_GE(got[3], lat[v]);
      }
      ASSERT_NE(std::find(lon.begin(), lon.end(), got[0]), lon.end());
      ASSERT_NE(std::find(lat.begin(), lat.end(), got[3]), lat.end());
    }
  }
  EXPECT_GT(with_nan, 1000u);
}

}  // namespace
}  // namespace geoshard
