// S2Localiser (cover --grid s2) == GEOS oracle on the real datasets of localise_realdata_test
// (skips when ../shared/data is absent): Monaco and Liechtenstein roads against the admin
// boundaries of the same extract, Singapore Bayfront against the URA Master Plan layers, and the
// OSM extracts against Natural Earth (France with its overseas parts, Russia up to ±180).
#include <gtest/gtest.h>

#include "jobs/ingest/ingest.h"
#include "tests/localise/exactness_s2.h"

namespace geoshard {
namespace {

RoadTable ingest_roads_of(const std::string& pbf, testing::TempDir& dir, const std::string& name) {
  ingest::RoadOptions o;
  o.in = pbf;
  o.out = dir.file(name + "-roads.h5");
  ingest::ingest_roads(o);
  return read_road_table(o.out);
}

std::vector<AreaLayer> ingest_layers(const std::vector<ingest::AreaLayerSpec>& specs, testing::TempDir& dir,
                                     const std::string& name) {
  ingest::AreaOptions o;
  o.layers = specs;
  o.out = dir.file(name + "-areas.h5");
  ingest::ingest_areas(o);
  std::vector<AreaLayer> out;
  for (const auto& s : specs) out.push_back(read_area_layer(o.out, s.name));
  return out;
}

std::vector<ingest::AreaLayerSpec> osm_admin(const std::string& pbf, std::vector<int> levels) {
  std::vector<ingest::AreaLayerSpec> out;
  for (int l : levels)
    out.push_back({"admin" + std::to_string(l), pbf, "multipolygons",
                   "boundary='administrative' AND admin_level='" + std::to_string(l) + "'", "osm_id", "name", {}});
  return out;
}

TEST(LocaliseS2RealData, MonacoRoadsAgainstItsAdminBoundaries) {
  GEOSHARD_REQUIRE_SHARED_DATA(pbf, "osm/monaco-2026.osm.pbf");
  testing::TempDir dir;
  const RoadTable roads = ingest_roads_of(pbf, dir, "monaco");
  const auto layers = ingest_layers(osm_admin(pbf, {2, 8, 10}), dir, "monaco");
  for (int level : {14, 16, 18}) testing::expect_exact_s2(roads, layers, level, "monaco");
}

TEST(LocaliseS2RealData, LiechtensteinRoadsAgainstItsAdminBoundaries) {
  GEOSHARD_REQUIRE_SHARED_DATA(pbf, "osm/liechtenstein-2013.osm.pbf");
  testing::TempDir dir;
  const RoadTable roads = ingest_roads_of(pbf, dir, "li");
  const auto layers = ingest_layers(osm_admin(pbf, {2, 6, 8}), dir, "li");
  for (int level : {13, 16}) testing::expect_exact_s2(roads, layers, level, "liechtenstein");
}

TEST(LocaliseS2RealData, SingaporeBayfrontAgainstUraLayers) {
  GEOSHARD_REQUIRE_SHARED_DATA(pbf, "osm/singapore-bayfront-2019.osm.pbf");
  GEOSHARD_REQUIRE_SHARED_DATA(gpkg, "boundaries/singapore_ura_mp2019.gpkg");
  testing::TempDir dir;
  const RoadTable roads = ingest_roads_of(pbf, dir, "sg");
  const auto layers = ingest_layers({{"region", gpkg, "region", "", "REGION_N", "REGION_N", {}},
                                     {"planning_area", gpkg, "planning_area", "", "PLN_AREA_N", "PLN_AREA_N", {}},
                                     {"subzone", gpkg, "subzone", "", "SUBZONE_N", "SUBZONE_N", {}}},
                                    dir, "sg");
  for (int level : {14, 16}) testing::expect_exact_s2(roads, layers, level, "singapore");
}

TEST(LocaliseS2RealData, OsmExtractsAgainstNaturalEarthCountries) {
  GEOSHARD_REQUIRE_SHARED_DATA(ne, "boundaries/ne_50m_admin_0_countries.geojson");
  testing::TempDir dir;
  // The countries of the extracts and their neighbours (France with its overseas parts, Russia
  // beside Finland): covering all 241 at every call would only slow the test.
  const auto near = ingest_layers({{"country", ne, "",
                                    "ADM0_A3 IN ('MCO','FRA','ITA','LIE','CHE','AUT','DEU','FIN','RUS','SWE','NOR','EST','SGP','MYS','IDN')",
                                    "ADM0_A3", "NAME", {"ISO_A2"}}},
                                  dir, "ne-near");
  for (const char* f : {"osm/monaco-2026.osm.pbf", "osm/liechtenstein-2013.osm.pbf", "osm/kouvola-clip-2020.osm.pbf",
                        "osm/singapore-bayfront-2019.osm.pbf"}) {
    GEOSHARD_REQUIRE_SHARED_DATA(pbf, f);
    const RoadTable roads = ingest_roads_of(pbf, dir, "x");
    testing::expect_exact_s2(roads, near, 11, std::string("natural earth / ") + f);
  }
}

}  // namespace
}  // namespace geoshard
