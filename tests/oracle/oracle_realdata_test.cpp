// The oracle on real data: Monaco's roads and administrative boundaries from the same OSM
// extract (ingested with geoshard::ingest), one area layer per admin_level. The STRtree +
// prepared oracle must equal brute force on every road of every layer. Skips without
// ../shared/data.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "io/area_table.h"
#include "io/road_table.h"
#include "jobs/ingest/ingest.h"
#include "tests/oracle/oracle.h"
#include "tests/testing/temp_dir.h"

namespace geoshard::oracle {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(OracleRealData, MonacoStrTreePreparedEqualsBruteForceOnEveryRoad) {
  GEOSHARD_REQUIRE_SHARED_DATA(pbf, "osm/monaco-2026.osm.pbf");
  geoshard::testing::TempDir dir;
  ingest::RoadOptions ro;
  ro.in = pbf;
  ro.out = dir.file("roads.h5");
  ingest::ingest_roads(ro);
  ingest::AreaOptions ao;
  for (const char* level : {"2", "8", "10"})
    ao.layers.push_back({std::string("admin_") + level, pbf, "multipolygons",
                         std::string("boundary='administrative' AND admin_level='") + level + "'", "osm_id", "name",
                         {}});
  ao.out = dir.file("areas.h5");
  ingest::ingest_areas(ao);

  const RoadTable roads = read_road_table(ro.out);
  ASSERT_GT(roads.rows(), 3000u);
  for (const auto& spec : ao.layers) {
    SCOPED_TRACE(spec.name);
    const AreaLayer layer = read_area_layer(ao.out, spec.name);
    ASSERT_GT(layer.areas(), 0u);
    auto t0 = std::chrono::steady_clock::now();
    const auto str = localise_with_geos(roads, layer, Method::kStrTreePrepared);
    const double t_str = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    const auto brute = localise_with_geos(roads, layer, Method::kBruteForce);
    const double t_brute = seconds_since(t0);
    const Comparison c = compare(brute, str, roads, layer);
    EXPECT_TRUE(c.exact()) << c.summary();
    EXPECT_EQ(c.pairs_expected, c.pairs_got) << c.summary();
    EXPECT_LT(c.max_rel_error, 1e-12) << c.summary();
    // Every area of Monaco has roads in it.
    std::vector<bool> seen(layer.areas());
    for (const auto& p : str) seen[p.area] = true;
    for (size_t a = 0; a < layer.areas(); ++a) EXPECT_TRUE(seen[a]) << "no road in area " << layer.id[a];
    const auto prim = primaries(str, roads, layer);
    size_t with_area = 0, partial = 0;
    for (const auto& p : prim) {
      with_area += p.area >= 0;
      partial += p.area >= 0 && p.share < 1 - 1e-9;
    }
    std::printf("%s: %zu areas, %zu roads, %zu pairs, %zu roads in an area (%zu partly), STR %.2f s, brute %.2f s; %s\n",
                spec.name.c_str(), layer.areas(), roads.rows(), str.size(), with_area, partial, t_str, t_brute,
                c.summary().c_str());
  }
}

}  // namespace
}  // namespace geoshard::oracle
