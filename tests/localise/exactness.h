// Shared by the localise tests: cover the layers, localise the roads, and compare every layer
// with the GEOS oracle (tests/oracle). Exact means: 100 % of primary areas agree (ties within
// rounding count as agreement) and every (road, area) length agrees within 1e-9 relative.
#pragma once

#include <gtest/gtest.h>

#include "io/coverage_table.h"
#include "jobs/cover/cover.h"
#include "jobs/localise/localise.h"
#include "tests/oracle/oracle.h"
#include "tests/testing/temp_dir.h"

namespace geoshard::testing {

// The boundary point-in-polygon tests batched a few at a time (many chunks, down to one road
// each): the very same hits as `hits` (the default batches), bit for bit.
template <class L>
void expect_same_hits_any_batch(const std::string& coverage, const RoadTable& roads, const std::vector<localise::Hit>& hits,
                                const std::vector<double>& road_len, const std::string& what) {
  for (size_t batch : {size_t{1}, size_t{97}}) {
    L small(coverage);
    small.set_pip_batch(batch);
    std::vector<localise::Hit> h2;
    std::vector<double> l2;
    small.localise(roads, h2, l2);
    ASSERT_EQ(h2.size(), hits.size()) << what << ": point-in-polygon batches of " << batch;
    size_t differ = 0;
    for (size_t i = 0; i < hits.size(); ++i)
      differ += h2[i].row != hits[i].row || h2[i].layer != hits[i].layer || h2[i].area != hits[i].area ||
                h2[i].length_m != hits[i].length_m;
    EXPECT_EQ(differ, 0u) << what << ": point-in-polygon batches of " << batch;
    EXPECT_EQ(l2, road_len);
  }
}

inline void expect_exact(const RoadTable& roads, const std::vector<AreaLayer>& layers, int precision,
                         const std::string& what) {
  TempDir dir;
  cover::CoverOptions co;
  co.precision = precision;
  const cover::CoverResult cov = cover::cover_layers(layers, co, nullptr);
  write_coverage(dir.file("coverage.h5"), cov.layers, layers);
  const localise::Localiser loc(dir.file("coverage.h5"));
  std::vector<localise::Hit> hits;
  std::vector<double> road_len;
  loc.localise(roads, hits, road_len);
  ASSERT_EQ(road_len.size(), roads.rows());
  expect_same_hits_any_batch<localise::Localiser>(dir.file("coverage.h5"), roads, hits, road_len, what);
  for (size_t li = 0; li < layers.size(); ++li) {
    std::vector<oracle::RoadAreaLength> got;
    for (const auto& h : hits)
      if (h.layer == li) got.push_back({h.row, h.area, h.length_m});
    const auto expected = oracle::localise_with_geos(roads, layers[li], oracle::Method::kStrTreePrepared);
    const auto cmp = oracle::compare(expected, got, roads, layers[li]);
    std::string ex;
    for (const auto& e : cmp.examples) ex += "\n  " + e;
    EXPECT_TRUE(cmp.exact()) << what << " layer " << layers[li].name << " at precision " << precision << ": "
                             << cmp.missing << " missing, " << cmp.extra << " extra, " << cmp.share_mismatches
                             << " share mismatches, " << cmp.primary_mismatches << " primary mismatches, max rel error "
                             << cmp.max_rel_error << ex;
    std::printf("%s / %s @P%d: %llu roads, %llu pairs, max rel error %.3g, %llu primary ties\n", what.c_str(),
                layers[li].name.c_str(), precision, (unsigned long long)cmp.roads, (unsigned long long)cmp.pairs_expected,
                cmp.max_rel_error, (unsigned long long)cmp.primary_ties);
  }
}

}  // namespace geoshard::testing
