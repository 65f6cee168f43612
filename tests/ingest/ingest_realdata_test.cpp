// ingest on the real extracts in ../shared/data (skips when absent): every OSM way with a
// highway tag in the `lines` layer is a road or a dead letter; every boundary is kept.
#include <gtest/gtest.h>

#include "io/area_table.h"
#include "io/ogr_source.h"
#include "io/road_table.h"
#include "jobs/ingest/ingest.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

// Independent count, the way ogrinfo -sql does it.
int64_t count_highway_lines(const std::string& pbf, const std::string& and_where = "") {
  GdalDatasetPtr ds = open_vector(pbf);
  const std::string sql = "SELECT COUNT(*) FROM lines WHERE highway IS NOT NULL" + and_where;
  OGRLayer* r = ds->ExecuteSQL(sql.c_str(), nullptr, and_where.empty() ? nullptr : "SQLITE");
  EXPECT_NE(r, nullptr);
  std::unique_ptr<OGRFeature> f(r->GetNextFeature());
  const int64_t n = f->GetFieldAsInteger64(0);
  ds->ReleaseResultSet(r);
  return n;
}

class OsmExtract : public ::testing::TestWithParam<std::string> {};

TEST_P(OsmExtract, EveryHighwayWayIsARoadOrADeadLetter) {
  GEOSHARD_REQUIRE_SHARED_DATA(pbf, "osm/" + GetParam());
  testing::TempDir dir;
  const int64_t expected = count_highway_lines(pbf);
  ASSERT_GT(expected, 300);
  ingest::RoadOptions o;
  o.in = pbf;
  o.out = dir.file("roads.h5");
  const auto s = ingest::ingest_roads(o);
  EXPECT_EQ(static_cast<int64_t>(s.acc.records_in), expected);
  EXPECT_EQ(s.acc.records_in, s.acc.records_out + s.acc.dead_letter_total);
  // Real extracts are clean lines: any dead letter would be a finding to explain.
  EXPECT_EQ(s.acc.dead_letter_total, 0u) << "see " << s.dead_letter_path;
  const RoadTable t = read_road_table(o.out);
  ASSERT_NO_THROW(t.validate());
  EXPECT_EQ(t.rows(), s.acc.records_out);  // OSM ways are single lines
  EXPECT_GT(t.road_km(), 10.0);
  size_t oneway = 0, named = 0, roundabouts = 0;
  ASSERT_EQ(t.roundabout.size(), t.rows());
  for (size_t i = 0; i < t.rows(); ++i) {
    oneway += t.oneway[i] != 0;
    named += !t.name[i].empty();
    roundabouts += t.roundabout[i];
    if (t.roundabout[i]) {
      EXPECT_NE(t.oneway[i], 0) << "a roundabout is one-way unless tagged otherwise: road " << t.id[i];
    }
  }
  // junction=roundabout|circular in other_tags (hstore text), counted by GDAL's SQLite dialect.
  EXPECT_EQ(static_cast<int64_t>(roundabouts),
            count_highway_lines(pbf, " AND (other_tags LIKE '%\"junction\"=>\"roundabout\"%'"
                                     " OR other_tags LIKE '%\"junction\"=>\"circular\"%')"));
  EXPECT_GT(oneway, 0u);
  EXPECT_GT(named, t.rows() / 10);
  std::printf("%s: %lld highway ways, %zu rows, %.1f road-km, %zu one-way, %zu name variants\n", GetParam().c_str(),
              static_cast<long long>(expected), t.rows(), t.road_km(), oneway, t.variant_row.size());
}

INSTANTIATE_TEST_SUITE_P(RealData, OsmExtract,
                         ::testing::Values("monaco-2026.osm.pbf", "liechtenstein-2013.osm.pbf",
                                           "singapore-bayfront-2019.osm.pbf", "kouvola-clip-2020.osm.pbf"));

TEST(RealDataAreas, SingaporeUraKeepsAll332SubzonesAndRepairsTheInvalidOnes) {
  GEOSHARD_REQUIRE_SHARED_DATA(gpkg, "boundaries/singapore_ura_mp2019.gpkg");
  testing::TempDir dir;
  ingest::AreaOptions o;
  o.layers = {{"region", gpkg, "region", "", "REGION_N", "REGION_N", {}},
              {"planning_area", gpkg, "planning_area", "", "PLN_AREA_N", "PLN_AREA_N", {"REGION_N"}},
              {"subzone", gpkg, "subzone", "", "SUBZONE_N", "SUBZONE_N", {"PLN_AREA_N"}}};
  o.out = dir.file("areas.h5");
  const auto s = ingest::ingest_areas(o);
  ASSERT_EQ(s.layers.size(), 3u);
  EXPECT_EQ(s.layers[0].acc.records_out, 5u);
  EXPECT_EQ(s.layers[0].acc.repaired, 4u);  // data/README.md: 4 of 5 regions invalid as shipped
  EXPECT_EQ(s.layers[1].acc.records_out, 55u);
  EXPECT_EQ(s.layers[2].acc.records_out, 332u);
  EXPECT_EQ(s.layers[2].acc.repaired, 6u);  // 6 of 332 subzones invalid as shipped
  EXPECT_EQ(s.acc.dead_letter_total, 0u);
  const AreaLayer sub = read_area_layer(o.out, "subzone");
  ASSERT_NO_THROW(sub.validate());
  EXPECT_EQ(sub.areas(), 332u);
}

TEST(RealDataAreas, NaturalEarth50mIngestsAll241Countries) {
  GEOSHARD_REQUIRE_SHARED_DATA(geojson, "boundaries/ne_50m_admin_0_countries.geojson");
  testing::TempDir dir;
  ingest::AreaOptions o;
  o.layers = {{"country", geojson, "", "", "ADM0_A3", "NAME", {"ISO_A2"}}};
  o.out = dir.file("areas.h5");
  const auto s = ingest::ingest_areas(o);
  EXPECT_EQ(s.acc.records_in, 241u);
  EXPECT_EQ(s.acc.records_out, 241u);
  const AreaLayer l = read_area_layer(o.out, "country");
  ASSERT_NO_THROW(l.validate());
  bool has_sgp = false;
  for (size_t i = 0; i < l.areas(); ++i) has_sgp |= l.id[i] == "SGP";
  EXPECT_TRUE(has_sgp);
}

TEST(RealDataAreas, OsmAdminBoundariesOfMonacoAndLiechtenstein) {
  GEOSHARD_REQUIRE_SHARED_DATA(monaco, "osm/monaco-2026.osm.pbf");
  GEOSHARD_REQUIRE_SHARED_DATA(li, "osm/liechtenstein-2013.osm.pbf");
  testing::TempDir dir;
  ingest::AreaOptions o;
  o.layers = {{"monaco_admin", monaco, "multipolygons", "boundary='administrative'", "osm_id", "name", {"admin_level"}},
              {"li_admin", li, "multipolygons", "boundary='administrative'", "osm_id", "name", {"admin_level"}}};
  o.out = dir.file("areas.h5");
  const auto s = ingest::ingest_areas(o);
  EXPECT_EQ(s.layers[0].acc.records_out, 11u);  // data/README.md: GDAL assembles 11 admin multipolygons
  EXPECT_EQ(s.layers[1].acc.records_out, 14u);  // and 14 for Liechtenstein
  EXPECT_EQ(s.acc.dead_letter_total, 0u);
}

}  // namespace
}  // namespace geoshard
