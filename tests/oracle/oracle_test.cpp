// Tests of the exact oracle (oracle.h): hand-built cases with known answers for the borders that
// matter (shared borders, corners, enclaves and holes, vertices, multipolygons, overlaps), a
// random property (STRtree + prepared == brute force on thousands of roads, many of them running
// along area edges), the primary tie rule, and compare()'s tolerance rules.
#include "tests/oracle/oracle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/geodesic.h"
#include "tests/kernels/test_util.h"
#include "tests/oracle/tables.h"

namespace geoshard::oracle {
namespace {

using testing::box;
using testing::LayerBuilder;
using testing::Poly;
using testing::Pt;
using testing::RoadBuilder;

double hv(Pt a, Pt b) { return haversine_m(a.first, a.second, b.first, b.second); }

using Lengths = std::map<std::pair<uint64_t, uint32_t>, double>;

Lengths as_map(const std::vector<RoadAreaLength>& v) {
  Lengths m;
  for (const auto& p : v) m[{p.row, p.area}] = p.length_m;
  return m;
}

// Runs both oracle methods (and the GEOS user join, within `natural_tol`) and checks them
// against `want`: the same pairs, lengths within 1e-12 relative.
void expect_lengths(const RoadTable& roads, const AreaLayer& layer, const Lengths& want, double natural_tol = 1e-6) {
  for (Method m : {Method::kStrTreePrepared, Method::kBruteForce}) {
    SCOPED_TRACE(m == Method::kBruteForce ? "brute force" : "STRtree + prepared");
    const auto got = localise_with_geos(roads, layer, m);
    ASSERT_TRUE(std::is_sorted(got.begin(), got.end(), [](const RoadAreaLength& a, const RoadAreaLength& b) {
      return a.row != b.row ? a.row < b.row : a.area < b.area;
    }));
    const Lengths g = as_map(got);
    EXPECT_EQ(g.size(), want.size());
    for (const auto& [k, len] : want) {
      auto it = g.find(k);
      ASSERT_NE(it, g.end()) << "missing road row " << k.first << " area " << layer.id[k.second];
      EXPECT_NEAR(it->second, len, 1e-12 * len) << "road row " << k.first << " area " << layer.id[k.second];
    }
    for (const auto& [k, len] : g)
      EXPECT_TRUE(want.count(k)) << "extra road row " << k.first << " area " << layer.id[k.second] << " " << len;
  }
  const Lengths n = as_map(localise_geos_user_join(roads, layer));
  EXPECT_EQ(n.size(), want.size());
  for (const auto& [k, len] : want) {
    auto it = n.find(k);
    ASSERT_NE(it, n.end());
    EXPECT_NEAR(it->second, len, natural_tol * len);
  }
}

TEST(OracleCases, RoadAlongASharedBorderCountsFullyForBothAreas) {
  LayerBuilder l;
  const uint32_t a = l.add("1", {{box(100, 1, 101, 2)}});
  const uint32_t b = l.add("2", {{box(101, 1, 102, 2)}});
  RoadBuilder r;
  const uint64_t along = r.add(10, {{101, 1.25}, {101, 1.75}});
  const uint64_t half = r.add(11, {{101, 1.5}, {101, 2.5}});  // leaves both at their common corner
  const double full = hv({101, 1.25}, {101, 1.75}), h = 0.5 * hv({101, 1.5}, {101, 2.5});
  expect_lengths(r.table(), l.layer(), {{{along, a}, full}, {{along, b}, full}, {{half, a}, h}, {{half, b}, h}});
}

TEST(OracleCases, RoadTouchingACornerIsNotListed) {
  LayerBuilder l;
  l.add("1", {{box(100, 1, 101, 2)}});
  l.add("2", {{box(101, 1, 102, 2)}});
  RoadBuilder r;
  r.add(10, {{101, 2}, {101.5, 2.5}});                 // starts at the common corner, goes out
  r.add(11, {{99.5, 0.5}, {100, 1}, {99.5, 1.5}});     // a vertex on a corner, both sides outside
  r.add(12, {{102.5, 1.5}, {102, 2}, {102.5, 2.5}});   // a vertex on the far corner
  expect_lengths(r.table(), l.layer(), {});
}

TEST(OracleCases, EnclaveAndHole) {
  LayerBuilder l;
  const uint32_t host = l.add("100", {{box(100, 1, 104, 5), box(101, 2, 103, 4)}});  // with a hole
  const uint32_t encl = l.add("200", {{box(101, 2, 103, 4)}});                         // fills the hole
  RoadBuilder r;
  const uint64_t across = r.add(1, {{100.5, 3}, {103.5, 3}});
  const uint64_t in_hole = r.add(2, {{101.5, 2.5}, {102.5, 3.5}});
  const uint64_t on_hole_border = r.add(3, {{101, 2.5}, {101, 3.5}});
  const uint64_t bent = r.add(4, {{100.5, 4.5}, {101.5, 4.5}, {101.5, 3.5}});  // host, then into the enclave
  const double L = hv({100.5, 3}, {103.5, 3});
  const double s2 = hv({101.5, 4.5}, {101.5, 3.5});
  expect_lengths(r.table(), l.layer(),
                 {{{across, host}, L / 3},
                  {{across, encl}, 2 * L / 3},
                  {{in_hole, encl}, hv({101.5, 2.5}, {102.5, 3.5})},
                  {{on_hole_border, host}, hv({101, 2.5}, {101, 3.5})},
                  {{on_hole_border, encl}, hv({101, 2.5}, {101, 3.5})},
                  {{bent, host}, hv({100.5, 4.5}, {101.5, 4.5}) + 0.5 * s2},
                  {{bent, encl}, 0.5 * s2}});
  // Host and enclave partition the box: shares of a road wholly inside, not along the hole's
  // border, add up to 1.
  const auto pairs = localise_with_geos(r.table(), l.layer(), Method::kStrTreePrepared);
  double across_sum = 0;
  for (const auto& p : pairs)
    if (p.row == across) across_sum += p.length_m;
  EXPECT_NEAR(across_sum / road_length_m(r.table(), across), 1.0, 1e-15);
}

TEST(OracleCases, RoadCrossingTheBorderAtVertices) {
  LayerBuilder l;
  const uint32_t d = l.add("7", {{{{100, 2}, {101, 1}, {102, 2}, {101, 3}}}});  // a diamond
  RoadBuilder r;
  const uint64_t through = r.add(1, {{99, 2}, {103, 2}});              // enters and leaves at vertices
  r.add(2, {{102, 1}, {102, 3}});                                      // touches the east vertex only
  const uint64_t turn = r.add(3, {{103, 2}, {102, 2}, {101, 2.5}});    // reaches a vertex, turns in
  const uint64_t out_at_vertex = r.add(4, {{101, 2}, {101, 3}, {101.5, 3.5}});  // leaves through the north vertex
  expect_lengths(r.table(), l.layer(),
                 {{{through, d}, 0.5 * hv({99, 2}, {103, 2})},
                  {{turn, d}, hv({102, 2}, {101, 2.5})},
                  {{out_at_vertex, d}, hv({101, 2}, {101, 3})}});
}

TEST(OracleCases, MultipolygonArea) {
  LayerBuilder l;
  const uint32_t m = l.add("5", {{box(100, 1, 101, 2)}, {box(102, 1, 103, 2)}});
  RoadBuilder r;
  const uint64_t across = r.add(1, {{100.5, 1.5}, {102.5, 1.5}});
  const uint64_t gap = r.add(2, {{101.25, 1.5}, {101.75, 1.5}});  // between the parts: nothing
  const uint64_t both = r.add(3, {{100.5, 1.5}, {100.5, 2.5}, {102.5, 2.5}, {102.5, 1.5}});
  expect_lengths(r.table(), l.layer(),
                 {{{across, m}, 0.5 * hv({100.5, 1.5}, {102.5, 1.5})},
                  {{both, m}, 0.5 * hv({100.5, 1.5}, {100.5, 2.5}) + 0.5 * hv({102.5, 2.5}, {102.5, 1.5})}});
  (void)gap;
}

TEST(OracleCases, OverlappingAreasEachGetTheirPart) {
  LayerBuilder l;
  const uint32_t a = l.add("1", {{box(100, 1, 102, 2)}});
  const uint32_t b = l.add("2", {{box(101, 1, 103, 2)}});
  RoadBuilder r;
  const uint64_t straight = r.add(1, {{100.5, 1.5}, {102.5, 1.5}});
  const uint64_t bent = r.add(2, {{100.5, 1.5}, {101.5, 1.5}, {101.5, 3}});
  const double L = hv({100.5, 1.5}, {102.5, 1.5});
  const double s1 = hv({100.5, 1.5}, {101.5, 1.5}), s2 = hv({101.5, 1.5}, {101.5, 3});
  expect_lengths(r.table(), l.layer(),
                 {{{straight, a}, 0.75 * L},
                  {{straight, b}, 0.75 * L},
                  {{bent, a}, s1 + s2 / 3},
                  {{bent, b}, 0.5 * s1 + s2 / 3}});
}

TEST(OracleCases, RoadWhollyInsideTakesTheContainsProperlyFastPath) {
  LayerBuilder l;
  const uint32_t a = l.add("1", {{box(100, 1, 102, 3)}});
  RoadBuilder r;
  const uint64_t in = r.add(1, {{100.5, 1.5}, {101, 2}, {101.5, 1.25}, {101.75, 2.75}});
  expect_lengths(r.table(), l.layer(), {{{in, a}, road_length_m(r.table(), in)}}, 1e-15);
}

// ---- random property: STRtree + prepared == brute force ---------------------------------------

constexpr double kGrid = 1.0 / 16;  // dyadic: grid points and the crossings of grid lines are exact

double grid(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng) * kGrid; }

// Convex hull (monotone chain, collinear points dropped), counter-clockwise.
std::vector<Pt> convex_hull(std::vector<Pt> p) {
  std::sort(p.begin(), p.end());
  p.erase(std::unique(p.begin(), p.end()), p.end());
  if (p.size() < 3) return {};
  auto cross = [](Pt o, Pt a, Pt b) {
    return (a.first - o.first) * (b.second - o.second) - (a.second - o.second) * (b.first - o.first);
  };
  std::vector<Pt> h(2 * p.size());
  size_t k = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  for (size_t i = p.size() - 1, t = k + 1; i-- > 0;) {
    while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  h.resize(k - 1);
  return h.size() >= 3 ? h : std::vector<Pt>{};
}

// 50 areas over [100, 104] x [0, 4]: grid rectangles (some with a rectangular hole, some two
// rectangles as one multipolygon), convex hulls of grid points, and star polygons with a hole in
// general position. Areas overlap each other freely.
AreaLayer random_layer(std::mt19937_64& rng, int areas) {
  LayerBuilder l;
  for (int i = 0; i < areas; ++i) {
    const std::string id = std::to_string(1000 + i);
    const int kind = i % 5;
    if (kind <= 1) {  // rectangle, with a hole every other time
      const double x0 = 100 + grid(rng, 0, 56), y0 = grid(rng, 0, 56);
      const double x1 = x0 + grid(rng, 4, 24), y1 = y0 + grid(rng, 4, 24);
      Poly p{box(x0, y0, x1, y1)};
      if (kind == 1) p.push_back(box(x0 + kGrid, y0 + 2 * kGrid, x1 - 2 * kGrid, y1 - kGrid));
      l.add(id, {p});
    } else if (kind == 2) {  // two rectangles side by side (a gap of at least one cell)
      const double x0 = 100 + grid(rng, 0, 40), y0 = grid(rng, 0, 50);
      const double w = grid(rng, 2, 10), gap = grid(rng, 1, 4);
      l.add(id, {{box(x0, y0, x0 + w, y0 + grid(rng, 2, 12))},
                 {box(x0 + w + gap, y0 + grid(rng, -2, 2), x0 + 2 * w + gap, y0 + grid(rng, 3, 12))}});
    } else if (kind == 3) {  // convex hull of grid points
      const double cx = 100 + grid(rng, 8, 56), cy = grid(rng, 8, 56);
      std::vector<Pt> pts;
      for (int k = 0; k < 12; ++k) pts.push_back({cx + grid(rng, -8, 8), cy + grid(rng, -8, 8)});
      std::vector<Pt> h = convex_hull(pts);
      if (h.empty()) h = box(cx, cy, cx + kGrid, cy + kGrid);
      l.add(id, {{h}});
    } else {  // star polygon with a hole, general position
      const RingSetData rs = geoshard::testing::star_polygon_with_hole(
          rng, 100 + geoshard::testing::uniform(rng, 0.5, 3.5), geoshard::testing::uniform(rng, 0.5, 3.5),
          geoshard::testing::uniform(rng, 0.2, 0.8), 24, 8);
      Poly p;
      for (size_t r = 0; r + 1 < rs.ring_offsets.size(); ++r) {
        testing::Ring ring;
        for (size_t v = rs.ring_offsets[r]; v < rs.ring_offsets[r + 1]; ++v) ring.push_back({rs.lon[v], rs.lat[v]});
        p.push_back(ring);
      }
      l.add(id, {p});
    }
  }
  return l.layer();
}

// Roads: random walks on the grid (axis-parallel steps run along rectangle edges, diagonal ones
// through grid corners), walks along an area's own edges, and roads in general position.
RoadTable random_roads(std::mt19937_64& rng, const AreaLayer& layer, int rows) {
  RoadBuilder r;
  for (int i = 0; i < rows; ++i) {
    std::vector<Pt> pts;
    const int kind = i % 4;
    const int n = 2 + static_cast<int>(rng() % 8);
    if (kind == 3) {  // along the edges of a random area's first ring, possibly overshooting
      const size_t a = rng() % layer.areas();
      const uint64_t r0 = layer.vertex_offset[layer.ring_offset[layer.polygon_offset[a]]];
      const uint64_t r1 = layer.vertex_offset[layer.ring_offset[layer.polygon_offset[a]] + 1];
      const uint64_t start = r0 + rng() % (r1 - r0 - 1);
      for (int k = 0; k < std::min<int>(n, static_cast<int>(r1 - r0 - 1)); ++k) {
        const uint64_t v = r0 + (start - r0 + k) % (r1 - r0 - 1);
        pts.push_back({layer.lon[v], layer.lat[v]});
      }
      pts.push_back({pts.back().first + grid(rng, -3, 3), pts.back().second + grid(rng, -3, 3)});
    } else if (kind == 2) {  // general position
      double x = 100 + geoshard::testing::uniform(rng, 0, 4), y = geoshard::testing::uniform(rng, 0, 4);
      for (int k = 0; k < n; ++k) {
        pts.push_back({x, y});
        x += geoshard::testing::uniform(rng, -0.3, 0.3);
        y += geoshard::testing::uniform(rng, -0.3, 0.3);
      }
    } else {  // grid walk
      double x = 100 + grid(rng, 0, 64), y = grid(rng, 0, 64);
      for (int k = 0; k < n; ++k) {
        pts.push_back({x, y});
        const int step = static_cast<int>(rng() % 3);
        const double d = grid(rng, 1, 6) * (rng() % 2 ? 1 : -1);
        if (step == 0) x += d;
        else if (step == 1) y += d;
        else { x += d; y += grid(rng, -6, 6); }
      }
    }
    std::vector<Pt> clean;  // no two consecutive equal vertices (the road table's invariant)
    for (const Pt& p : pts)
      if (clean.empty() || clean.back() != p) clean.push_back(p);
    if (clean.size() < 2) clean.push_back({clean[0].first + kGrid, clean[0].second});
    r.add(1 + i, clean);
  }
  return r.table();
}

TEST(OracleProperty, StrTreePreparedEqualsBruteForceOnRandomRoadsAndAreas) {
  std::mt19937_64 rng(20261122);
  const AreaLayer layer = random_layer(rng, 50);
  const RoadTable roads = random_roads(rng, layer, 2400);
  const auto str = localise_with_geos(roads, layer, Method::kStrTreePrepared);
  const auto brute = localise_with_geos(roads, layer, Method::kBruteForce);
  const Comparison c = compare(brute, str, roads, layer);
  EXPECT_TRUE(c.exact()) << c.summary();
  EXPECT_EQ(c.pairs_expected, c.pairs_got);
  EXPECT_LT(c.max_rel_error, 1e-13) << c.summary();
  // The cases the test is about do occur: partial pairs, roads in several areas, and pairs along
  // an edge (the walks along area rings).
  size_t partial = 0, multi = 0;
  for (size_t i = 0; i < str.size(); ++i) {
    partial += str[i].length_m < road_length_m(roads, str[i].row) * (1 - 1e-9);
    multi += i && str[i].row == str[i - 1].row;
  }
  EXPECT_GT(str.size(), 1500u);
  EXPECT_GT(partial, 500u);
  EXPECT_GT(multi, 300u);
  std::printf("%zu roads x %zu areas: %zu pairs, %zu partial, %zu in more than one area; %s\n", roads.rows(),
              layer.areas(), str.size(), partial, multi, c.summary().c_str());
  // The natural-geodesic GEOS join differs by the definition only (pieces' haversine, and
  // overlay merging of walks that double back), never in which areas a road meets by much.
  const Comparison n = compare(str, localise_geos_user_join(roads, layer), roads, layer, 1e-3);
  EXPECT_EQ(n.extra, 0u) << n.summary();
}

// ---- primaries and compare ---------------------------------------------------------------------

TEST(OraclePrimaries, LargestLengthWinsTiesGoToTheLowestId) {
  LayerBuilder l;
  const std::vector<std::string> ids = {"10", "9", "abc", "b", "-3", "007"};
  for (const auto& id : ids) l.add(id, {{box(100, 1, 101, 2)}});
  RoadBuilder r;
  for (int i = 0; i < 6; ++i) r.add(i, {{100.25, 1.5}, {100.75, 1.5}});
  const double L = road_length_m(r.table(), 0);
  const std::vector<RoadAreaLength> pairs = {
      {0, 0, 5.0}, {0, 1, 5.0},               // "10" vs "9": integers, 9 < 10
      {1, 2, 5.0}, {1, 3, 5.0},               // "abc" vs "b": strings
      {2, 0, 5.0}, {2, 2, 5.0},               // "10" vs "abc": strings, "10" < "abc"
      {3, 0, 5.0}, {3, 1, 6.0},               // largest wins
      {4, 4, 5.0}, {4, 5, 5.0}, {4, 1, 5.0},  // "-3" < "007" (= 7) < "9"
  };
  const auto p = primaries(pairs, r.table(), l.layer());
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[0].area, 1);
  EXPECT_EQ(p[1].area, 2);
  EXPECT_EQ(p[2].area, 0);
  EXPECT_EQ(p[3].area, 1);
  EXPECT_DOUBLE_EQ(p[3].length_m, 6.0);
  EXPECT_DOUBLE_EQ(p[3].share, 6.0 / L);
  EXPECT_EQ(p[4].area, 4);
  EXPECT_EQ(p[5].area, -1);  // no area
  EXPECT_EQ(p[5].length_m, 0.0);
  EXPECT_TRUE(area_id_less("9", "10"));
  EXPECT_FALSE(area_id_less("10", "9"));
  EXPECT_TRUE(area_id_less("10", "9a"));
  EXPECT_TRUE(area_id_less("-9223372036854775808", "9223372036854775807"));
  EXPECT_TRUE(area_id_less("10000000000000000000", "9"));  // beyond int64: compared as strings
}

TEST(OracleCompare, SliversAreNotDisagreementsRealDifferencesAre) {
  LayerBuilder l;
  for (const auto& id : {"1", "2", "3"}) l.add(id, {{box(100, 1, 101, 2)}});
  RoadBuilder r;
  for (int i = 0; i < 4; ++i) r.add(100 + i, {{100.25, 1.5}, {100.75, 1.5}});
  const double L = road_length_m(r.table(), 0);
  {  // identical
    const std::vector<RoadAreaLength> e = {{0, 0, L}, {1, 1, L / 2}, {1, 2, L / 2}};
    const Comparison c = compare(e, e, r.table(), l.layer());
    EXPECT_TRUE(c.exact()) << c.summary();
    EXPECT_EQ(c.roads, 4u);
    EXPECT_EQ(c.primary_ties, 0u);
    EXPECT_EQ(c.max_rel_error, 0.0);
  }
  {  // a rounding-level sliver missing, and one extra: not counted; rounding difference: not counted
    const std::vector<RoadAreaLength> e = {{0, 0, L}, {0, 1, 1e-12 * L}, {1, 1, L / 2}};
    const std::vector<RoadAreaLength> g = {{0, 0, L * (1 + 1e-14)}, {1, 1, L / 2}, {1, 2, 1e-11 * L}};
    const Comparison c = compare(e, g, r.table(), l.layer());
    EXPECT_TRUE(c.exact()) << c.summary();
    EXPECT_EQ(c.missing + c.extra + c.share_mismatches, 0u);
    EXPECT_NEAR(c.max_rel_error, 1e-11, 1e-13);
  }
  {  // real differences
    const std::vector<RoadAreaLength> e = {{0, 0, L}, {1, 1, L / 2}, {2, 0, L}, {3, 0, L / 2}, {3, 1, L / 2}};
    const std::vector<RoadAreaLength> g = {{0, 0, L}, {1, 2, L / 4}, {2, 0, 0.9 * L}, {3, 0, L / 2},
                                           {3, 1, L / 2 * (1 + 1e-12)}};
    const Comparison c = compare(e, g, r.table(), l.layer());
    EXPECT_FALSE(c.exact());
    EXPECT_EQ(c.missing, 1u);            // (1, "2")
    EXPECT_EQ(c.extra, 1u);              // (1, "3")
    EXPECT_EQ(c.share_mismatches, 1u);   // (2, "1"), 10 % short
    EXPECT_EQ(c.primary_mismatches, 1u); // road 1: "2" expected, "3" got
    EXPECT_EQ(c.primary_ties, 1u);       // road 3: "1" vs "2" tied within rounding
    EXPECT_NEAR(c.max_rel_error, 0.5, 1e-12);
    EXPECT_EQ(c.examples.size(), 4u);
    EXPECT_NE(c.summary().find("road 101"), std::string::npos) << c.summary();
  }
}

}  // namespace
}  // namespace geoshard::oracle
