// cover_layers on random areas (fixed seeds) at precisions 3..7: exact w.r.t. GEOS on every cell,
// no gaps, INTERIOR cells wholly inside, BOUNDARY pieces equal to the area inside the cell, merge
// changes the interval count but no lookup.
#include <gtest/gtest.h>

#include <random>

#include "jobs/cover/cover.h"
#include "tests/cover/test_areas.h"

namespace geoshard {
namespace {

using testing::G;
using testing::Geos;

class CoverPrecision : public ::testing::TestWithParam<int> {};

// Places of the random layers: an ordinary place, and next to the antimeridian / a pole in
// other tests below.
constexpr double kCx = 103.83, kCy = 1.35;

TEST_P(CoverPrecision, ExactAgainstGeosOnEveryCellAndOnRandomPoints) {
  const int P = GetParam();
  Geos g;
  // At precision 3 (cells of 1.4 degrees) the layer spans ~150 degrees: centre it at 0/0.
  const AreaLayer l = testing::random_layer(g, 1000 + P, P, P == 3 ? 0.0 : kCx, P == 3 ? 0.0 : kCy, 24);
  cover::CoverOptions o;
  o.precision = P;
  const cover::CoverResult r = cover::cover_layers({l}, o);
  ASSERT_EQ(r.layers.size(), 1u);
  const CoverageLayer& cov = r.layers[0];
  ASSERT_NO_THROW(cov.validate());
  EXPECT_EQ(cov.name, l.name);
  EXPECT_EQ(cov.precision, P);
  const auto& s = r.stats[0];
  EXPECT_EQ(s.areas, l.areas());
  EXPECT_EQ(s.intervals, cov.intervals());
  EXPECT_EQ(s.pieces, cov.pieces());
  EXPECT_EQ(s.boundary_cells, cov.pieces());
  EXPECT_EQ(s.piece_vertices, cov.lon.size());
  EXPECT_GT(s.interior_cells, 0u);
  EXPECT_GT(s.touch_cells_dropped, 0u);  // the grid-aligned areas touch cells along edges

  uint64_t cells = 0, rounding = 0;
  testing::expect_cells_match_geos(g, cov, l, &cells, &rounding);
  EXPECT_LE(rounding * 1000, cells) << "cells differing from GEOS within rounding: " << rounding;

  // Random points over the layer's bounding box; a quarter snapped onto grid lines and corners
  // of precision P (points on cell edges: half-open rule).
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  for (size_t a = 0; a < l.areas(); ++a) {
    x0 = std::min(x0, l.min_lon[a]), y0 = std::min(y0, l.min_lat[a]);
    x1 = std::max(x1, l.max_lon[a]), y1 = std::max(y1, l.max_lat[a]);
  }
  std::mt19937_64 rng(77 + P);
  std::uniform_real_distribution<double> ux(x0, x1), uy(y0, y1);
  uint64_t k = 0;
  auto draw = [&]() -> std::pair<double, double> {
    double x = ux(rng), y = uy(rng);
    switch (k++ % 8) {
      case 1: x = testing::snap_lon(x, P); break;
      case 3: y = testing::snap_lat(y, P); break;
      case 5: x = testing::snap_lon(x, P), y = testing::snap_lat(y, P); break;
      default: break;
    }
    return {x, y};
  };
  const auto c = testing::check_points(g, cov, l, 100000, draw);
  EXPECT_EQ(c.points, 100000u);
  EXPECT_GT(c.inside, 10000u);
  EXPECT_GT(c.interior_hits, 1000u);
  EXPECT_GT(c.boundary_compared, 1000u);
  // And 100,000 points inside BOUNDARY cells (a random piece's cell, a random point in it):
  // the pieces themselves against the areas.
  const auto cb = testing::check_points(g, cov, l, 100000, testing::boundary_cell_sampler(cov, 88 + P));
  EXPECT_GT(cb.boundary_compared, 50000u);
  std::printf("P=%d: %zu areas, %llu intervals, %llu pieces; %llu cells compared with GEOS (%llu differ within rounding); %llu + 100000 points "
              "(%llu inside an area, %llu INTERIOR hits, %llu BOUNDARY pieces compared, %llu INTERIOR cells checked)\n",
              P, l.areas(), (unsigned long long)cov.intervals(), (unsigned long long)cov.pieces(),
              (unsigned long long)cells, (unsigned long long)rounding, (unsigned long long)c.points, (unsigned long long)c.inside,
              (unsigned long long)c.interior_hits, (unsigned long long)(c.boundary_compared + cb.boundary_compared),
              (unsigned long long)c.cells_checked);
}

TEST_P(CoverPrecision, MergeReducesIntervalsAndChangesNoLookup) {
  const int P = GetParam();
  Geos g;
  const AreaLayer l = testing::random_layer(g, 2000 + P, P, P == 3 ? 0.0 : kCx, P == 3 ? 0.0 : kCy, 24);
  cover::CoverOptions o;
  o.precision = P;
  const CoverageLayer merged = cover::cover_layers({l}, o).layers[0];
  o.merge = false;
  const auto unmerged_res = cover::cover_layers({l}, o);
  const CoverageLayer& unmerged = unmerged_res.layers[0];
  ASSERT_NO_THROW(unmerged.validate());
  EXPECT_LT(merged.intervals(), unmerged.intervals());
  EXPECT_EQ(merged.pieces(), unmerged.pieces());
  EXPECT_EQ(merged.lon, unmerged.lon);  // same pieces in the same (key) order
  EXPECT_EQ(unmerged_res.stats[0].interior_cells, unmerged_res.stats[0].interior_cells_at_precision);
  // Without merging every interval is one precision-P cell.
  for (size_t i = 0; i < unmerged.intervals(); ++i)
    ASSERT_EQ(unmerged.hi[i] - unmerged.lo[i], (~uint64_t{0}) >> (5 * P)) << i;
  // Same answer for every precision-P cell of the union of both.
  for (size_t i = 0; i < unmerged.intervals(); ++i) {
    const int64_t j = merged.find(unmerged.lo[i]);
    ASSERT_GE(j, 0);
    ASSERT_EQ(unmerged.entry_offset[i + 1] - unmerged.entry_offset[i], merged.entry_offset[j + 1] - merged.entry_offset[j]);
    for (uint64_t e = unmerged.entry_offset[i], f = merged.entry_offset[j]; e < unmerged.entry_offset[i + 1]; ++e, ++f) {
      ASSERT_EQ(unmerged.entry_area[e], merged.entry_area[f]);
      ASSERT_EQ(unmerged.entry_kind[e], merged.entry_kind[f]);
      ASSERT_EQ(unmerged.entry_piece[e], merged.entry_piece[f]);
    }
  }
  uint64_t merged_cells = 0;
  for (size_t j = 0; j < merged.intervals(); ++j) merged_cells += ((merged.hi[j] - merged.lo[j]) >> (64 - 5 * P)) + 1;
  EXPECT_EQ(merged_cells, unmerged.intervals());
}

TEST_P(CoverPrecision, LiteralMethodGivesTheSameCoverage) {
  // clip_first (default) skips GEOS for cells with nothing left after clipping and for cells with
  // an area vertex inside; the literal method asks covers() and intersects() on every cell.
  const int P = GetParam();
  Geos g;
  const AreaLayer l = testing::random_layer(g, 3000 + P, P, P == 3 ? 0.0 : kCx, P == 3 ? 0.0 : kCy, 24);
  cover::CoverOptions o;
  o.precision = P;
  const auto fast = cover::cover_layers({l}, o);
  o.clip_first = false;
  const auto literal = cover::cover_layers({l}, o);
  const CoverageLayer &a = fast.layers[0], &b = literal.layers[0];
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  EXPECT_EQ(a.entry_area, b.entry_area);
  EXPECT_EQ(a.entry_kind, b.entry_kind);
  EXPECT_EQ(a.entry_piece, b.entry_piece);
  EXPECT_EQ(a.ring_vertex_offset, b.ring_vertex_offset);
  EXPECT_EQ(a.lon, b.lon);
  EXPECT_EQ(a.lat, b.lat);
  EXPECT_LT(fast.stats[0].geos_predicates * 2, literal.stats[0].geos_predicates);
}

INSTANTIATE_TEST_SUITE_P(Precisions, CoverPrecision, ::testing::Values(3, 4, 5, 6, 7));

TEST(Cover, CoarseInteriorCellIsKeptWhole) {
  // An area that is exactly the precision-3 cell "w2b" plus a sliver: the cell is INTERIOR at
  // precision 3, found as one cell, not as 1024 cells of precision 5.
  Geos g;
  const auto b = geohash::decode("w2b").bounds();
  AreaLayer l;
  l.name = "one";
  G poly = testing::polygon(g, {b.west, b.east, b.east + 0.01, b.east, b.west}, {b.south, b.south, 0.5 * (b.south + b.north), b.north, b.north});
  testing::add_area(g, l, poly.get(), "1");
  cover::CoverOptions o;
  o.precision = 5;
  const auto r = cover::cover_layers({l}, o);
  const CoverageLayer& c = r.layers[0];
  ASSERT_NO_THROW(c.validate());
  const int64_t i = c.find(geohash::decode("w2b").key_lo());
  ASSERT_GE(i, 0);
  EXPECT_EQ(c.lo[i], geohash::decode("w2b").key_lo());
  EXPECT_EQ(c.hi[i], geohash::decode("w2b").key_hi());
  EXPECT_EQ(c.entry_kind[c.entry_offset[i]], static_cast<uint8_t>(CoverKind::kInterior));
  EXPECT_EQ(r.stats[0].interior_cells, 1u);
  // The sliver east of it: BOUNDARY cells of precision 5 along the east edge; the cells that only
  // touch the area along its west, south and north edges are dropped.
  EXPECT_GT(r.stats[0].boundary_cells, 0u);
  o.clip_first = false;  // the literal method sees them (GEOS intersects) and drops them
  EXPECT_GT(cover::cover_layers({l}, o).stats[0].touch_cells_dropped, 0u);
  EXPECT_EQ(c.find(geohash::Cell::from_point(b.west - 1e-9, 0.5 * (b.south + b.north), 5).key_lo()), -1);
}

TEST(Cover, AreasAtTheAntimeridianAndThePoles) {
  Geos g;
  AreaLayer l;
  l.name = "edges";
  // Touching lon = 180 (east edge of the last column) and lat = -90 / +90.
  G east = testing::polygon(g, {179.2, 180, 180, 179.5}, {10.1, 10.05, 11.3, 11.0});
  G south = testing::polygon(g, {-20, 20, 15, -10}, {-90, -90, -84.3, -85});
  G north = testing::polygon(g, {40.1, 41.7, 41.0}, {88.9, 90, 90});
  G west = testing::polygon(g, {-180, -179.1, -179.6, -180}, {-5, -4.2, -3.3, -3.9});
  testing::add_area(g, l, east.get(), "east");
  testing::add_area(g, l, south.get(), "south");
  testing::add_area(g, l, north.get(), "north");
  testing::add_area(g, l, west.get(), "west");
  for (int P : {3, 5}) {
    cover::CoverOptions o;
    o.precision = P;
    const auto r = cover::cover_layers({l}, o);
    ASSERT_NO_THROW(r.layers[0].validate());
    uint64_t cells = 0, rounding = 0;
    testing::expect_cells_match_geos(g, r.layers[0], l, &cells, &rounding);
    EXPECT_LE(rounding * 100, cells);
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> u(0, 1);
    size_t which = 0;
    auto draw = [&]() -> std::pair<double, double> {
      const size_t a = which++ % l.areas();
      return {l.min_lon[a] + u(rng) * (l.max_lon[a] - l.min_lon[a]), l.min_lat[a] + u(rng) * (l.max_lat[a] - l.min_lat[a])};
    };
    const auto c = testing::check_points(g, r.layers[0], l, 20000, draw);
    EXPECT_GT(c.inside, 5000u);
    // A point exactly on lon = 180 / lat = 90 inside an area finds it (last column / top row).
    const int64_t iv = r.layers[0].find(geohash::zkey(180.0, 10.5));
    ASSERT_GE(iv, 0);
    EXPECT_EQ(r.layers[0].entry_area[r.layers[0].entry_offset[iv]], 0u);
  }
}

TEST(Cover, SeveralLayersAndProgress) {
  Geos g;
  std::vector<AreaLayer> layers = {testing::random_layer(g, 1, 5, 10.0, 50.0, 6),
                                   testing::random_layer(g, 2, 5, -70.0, -30.0, 6)};
  layers[1].name = "second";
  cover::CoverOptions o;
  o.precision = 5;
  uint64_t calls = 0, last_done = 0, last_total = 0;
  o.progress = [&](uint64_t d, uint64_t t) { ++calls, last_done = d, last_total = t; };
  const auto r = cover::cover_layers(layers, o);
  ASSERT_EQ(r.layers.size(), 2u);
  ASSERT_EQ(r.stats.size(), 2u);
  EXPECT_EQ(r.layers[1].name, "second");
  EXPECT_EQ(r.stats[1].name, "second");
  EXPECT_EQ(calls, layers[0].areas() + layers[1].areas());
  EXPECT_EQ(last_done, last_total);
  EXPECT_EQ(last_total, calls);
  // Each layer alone gives the same coverage.
  const auto alone = cover::cover_layers({layers[1]}, o);
  EXPECT_EQ(alone.layers[0].lo, r.layers[1].lo);
  EXPECT_EQ(alone.layers[0].lon, r.layers[1].lon);
}

TEST(Cover, BadAreasAreDeadLetteredAndTheRestIsUnchanged) {
  // Areas that break areas.h5's invariants (ingest never writes them; other tools may): each
  // becomes a dead letter with its reason code, gets no cells, and the good areas' coverage is
  // exactly the coverage without the bad ones.
  Geos g;
  const AreaLayer good = testing::random_layer(g, 7, 5, 10.0, 50.0, 8);
  AreaLayer mixed = good;
  const auto bad = testing::add_bad_areas(mixed, 10.0, 50.0);
  cover::CoverOptions o;
  o.precision = 5;
  const auto r = cover::cover_layers({mixed}, o);
  ASSERT_EQ(r.dead.size(), bad.size());
  for (size_t k = 0; k < bad.size(); ++k) {
    const cover::DeadArea& d = r.dead[k];
    EXPECT_EQ(d.layer, 0u);
    EXPECT_EQ(d.area, good.areas() + k);
    EXPECT_EQ(reason_code(d.reason), bad[k].reason) << bad[k].id << ": " << d.message;
    EXPECT_NE(d.message.find(bad[k].id), std::string::npos) << d.message;  // names the area
  }
  const auto ref = cover::cover_layers({good}, o);
  EXPECT_TRUE(ref.dead.empty());
  EXPECT_EQ(r.layers[0].lo, ref.layers[0].lo);
  EXPECT_EQ(r.layers[0].hi, ref.layers[0].hi);
  EXPECT_EQ(r.layers[0].entry_area, ref.layers[0].entry_area);
  EXPECT_EQ(r.layers[0].entry_kind, ref.layers[0].entry_kind);
  EXPECT_EQ(r.layers[0].lon, ref.layers[0].lon);
  EXPECT_NO_THROW(r.layers[0].validate());
}

TEST(Cover, RejectsBadPrecision) {
  cover::CoverOptions o;
  o.precision = 0;
  EXPECT_THROW(cover::cover_layers({}, o), std::invalid_argument);
  o.precision = 13;
  EXPECT_THROW(cover::cover_layers({}, o), std::invalid_argument);
}

}  // namespace
}  // namespace geoshard
