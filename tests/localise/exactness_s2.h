// expect_exact for the S2 grid: cover with grid "s2" at `level`, localise with S2Localiser, and
// compare every layer with the GEOS oracle (tests/oracle), as tests/localise/exactness.h does
// for geohash: every (road, area) length within 1e-9 relative, every primary area equal.
// Also checks what CoverageLayer::validate() cannot check without s2: every piece lies in its
// cell's expanded rectangle (jobs/cover/s2_grid.h).
#pragma once

#include <gtest/gtest.h>

#include "io/coverage_table.h"
#include "jobs/cover/cover.h"
#include "jobs/cover/s2_grid.h"
#include "jobs/localise/localise_s2.h"
#include "tests/localise/exactness.h"
#include "tests/oracle/oracle.h"
#include "tests/testing/temp_dir.h"

namespace geoshard::testing {

inline void expect_pieces_in_rectangles(const CoverageLayer& c) {
  for (size_t i = 0; i < c.intervals(); ++i)
    for (uint64_t e = c.entry_offset[i]; e < c.entry_offset[i + 1]; ++e) {
      if (c.entry_kind[e] != static_cast<uint8_t>(CoverKind::kBoundary)) continue;
      const uint64_t cell = s2grid::parent(c.lo[i], c.precision);
      ASSERT_EQ(s2grid::range_min(cell), c.lo[i]);
      ASSERT_EQ(s2grid::range_max(cell), c.hi[i]);
      const geohash::Bounds b = s2grid::expanded_bounds(cell);
      const uint64_t p = static_cast<uint64_t>(c.entry_piece[e]);
      for (uint64_t v = c.ring_vertex_offset[c.piece_ring_offset[p]]; v < c.ring_vertex_offset[c.piece_ring_offset[p + 1]]; ++v)
        ASSERT_TRUE(c.lon[v] >= b.west && c.lon[v] <= b.east && c.lat[v] >= b.south && c.lat[v] <= b.north)
            << "layer " << c.name << " piece " << p << " vertex outside its cell's rectangle";
    }
}

inline void expect_exact_s2(const RoadTable& roads, const std::vector<AreaLayer>& layers, int level,
                            const std::string& what) {
  TempDir dir;
  cover::CoverOptions co;
  co.grid = "s2";
  co.precision = level;
  const cover::CoverResult cov = cover::cover_layers(layers, co, nullptr);
  ASSERT_TRUE(cov.dead.empty()) << what << ": " << cov.dead.front().message;
  for (const auto& l : cov.layers) {
    ASSERT_EQ(l.grid, "s2");
    ASSERT_NO_THROW(l.validate()) << what;
    expect_pieces_in_rectangles(l);
  }
  write_coverage(dir.file("coverage.h5"), cov.layers, layers);
  ASSERT_TRUE(localise::coverage_is_s2(dir.file("coverage.h5")));
  const localise::S2Localiser loc(dir.file("coverage.h5"));
  ASSERT_EQ(loc.precision(), level);
  std::vector<localise::Hit> hits;
  std::vector<double> road_len;
  loc.localise(roads, hits, road_len);
  ASSERT_EQ(road_len.size(), roads.rows());
  expect_same_hits_any_batch<localise::S2Localiser>(dir.file("coverage.h5"), roads, hits, road_len, what);
  for (size_t li = 0; li < layers.size(); ++li) {
    std::vector<oracle::RoadAreaLength> got;
    for (const auto& h : hits)
      if (h.layer == li) got.push_back({h.row, h.area, h.length_m});
    const auto expected = oracle::localise_with_geos(roads, layers[li], oracle::Method::kStrTreePrepared);
    const auto cmp = oracle::compare(expected, got, roads, layers[li]);
    std::string ex;
    for (const auto& e : cmp.examples) ex += "\n  " + e;
    EXPECT_TRUE(cmp.exact()) << what << " layer " << layers[li].name << " at S2 level " << level << ": " << cmp.missing
                             << " missing, " << cmp.extra << " extra, " << cmp.share_mismatches << " share mismatches, "
                             << cmp.primary_mismatches << " primary mismatches, max rel error " << cmp.max_rel_error << ex;
    std::printf("%s / %s @S2 L%d: %llu roads, %llu pairs, %llu intervals, max rel error %.3g, %llu primary ties\n",
                what.c_str(), layers[li].name.c_str(), level, (unsigned long long)cmp.roads,
                (unsigned long long)cmp.pairs_expected, (unsigned long long)cov.layers[li].intervals(),
                cmp.max_rel_error, (unsigned long long)cmp.primary_ties);
  }
}

}  // namespace geoshard::testing
