// S2Localiser (cover --grid s2) == GEOS oracle, on the cases that break naive methods (roads
// along borders, also where borders lie on S2 cell edges: the prime meridian, the equator and
// the face boundary at 45°E are cell edges at every level; corners, enclaves, holes), on random
// grid-snapped data at several levels and places (equator, a cube-face edge, near the pole), on
// a synthetic region, and S2Localiser == Localiser (geohash) on the same roads.
#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "jobs/cover/s2_grid.h"
#include "jobs/ingest/ingest.h"
#include "jobs/localise/localise.h"
#include "jobs/synth/synth.h"
#include "kernels/geohash.h"
#include "tests/localise/exactness_s2.h"
#include "tests/oracle/tables.h"

namespace geoshard {
namespace {

using oracle::testing::Poly;
using oracle::testing::Ring;

AreaLayer make_layer(const std::string& name, const std::vector<std::pair<std::string, std::vector<Poly>>>& areas) {
  oracle::testing::LayerBuilder b(name);
  for (const auto& [id, polys] : areas) b.add(id, polys);
  return b.layer();
}

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

Ring square(double x0, double y0, double x1, double y1) { return oracle::testing::box(x0, y0, x1, y1); }

TEST(S2Grid, LeafArithmeticMatchesCellIds) {
  const uint64_t leaf = s2grid::leaf_of(7.42, 43.73);
  EXPECT_EQ(s2grid::level_of(leaf), 30);
  for (int l : {0, 1, 5, 16, 29}) {
    const uint64_t c = s2grid::parent(leaf, l);
    EXPECT_EQ(s2grid::level_of(c), l);
    EXPECT_LE(s2grid::range_min(c), leaf);
    EXPECT_GE(s2grid::range_max(c), leaf);
    if (l < 30) {
      // The 4 children tile the parent's leaf range in order, with no leaf id between them.
      EXPECT_EQ(s2grid::range_min(s2grid::child(c, 0)), s2grid::range_min(c));
      EXPECT_EQ(s2grid::range_max(s2grid::child(c, 3)), s2grid::range_max(c));
      for (int i = 0; i < 3; ++i) EXPECT_EQ(s2grid::range_max(s2grid::child(c, i)) + 2, s2grid::range_min(s2grid::child(c, i + 1)));
    }
  }
  // Every point lies well inside its cell's expanded rectangle.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> lon(-180, 180), lat(-90, 90);
  for (int k = 0; k < 20000; ++k) {
    const double x = lon(rng), y = lat(rng);
    for (int l : {3, 12, 16, 22}) {
      const geohash::Bounds b = s2grid::expanded_bounds(s2grid::cell_of(x, y, l));
      ASSERT_TRUE(x > b.west && x < b.east && y > b.south && y < b.north) << x << " " << y << " level " << l;
    }
  }
}

TEST(LocaliseS2Exact, BordersCornersEnclavesHolesAndCellEdges) {
  // Cell width of geohash precision 5 (exact in binary); squares from (0,0) put borders on the
  // prime meridian and the equator, which are S2 cell edges.
  for (double x0 : {0.0, 45.0 - 8 * 0.0439453125}) {  // second: borders on the 45°E face edge
    const double w = 0.0439453125;
    auto X = [&](double k) { return x0 + k * w; };
    const AreaLayer areas = make_layer(
        "admin", {{"1", {{square(X(0), 0, X(8), 4 * w)}}},
                  {"2", {{square(X(8), 0, X(16), 4 * w)}}},
                  {"3", {{square(X(20), -3 * w, X(26), 6 * w), square(X(22), 2 * w, X(24), 4 * w)}}},
                  {"4", {{square(X(22), 2 * w, X(24), 4 * w)}}},
                  {"5", {{square(X(30), -1 * w, X(31), 0)}, {square(X(31), 0, X(32), 1 * w)}}},
                  {"6", {{square(X(-4), -4 * w, X(0), 0)}}}});
    const RoadTable roads = make_roads({
        {{X(8), 1 * w}, {X(8), 3 * w}},                 // along the 1|2 border (45°E in the second run)
        {{X(1), 4 * w}, {X(3), 4 * w}},                 // along 1's north edge: 1 only
        {{X(1), 0}, {X(7), 0}},                         // along the equator, 1's south edge
        {{X(-1), -1 * w}, {X(0), 0}},                   // into the corner where 1 and 6 touch: 6 only
        {{X(-1), 1 * w}, {X(0), 0}, {X(1), -1 * w}},    // touches the corner, passes through none
        {{X(0), 0}, {X(0), 3 * w}},                     // along 1's west edge (prime meridian)
        {{X(19), 3 * w}, {X(27), 3 * w}},               // through the enclave
        {{X(22.5), 2.5 * w}, {X(23.5), 3.5 * w}},       // inside the hole
        {{X(22), 1 * w}, {X(22), 5 * w}},               // along the hole's west edge
        {{X(2), 2 * w}, {X(12), 2.5 * w}},              // crosses 1|2
        {{X(2), 2 * w}, {X(8), 2 * w}, {X(14), 2 * w}}, // crosses the border at a vertex
        {{X(30), -1 * w}, {X(32), 1 * w}},              // diagonal through 5's touching corner
        {{X(30.5), 0}, {X(31.5), 0}},                   // along 5's inner edges (the equator)
        {{X(40), 30 * w}, {X(41), 31 * w}},             // outside everything
        {{X(0.3), 0.1 * w}, {X(0.6), 0.2 * w}},         // inside 1
        {{X(4), 1 * w}, {X(4), 1 * w}},                 // zero length inside 1
    });
    for (int level : {6, 10, 13, 16}) testing::expect_exact_s2(roads, {areas}, level, "hand-built x0=" + std::to_string(x0));
  }
}

// Random axis-aligned rectangles and triangles with corners on a fine grid, and roads moving
// mostly along the grid (so along borders), placed at (x0, y0).
void random_case(uint64_t seed, double x0, double y0, const std::vector<int>& levels, const std::string& what) {
  std::mt19937_64 rng(seed);
  const double w = 0.0439453125;
  std::uniform_int_distribution<int> cell(0, 40);
  auto sx = [&](int half) { return x0 + cell(rng) * w / half; };
  auto sy = [&](int half) { return y0 + cell(rng) * w / half; };
  std::vector<std::pair<std::string, std::vector<Poly>>> defs;
  for (int a = 0; a < 40; ++a) {
    const int half = 1 << (rng() % 3);
    const double ax = sx(half), ay = sy(half), bx = sx(half), by = sy(half);
    if (ax == bx || ay == by) continue;
    if (a % 2) defs.push_back({std::to_string(a), {{square(std::min(ax, bx), std::min(ay, by), std::max(ax, bx), std::max(ay, by))}}});
    else defs.push_back({std::to_string(a), {{Ring{{ax, ay}, {bx, ay}, {ax, by}}}}});
  }
  const AreaLayer areas = make_layer("random", defs);
  std::vector<Ring> lines;
  for (int r = 0; r < 2000; ++r) {
    const int half = 1 << (rng() % 3);
    Ring l;
    const int n = 2 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      std::pair<double, double> p = l.empty() ? std::make_pair(sx(half), sy(half)) : l.back();
      if (!l.empty()) {
        const int m = static_cast<int>(rng() % 3);
        if (m == 0) p.first = sx(half);
        else if (m == 1) p.second = sy(half);
        else p = {sx(half), sy(half)};
      }
      if (l.empty() || p != l.back()) l.push_back(p);
    }
    if (l.size() >= 2) lines.push_back(l);
  }
  const RoadTable roads = make_roads(lines);
  for (int level : levels) testing::expect_exact_s2(roads, {areas}, level, what);
}

TEST(LocaliseS2Exact, RandomGridSnappedAtTheOrigin) { random_case(2026, 0.0, 0.0, {9, 12, 15}, "random origin"); }
TEST(LocaliseS2Exact, RandomGridSnappedAcrossTheFaceEdgeAt45E) { random_case(17, 44.2, 10.0, {10, 14}, "random 45E"); }
TEST(LocaliseS2Exact, RandomGridSnappedNearThePole) { random_case(5, 10.0, 88.2, {8, 12}, "random pole"); }

TEST(LocaliseS2Exact, SyntheticRegionAllLayersAndAgreementWithGeohash) {
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
  for (int level : {13, 16}) testing::expect_exact_s2(roads, layers, level, "synthetic");

  // S2Localiser and Localiser agree with each other (both exact; lengths within 1e-9).
  cover::CoverOptions gh;
  gh.precision = 7;
  write_coverage(dir.file("gh.h5"), cover::cover_layers(layers, gh).layers, layers);
  cover::CoverOptions s2;
  s2.grid = "s2";
  s2.precision = 16;
  write_coverage(dir.file("s2.h5"), cover::cover_layers(layers, s2).layers, layers);
  std::vector<localise::Hit> a, b;
  std::vector<double> la, lb;
  localise::Localiser(dir.file("gh.h5")).localise(roads, a, la);
  localise::S2Localiser(dir.file("s2.h5")).localise(roads, b, lb);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].row, b[i].row);
    ASSERT_EQ(a[i].layer, b[i].layer);
    ASSERT_EQ(a[i].area, b[i].area);
    ASSERT_NEAR(a[i].length_m, b[i].length_m, 1e-9 * std::max(1.0, a[i].length_m));
  }
  // Road lengths: the same haversine sum up to rounding (Localiser may use a faster form).
  ASSERT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < la.size(); ++i) ASSERT_NEAR(la[i], lb[i], 1e-12 * std::max(1.0, la[i]));

  // GridLocaliser (what the localise job holds) picks the localiser by the file's grid.
  const localise::GridLocaliser g1(dir.file("gh.h5")), g2(dir.file("s2.h5"));
  EXPECT_EQ(g1.grid(), "geohash");
  EXPECT_EQ(g1.precision(), 7);
  EXPECT_EQ(g2.grid(), "s2");
  EXPECT_EQ(g2.precision(), 16);
  std::vector<localise::Hit> c;
  std::vector<double> lc;
  g2.localise(roads, c, lc);
  ASSERT_EQ(c.size(), b.size());
  for (size_t i = 0; i < c.size(); ++i) ASSERT_EQ(c[i].length_m, b[i].length_m);
}

TEST(LocaliseS2Exact, RejectsAGeohashCoverageNamingTheFile) {
  testing::TempDir dir;
  const AreaLayer areas = make_layer("admin", {{"1", {{square(0, 0, 1, 1)}}}});
  write_coverage(dir.file("gh.h5"), cover::cover_layers({areas}, cover::CoverOptions{}).layers, {areas});
  EXPECT_FALSE(localise::coverage_is_s2(dir.file("gh.h5")));
  try {
    localise::S2Localiser loc(dir.file("gh.h5"));
    ADD_FAILURE() << "accepted a geohash coverage";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("gh.h5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--grid s2"), std::string::npos) << e.what();
  }
  cover::CoverOptions bad;
  bad.grid = "h3";
  EXPECT_THROW(cover::cover_layers({areas}, bad), std::invalid_argument);
  bad.grid = "s2";
  bad.precision = 31;
  EXPECT_THROW(cover::cover_layers({areas}, bad), std::invalid_argument);
}

}  // namespace
}  // namespace geoshard
