// ingest roads on hand-built sources: every feature ends in the table or the dead-letter file
// with the right reason, and the table keeps its invariants (sorted, cumulative road-km).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "io/road_table.h"
#include "jobs/ingest/ingest.h"
#include "kernels/geodesic.h"
#include "tests/testing/ogr_fixture.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

using testing::FixtureField;
using testing::line;
using testing::OgrFixture;

std::map<std::string, std::string> dead_letter_reasons(const std::string& path) {
  std::map<std::string, std::string> out;  // record -> reason
  std::ifstream in(path);
  std::string l;
  while (std::getline(in, l)) {
    auto j = nlohmann::json::parse(l);
    out[j["record"]] = j["reason"];
  }
  return out;
}

TEST(IngestRoads, GoodAndBadFeaturesAreAccountedFor) {
  testing::TempDir dir;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  {
    OgrFixture fx(dir.file("roads.gpkg"), "GPKG", "roads", wkbUnknown,
                  {{"id", OFTInteger64}, {"highway", OFTString}, {"name", OFTString}, {"oneway", OFTString},
                   {"maxspeed", OFTString}, {"name:ms", OFTString}, {"surface", OFTString}, {"junction", OFTString}});
    auto add = [&](int64_t id, const char* hw, const char* name, const char* ow, const char* ms,
                   std::unique_ptr<OGRGeometry> g) {
      fx.add(
          [&](OGRFeature& f) {
            f.SetField("id", static_cast<GIntBig>(id));
            f.SetField("highway", hw);
            f.SetField("name", name);
            f.SetField("oneway", ow);
            f.SetField("maxspeed", ms);
            if (id == 1) f.SetField("name:ms", "Jalan Satu");
            f.SetField("surface", id % 2 ? "asphalt" : "gravel");
            if (id == 12) f.SetField("junction", "roundabout");
            if (id == 2) f.SetField("junction", "spui");  // another junction type: not a roundabout
          },
          std::move(g));
    };
    add(1, "primary", "One", "yes", "50", line({{103.80, 1.30}, {103.81, 1.31}}));
    add(2, "residential", "Two", "no", "30 mph", line({{103.70, 1.20}, {103.70, 1.20}, {103.71, 1.20}}));  // dup vertex
    add(3, "trunk", "Three", "-1", "", line({{100.0, 5.0}, {nan, 5.1}}));
    add(4, "trunk", "Four", "reversible", "", line({{100.0, 5.0}, {190.0, 5.1}}));
    add(5, "service", "Five", "", "", line({{100.0, 5.0}, {100.0, 5.0}}));  // one distinct point
    add(6, "service", "Six", "", "", std::make_unique<OGRLineString>());  // empty
    add(7, "service", "Seven", "", "", nullptr);  // no geometry
    add(8, "service", "Eight", "", "", std::make_unique<OGRPoint>(100.0, 5.0));
    add(1, "primary", "Dup", "", "", line({{101.0, 2.0}, {101.1, 2.0}}));  // duplicate id
    add(10, "primary", "Bad\xFF name", "", "", line({{101.0, 2.0}, {101.1, 2.0}}));
    add(11, "primary", "Eleven", "", "", line({{101.0, 2.0}, {101.0, inf}}));
    auto multi = std::make_unique<OGRMultiLineString>();
    multi->addGeometryDirectly(line({{102.0, 3.0}, {102.1, 3.0}}).release());
    multi->addGeometryDirectly(line({{-50.0, 3.0}, {-50.1, 3.1}}).release());
    multi->addGeometryDirectly(line({{-60.0, 3.0}}).release());  // one point: dropped, a repair
    add(12, "secondary", "Twelve", "true", "60 km/h", std::move(multi));
    fx.close();
  }
  ingest::RoadOptions o;
  o.in = dir.file("roads.gpkg");
  o.out = dir.file("roads.h5");
  o.keep = {"surface"};
  const auto s = ingest::ingest_roads(o);
  EXPECT_EQ(s.acc.records_in, 12u);
  EXPECT_EQ(s.acc.records_out, 3u);  // ids 1, 2, 12
  EXPECT_EQ(s.acc.dead_letter_total, 9u);
  EXPECT_EQ(s.acc.records_in, s.acc.records_out + s.acc.dead_letter_total);
  EXPECT_EQ(s.acc.repaired, 2u);  // the duplicate vertex of road 2, the one-point part of road 12
  const auto dl = dead_letter_reasons(s.dead_letter_path);
  EXPECT_EQ(dl.at("3"), "NON_FINITE_COORDINATE");
  EXPECT_EQ(dl.at("4"), "COORDINATE_OUT_OF_RANGE");
  EXPECT_EQ(dl.at("5"), "TOO_FEW_POINTS");
  EXPECT_EQ(dl.at("6"), "EMPTY_GEOMETRY");
  EXPECT_EQ(dl.at("7"), "NO_GEOMETRY");
  EXPECT_EQ(dl.at("8"), "UNSUPPORTED_GEOMETRY");
  EXPECT_EQ(dl.at("1"), "DUPLICATE_ID");
  EXPECT_EQ(dl.at("10"), "INVALID_UTF8");
  EXPECT_EQ(dl.at("11"), "NON_FINITE_COORDINATE");

  const RoadTable t = read_road_table(o.out);
  ASSERT_NO_THROW(t.validate());
  ASSERT_EQ(t.rows(), 4u);  // road 12 has two parts
  // Sorted by the first vertex's key: the part at lon -50 comes first.
  EXPECT_EQ(t.id[0], 12);
  EXPECT_EQ(t.part[0], 1);
  std::map<int64_t, size_t> row;
  for (size_t i = 0; i < t.rows(); ++i)
    if (t.part[i] == 0) row[t.id[i]] = i;
  EXPECT_EQ(t.oneway[row[1]], static_cast<int8_t>(Oneway::kForward));
  EXPECT_EQ(t.oneway[row[2]], static_cast<int8_t>(Oneway::kNo));
  EXPECT_EQ(t.oneway[row[12]], static_cast<int8_t>(Oneway::kForward));
  ASSERT_EQ(t.roundabout.size(), t.rows());  // the `junction` field: both parts of road 12
  for (size_t i = 0; i < t.rows(); ++i) EXPECT_EQ(t.roundabout[i], t.id[i] == 12 ? 1 : 0) << "row " << i;
  EXPECT_FLOAT_EQ(t.maxspeed_kmh[row[1]], 50.0f);
  EXPECT_NEAR(t.maxspeed_kmh[row[2]], 48.28, 0.01);
  EXPECT_FLOAT_EQ(t.maxspeed_kmh[row[12]], 60.0f);
  EXPECT_EQ(t.name[row[1]], "One");
  EXPECT_EQ(t.highway_classes[t.highway[row[2]]], "residential");
  // Duplicate vertex dropped: road 2 keeps 2 vertices.
  EXPECT_EQ(t.vertex_offset[row[2] + 1] - t.vertex_offset[row[2]], 2u);
  // Name variant of road 1.
  ASSERT_EQ(t.variant_row.size(), 1u);
  EXPECT_EQ(t.variant_row[0], row[1]);
  EXPECT_EQ(t.variant_lang[0], "ms");
  EXPECT_EQ(t.variant_name[0], "Jalan Satu");
  ASSERT_EQ(t.extra_names, std::vector<std::string>{"surface"});
  EXPECT_EQ(t.extra_values[0][row[2]], "gravel");
  // cum_km: total equals the sum of haversine lengths.
  const double expect = (haversine_m(103.80, 1.30, 103.81, 1.31) + haversine_m(103.70, 1.20, 103.71, 1.20) +
                         haversine_m(102.0, 3.0, 102.1, 3.0) + haversine_m(-50.0, 3.0, -50.1, 3.1)) /
                        1000.0;
  EXPECT_NEAR(t.road_km(), expect, 1e-9);
}

TEST(IngestRoads, ErrorsNameTheFile) {
  testing::TempDir dir;
  ingest::RoadOptions o;
  o.in = dir.file("nope.osm.pbf");
  o.out = dir.file("roads.h5");
  try {
    ingest::ingest_roads(o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.osm.pbf"), std::string::npos) << e.what();
  }
  // A file that is not a vector source.
  { std::ofstream(dir.file("junk.fgb")) << "not a flatgeobuf"; }
  o.in = dir.file("junk.fgb");
  EXPECT_THROW(ingest::ingest_roads(o), std::runtime_error);
  // Unwritable output: error before any work, naming the output.
  o.out = "/nonexistent-folder/roads.h5";
  try {
    ingest::ingest_roads(o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-folder"), std::string::npos) << e.what();
  }
  // A field option naming a missing field.
  {
    OgrFixture fx(dir.file("r.geojson"), "GeoJSON", "r", wkbLineString, {{"gid", OFTInteger64}});
    fx.add([](OGRFeature& f) { f.SetField("gid", 5); }, line({{1, 1}, {2, 2}}));
    fx.close();
  }
  o.in = dir.file("r.geojson");
  o.out = dir.file("r.h5");
  o.id_field = "road_id";
  try {
    ingest::ingest_roads(o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("road_id"), std::string::npos) << e.what();
  }
  o.id_field = "gid";
  const auto s = ingest::ingest_roads(o);
  EXPECT_EQ(s.acc.records_out, 1u);
  EXPECT_EQ(read_road_table(o.out).id[0], 5);
}

}  // namespace
}  // namespace geoshard
