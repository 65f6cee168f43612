// Sutherland–Hodgman clipping to a closed cell (jobs/cover/clip.h) and the flattening of raw
// entries into a coverage layer (jobs/cover/flatten.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "jobs/cover/clip.h"
#include "jobs/cover/flatten.h"
#include "kernels/polygon.h"
#include "tests/cover/test_areas.h"

namespace geoshard::cover {
namespace {

Rings one_ring(std::vector<double> x, std::vector<double> y) {
  Rings r;
  r.add_ring(x.data(), y.data(), x.size());
  return r;
}

RingSet view(const Rings& r, std::vector<uint64_t>& off) {
  off.assign(r.offset.begin(), r.offset.end());
  return RingSet{r.x.data(), r.y.data(), off.data(), r.rings()};
}

const geohash::Bounds kUnit{0, 0, 1, 1};

TEST(Clip, RingInsideIsKeptAsItIs) {
  Rings out;
  ClipScratch sc;
  clip_rings(one_ring({0.2, 0.8, 0.5}, {0.2, 0.2, 0.9}), kUnit, out, sc);
  ASSERT_EQ(out.rings(), 1u);
  EXPECT_EQ(out.x, (std::vector<double>{0.2, 0.8, 0.5}));
}

TEST(Clip, ClosingVertexIsDroppedOnInput) {
  Rings r = one_ring({0.2, 0.8, 0.5, 0.2}, {0.2, 0.2, 0.9, 0.2});
  EXPECT_EQ(r.vertices(), 3u);
}

TEST(Clip, RingAroundTheCellGivesTheCell) {
  Rings out;
  ClipScratch sc;
  clip_rings(one_ring({-1, 2, 2, -1}, {-1, -1, 2, 2}), kUnit, out, sc);
  ASSERT_EQ(out.rings(), 1u);
  ASSERT_EQ(out.vertices(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(out.x[i] == 0 || out.x[i] == 1);
    EXPECT_TRUE(out.y[i] == 0 || out.y[i] == 1);
  }
}

TEST(Clip, CrossingsLieExactlyOnTheGridLine) {
  // A triangle poking through the east edge x = 1 and the north edge y = 1.
  Rings out;
  ClipScratch sc;
  clip_rings(one_ring({0.3, 1.7, 0.4}, {0.1, 0.35, 1.9}), kUnit, out, sc);
  ASSERT_EQ(out.rings(), 1u);
  int on_east = 0, on_north = 0;
  for (size_t i = 0; i < out.vertices(); ++i) {
    EXPECT_GE(out.x[i], 0.0);
    EXPECT_LE(out.x[i], 1.0);
    EXPECT_GE(out.y[i], 0.0);
    EXPECT_LE(out.y[i], 1.0);
    on_east += out.x[i] == 1.0;
    on_north += out.y[i] == 1.0;
  }
  EXPECT_GE(on_east, 2);
  EXPECT_GE(on_north, 2);
}

TEST(Clip, VertexOnTheLineCreatesNoNewVertex) {
  // The vertex (1, 0.5) lies on the east edge: kept as it is, no crossing computed next to it.
  Rings out;
  ClipScratch sc;
  clip_rings(one_ring({0.2, 1.0, 0.2}, {0.2, 0.5, 0.8}), kUnit, out, sc);
  ASSERT_EQ(out.rings(), 1u);
  EXPECT_EQ(out.vertices(), 3u);
}

TEST(Clip, RingOutsideOrOnlyTouchingVanishes) {
  Rings out;
  ClipScratch sc;
  clip_rings(one_ring({2, 3, 2.5}, {0, 0, 1}), kUnit, out, sc);                // outside
  clip_rings(one_ring({1, 2, 2, 1}, {0.2, 0.2, 0.6, 0.6}), kUnit, out, sc);    // touches the east edge
  clip_rings(one_ring({1, 2, 1.5}, {1, 1, 2}), kUnit, out, sc);                // touches a corner
  clip_rings(one_ring({-1, 0, 0, -1}, {-1, -1, 0, 0}), kUnit, out, sc);       // touches a corner
  EXPECT_TRUE(out.empty());
}

// Rings all of whose edges run along the cell's boundary: area inside when they wind around the
// cell an odd number of times. The cell's own outline with a vertex on an edge is what clipping
// gives when a crossing a fraction of an ulp from the edge line rounds onto it (found on an area
// whose edge crosses a grid line at ~1e-16 rad: the cell was dropped as "touching" and a road along
// that grid line lost an eighth of its share; LocaliseExact.RoadAlongAGridLineAnEdgeCrossesAtASubUlpAngle).
TEST(Clip, AreaInsideWhenEdgesOnTheBoundaryWindAroundTheCell) {
  EXPECT_TRUE(has_area_inside(one_ring({0, 1, 1, 0}, {0, 0, 1, 1}), kUnit));              // the outline
  EXPECT_TRUE(has_area_inside(one_ring({0, 1, 1, 0.3, 0}, {0, 0, 1, 1, 1}), kUnit));      // with a vertex on the north edge
  EXPECT_TRUE(has_area_inside(one_ring({0, 0, 1, 1}, {0, 1, 1, 0}), kUnit));              // clockwise
  EXPECT_FALSE(has_area_inside(one_ring({0, 1, 1, 1, 0}, {0, 0, 0.5, 0, 0}), kUnit));     // along two edges and back
  EXPECT_FALSE(has_area_inside(one_ring({1, 1, 1}, {0, 1, 0.5}), kUnit));                 // along one edge
  Rings shell_and_hole = one_ring({0, 1, 1, 0}, {0, 0, 1, 1});
  const Rings hole = one_ring({0, 0, 1, 1}, {0, 1, 1, 0});
  shell_and_hole.x.insert(shell_and_hole.x.end(), hole.x.begin(), hole.x.end());
  shell_and_hole.y.insert(shell_and_hole.y.end(), hole.y.begin(), hole.y.end());
  shell_and_hole.offset.push_back(shell_and_hole.x.size());
  EXPECT_FALSE(has_area_inside(shell_and_hole, kUnit));                                  // 1 - 1 = 0
  EXPECT_FALSE(has_area_inside(one_ring({0, 1, 1, 0, 0, 1, 1, 0}, {0, 0, 1, 1, 0, 0, 1, 1}), kUnit));  // twice around
  const geohash::Bounds b{7.25 * 0.0439453125, 7.875 * 0.0439453125, 7.5 * 0.0439453125, 8 * 0.0439453125};
  EXPECT_TRUE(has_area_inside(one_ring({b.west, b.west, b.east, b.east, 7.3333 * 0.0439453125},
                                       {b.north, b.south, b.south, b.north, b.north}), b));
}

TEST(Clip, SameEdgeBothWaysGivesTheSameCrossing) {
  Rings a, b;
  ClipScratch sc;
  clip_rings(one_ring({0.1, 1.3, 0.9}, {0.1, 0.7, 0.9}), kUnit, a, sc);
  clip_rings(one_ring({0.9, 1.3, 0.1}, {0.9, 0.7, 0.1}), kUnit, b, sc);  // reversed
  std::vector<std::pair<double, double>> pa, pb;
  for (size_t i = 0; i < a.vertices(); ++i) pa.push_back({a.x[i], a.y[i]});
  for (size_t i = 0; i < b.vertices(); ++i) pb.push_back({b.x[i], b.y[i]});
  std::sort(pa.begin(), pa.end());
  std::sort(pb.begin(), pb.end());
  EXPECT_EQ(pa, pb);
}

// Property: inside the open cell, the clipped ring set has the same even-odd membership as the
// original (random stars with holes, random cells, points not within 1e-9 of the cell edges).
TEST(Clip, MembershipInsideTheCellIsPreserved) {
  std::mt19937_64 rng(20261122);
  std::uniform_real_distribution<double> u(0, 1);
  uint64_t compared = 0, inside = 0;
  for (int t = 0; t < 400; ++t) {
    Rings in;
    auto [sx, sy] = testing::star(rng, 0.5, 0.5, 0.3 + u(rng), 6 + t % 40);
    in.add_ring(sx.data(), sy.data(), sx.size());
    auto [hx, hy] = testing::star(rng, 0.5, 0.5, 0.1, 5 + t % 7);
    in.add_ring(hx.data(), hy.data(), hx.size());
    const double x0 = u(rng) * 0.8, y0 = u(rng) * 0.8, cw = 0.05 + u(rng) * 0.4, ch = 0.05 + u(rng) * 0.4;
    const geohash::Bounds b{x0, y0, x0 + cw, y0 + ch};
    Rings out;
    ClipScratch sc;
    clip_rings(in, b, out, sc);
    std::vector<uint64_t> o1, o2;
    const RingSet ri = view(in, o1), ro = view(out, o2);
    for (size_t i = 0; i < out.vertices(); ++i) {
      ASSERT_GE(out.x[i], b.west);
      ASSERT_LE(out.x[i], b.east);
      ASSERT_GE(out.y[i], b.south);
      ASSERT_LE(out.y[i], b.north);
    }
    for (int k = 0; k < 500; ++k) {
      const double x = b.west + 1e-9 + u(rng) * (cw - 2e-9), y = b.south + 1e-9 + u(rng) * (ch - 2e-9);
      const PipResult a = point_in_rings(ri, x, y);
      if (a == PipResult::kBoundary) continue;
      ++compared;
      inside += a == PipResult::kInside;
      ASSERT_EQ(point_in_rings(ro, x, y), a) << "case " << t << " point " << x << " " << y;
    }
  }
  EXPECT_EQ(compared, 200000u);
  EXPECT_GT(inside, 20000u);
}

// ---- flatten ----

RawEntry interior(geohash::Cell c, uint32_t area) {
  return RawEntry{c.key_lo(), c.key_hi(), area, static_cast<uint8_t>(CoverKind::kInterior), -1};
}

// Adds a one-ring square piece inside cell c and a BOUNDARY entry for it.
RawEntry boundary(RawLayer& r, geohash::Cell c, uint32_t area) {
  const auto b = c.bounds();
  const double mx = 0.5 * (b.west + b.east), my = 0.5 * (b.south + b.north);
  for (auto [x, y] : {std::pair{b.west, b.south}, {mx, b.south}, {mx, my}, {b.west, my}, {b.west, b.south}}) {
    r.lon.push_back(x);
    r.lat.push_back(y);
  }
  r.ring_vertex_offset.push_back(r.lon.size());
  r.piece_ring_offset.push_back(r.ring_vertex_offset.size() - 1);
  return RawEntry{c.key_lo(), c.key_hi(), area, static_cast<uint8_t>(CoverKind::kBoundary),
                  static_cast<int64_t>(r.pieces()) - 1};
}

TEST(Flatten, OverlappingAreasSplitIntoElementaryIntervals) {
  const geohash::Cell big = geohash::decode("w2");    // precision 2, INTERIOR of area 0
  const geohash::Cell small = geohash::decode("w2b"); // precision 3 inside it, INTERIOR of area 1
  const geohash::Cell edge = geohash::decode("w2c");  // precision 3, BOUNDARY of area 1
  RawLayer r;
  r.entries.push_back(interior(big, 0));
  r.entries.push_back(interior(small, 1));
  r.entries.push_back(boundary(r, edge, 1));
  const CoverageLayer l = flatten(r, "t", FlattenOptions{3, true});
  ASSERT_NO_THROW(l.validate());
  // [w2 start, w2b) {0}, w2b {0,1}, w2c {0,1b}, (w2c, w2 end] {0}
  ASSERT_EQ(l.intervals(), 4u);
  EXPECT_EQ(l.lo[0], big.key_lo());
  EXPECT_EQ(l.hi[0], small.key_lo() - 1);
  EXPECT_EQ(l.lo[1], small.key_lo());
  EXPECT_EQ(l.hi[1], small.key_hi());
  EXPECT_EQ(l.entry_offset[2] - l.entry_offset[1], 2u);
  EXPECT_EQ(l.lo[2], edge.key_lo());
  EXPECT_EQ(l.entry_kind[l.entry_offset[2] + 1], static_cast<uint8_t>(CoverKind::kBoundary));
  EXPECT_EQ(l.entry_piece[l.entry_offset[2] + 1], 0);
  EXPECT_EQ(l.hi[3], big.key_hi());
  EXPECT_EQ(l.pieces(), 1u);
  // Every precision-3 cell of w2 finds its interval; one outside finds none.
  for (int i = 0; i < 32; ++i) EXPECT_GE(l.find(big.child(i).key_lo()), 0);
  EXPECT_EQ(l.find(geohash::decode("w3").key_lo()), -1);
}

TEST(Flatten, MergeJoinsAdjacentAllInteriorIntervalsOnly) {
  const geohash::Cell p = geohash::decode("u0");
  RawLayer r;
  for (int i = 0; i < 32; ++i) r.entries.push_back(i == 7 ? boundary(r, p.child(i), 5) : interior(p.child(i), 5));
  const CoverageLayer merged = flatten(r, "t", FlattenOptions{3, true});
  const CoverageLayer unmerged = flatten(r, "t", FlattenOptions{3, false});
  ASSERT_NO_THROW(merged.validate());
  ASSERT_NO_THROW(unmerged.validate());
  EXPECT_EQ(merged.intervals(), 3u);  // children 0-6, 7 (boundary), 8-31
  EXPECT_EQ(unmerged.intervals(), 32u);
  // Without merging, a coarse INTERIOR cell is cut into its precision-P cells.
  RawLayer coarse;
  coarse.entries.push_back(interior(p, 1));
  EXPECT_EQ(flatten(coarse, "t", FlattenOptions{4, false}).intervals(), 1024u);
  EXPECT_EQ(flatten(coarse, "t", FlattenOptions{4, true}).intervals(), 1u);
}

TEST(Flatten, IdenticalForAnyEntryOrder) {
  std::mt19937_64 rng(7);
  RawLayer r;
  const geohash::Cell root = geohash::decode("w");
  for (uint32_t a = 0; a < 6; ++a)
    for (int i = 0; i < 32; ++i) {
      if ((rng() % 3) == 0) continue;
      const geohash::Cell c = root.child(i).child(static_cast<int>(rng() % 32));
      r.entries.push_back(rng() % 2 ? interior(c, a) : boundary(r, c, a));
    }
  const CoverageLayer a = flatten(r, "t", FlattenOptions{3, true});
  // Same entries in another order, with pieces stored in another order.
  RawLayer s;
  std::vector<size_t> perm(r.entries.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  for (size_t i : perm) {
    const RawEntry& e = r.entries[i];
    s.entries.push_back(e.piece >= 0 ? boundary(s, geohash::Cell::from_key(e.lo, 3), e.area) : e);
  }
  const CoverageLayer b = flatten(s, "t", FlattenOptions{3, true});
  ASSERT_NO_THROW(a.validate());
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  EXPECT_EQ(a.entry_area, b.entry_area);
  EXPECT_EQ(a.entry_piece, b.entry_piece);
  EXPECT_EQ(a.lon, b.lon);
  EXPECT_EQ(a.lat, b.lat);
}

TEST(Flatten, OverlappingCellsOfOneAreaAreABug) {
  RawLayer r;
  r.entries.push_back(interior(geohash::decode("w2"), 3));
  r.entries.push_back(interior(geohash::decode("w2b"), 3));
  EXPECT_THROW(flatten(r, "t", FlattenOptions{3, true}), std::logic_error);
}

TEST(Flatten, WholeWorldAndEmpty) {
  RawLayer r;
  r.entries.push_back(interior(geohash::Cell::world(), 0));
  const CoverageLayer l = flatten(r, "t", FlattenOptions{1, true});
  ASSERT_EQ(l.intervals(), 1u);
  EXPECT_EQ(l.lo[0], 0u);
  EXPECT_EQ(l.hi[0], ~uint64_t{0});
  EXPECT_EQ(l.find(~uint64_t{0}), 0);
  EXPECT_EQ(flatten(r, "t", FlattenOptions{1, false}).intervals(), 32u);
  const CoverageLayer e = flatten(RawLayer(), "t", FlattenOptions{5, true});
  EXPECT_EQ(e.intervals(), 0u);
  EXPECT_NO_THROW(e.validate());
  EXPECT_EQ(e.find(12345), -1);
}

TEST(Flatten, NoMergeRefusesAbsurdSizes) {
  RawLayer r;
  r.entries.push_back(interior(geohash::Cell::world(), 0));
  EXPECT_THROW(flatten(r, "t", FlattenOptions{8, false}), std::length_error);  // 2^40 cells
}

}  // namespace
}  // namespace geoshard::cover
