// ingest areas on hand-built polygons: valid ones kept, invalid ones repaired with GEOS
// make-valid (counted), the unusable ones dead-lettered with a reason; spec errors are clear.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "io/area_table.h"
#include "jobs/ingest/ingest.h"
#include "tests/testing/ogr_fixture.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

using testing::OgrFixture;
using testing::polygon;

double ring_signed_area(const AreaLayer& l, uint64_t r) {
  double a = 0;
  for (uint64_t v = l.vertex_offset[r]; v + 1 < l.vertex_offset[r + 1]; ++v)
    a += l.lon[v] * l.lat[v + 1] - l.lon[v + 1] * l.lat[v];
  return a / 2;
}

TEST(IngestAreas, RepairsQuarantinesAndNormalises) {
  testing::TempDir dir;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  {
    OgrFixture fx(dir.file("a.gpkg"), "GPKG", "zones", wkbUnknown, {{"code", OFTString}, {"label", OFTString}, {"iso", OFTString}});
    auto add = [&](const char* code, std::unique_ptr<OGRGeometry> g) {
      fx.add([&](OGRFeature& f) {
        f.SetField("code", code);
        f.SetField("label", (std::string("Zone ") + code).c_str());
        f.SetField("iso", "SG");
      }, std::move(g));
    };
    // Clockwise shell with a counter-clockwise hole: valid, gets re-oriented.
    add("square", polygon({{{0, 0}, {0, 10}, {10, 10}, {10, 0}, {0, 0}}, {{2, 2}, {4, 2}, {4, 4}, {2, 4}, {2, 2}}}));
    add("bowtie", polygon({{{20, 0}, {30, 10}, {30, 0}, {20, 10}, {20, 0}}}));  // self-intersecting
    add("unclosed", polygon({{{40, 0}, {50, 0}, {50, 10}, {40, 10}}}));
    add("nan", polygon({{{60, 0}, {70, 0}, {nan, 10}, {60, 0}}}));
    add("range", polygon({{{170, 0}, {190, 0}, {190, 10}, {170, 0}}}));
    add("line", testing::line({{0, 0}, {1, 1}}));
    add("empty", std::make_unique<OGRPolygon>());
    add("", polygon({{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}));  // no id
    add("square", polygon({{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}));  // duplicate id
    add("spike", polygon({{{80, 0}, {81, 0}, {80, 0}, {81, 0}}}));  // zero area: nothing polygonal survives
    auto hole_outside = std::make_unique<OGRPolygon>();
    hole_outside->addRingDirectly(testing::ring({{100, 0}, {110, 0}, {110, 10}, {100, 10}, {100, 0}}).release());
    hole_outside->addRingDirectly(testing::ring({{120, 0}, {122, 0}, {122, 2}, {120, 2}, {120, 0}}).release());
    add("holeout", std::move(hole_outside));
    fx.close();
  }
  {
    std::ofstream(dir.file("areas.toml")) << "[[layer]]\nname = \"zone\"\nsource = \"a.gpkg\"\nsource_layer = \"zones\"\n"
                                              "id_field = \"code\"\nname_field = \"label\"\nkeep = [\"iso\"]\n";
  }
  ingest::AreaOptions o;
  o.layers = ingest::read_area_spec(dir.file("areas.toml"));
  ASSERT_EQ(o.layers.size(), 1u);
  EXPECT_EQ(o.layers[0].source, dir.file("a.gpkg"));  // resolved relative to the spec
  o.out = dir.file("areas.h5");
  const auto s = ingest::ingest_areas(o);
  std::map<std::string, std::string> dl;
  {
    std::ifstream in(s.dead_letter_path);
    std::string l;
    while (std::getline(in, l)) {
      auto j = nlohmann::json::parse(l);
      dl[j["record"]] = j["reason"];
    }
  }
  EXPECT_EQ(s.acc.records_in, 11u);
  EXPECT_EQ(s.acc.records_in, s.acc.records_out + s.acc.dead_letter_total);
  EXPECT_EQ(dl.at("nan"), "NON_FINITE_COORDINATE");
  EXPECT_EQ(dl.at("range"), "COORDINATE_OUT_OF_RANGE");
  EXPECT_EQ(dl.at("line"), "UNSUPPORTED_GEOMETRY");
  EXPECT_EQ(dl.at("empty"), "EMPTY_GEOMETRY");
  EXPECT_EQ(dl.at("square"), "DUPLICATE_ID");
  EXPECT_EQ(dl.at("spike"), "UNREPAIRABLE_POLYGON");
  EXPECT_EQ(dl.count("fid:8"), 1u);
  const AreaLayer l = read_area_layer(o.out, "zone");
  ASSERT_NO_THROW(l.validate());
  std::map<std::string, size_t> idx;
  for (size_t i = 0; i < l.areas(); ++i) idx[l.id[i]] = i;
  ASSERT_EQ(idx.size(), 4u);  // square, bowtie, unclosed, holeout
  EXPECT_FALSE(l.repaired[idx["square"]]);
  EXPECT_TRUE(l.repaired[idx["bowtie"]]);
  EXPECT_TRUE(l.repaired[idx["unclosed"]]);
  EXPECT_TRUE(l.repaired[idx["holeout"]]);
  EXPECT_EQ(s.acc.repaired, 3u);
  // Bow-tie -> two triangles.
  const size_t b = idx["bowtie"];
  EXPECT_EQ(l.polygon_offset[b + 1] - l.polygon_offset[b], 2u);
  // Hole outside its shell -> two polygons.
  const size_t h = idx["holeout"];
  EXPECT_EQ(l.polygon_offset[h + 1] - l.polygon_offset[h], 2u);
  // Orientation: shells counter-clockwise, holes clockwise.
  const size_t q = idx["square"];
  const uint64_t p = l.polygon_offset[q];
  ASSERT_EQ(l.ring_offset[p + 1] - l.ring_offset[p], 2u);
  EXPECT_GT(ring_signed_area(l, l.ring_offset[p]), 0);
  EXPECT_LT(ring_signed_area(l, l.ring_offset[p] + 1), 0);
  EXPECT_EQ(l.area_name[q], "Zone square");
  EXPECT_EQ(l.keep_values[0][q], "SG");
  EXPECT_DOUBLE_EQ(l.max_lon[q], 10);
}

TEST(IngestAreas, SpecErrorsNameFileAndKey) {
  testing::TempDir dir;
  auto expect_error = [&](const std::string& body, const std::string& needle) {
    std::ofstream(dir.file("s.toml")) << body;
    try {
      ingest::read_area_spec(dir.file("s.toml"));
      FAIL() << "accepted: " << body;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("s.toml"), std::string::npos) << e.what();
    }
  };
  expect_error("[[layer]]\nname = \"a\"\nsource = \"x.gpkg\"\nid_field = \"id\"\ncolour = \"red\"\n", "colour");
  expect_error("[[layer]]\nname = \"a\"\nid_field = \"id\"\n", "source");
  expect_error("[[layer]]\nname = \"a\"\nsource = \"x\"\n", "id_field");
  expect_error("[[layer]]\nname = \"a\"\nsource = \"x\"\nid_field = \"i\"\n[[layer]]\nname = \"a\"\nsource = \"y\"\nid_field = \"i\"\n", "twice");
  expect_error("title = 3\n", "title");
  expect_error("[[layer]\nname=", "s.toml");
  expect_error("[[layer]]\nname = \"a\"\nsource = \"x\"\nid_field = \"i\"\nkeep = \"oops\"\n", "keep");
  // Missing source file: clear error naming it at ingest.
  std::ofstream(dir.file("s.toml")) << "[[layer]]\nname = \"a\"\nsource = \"absent.gpkg\"\nid_field = \"id\"\n";
  ingest::AreaOptions o;
  o.layers = ingest::read_area_spec(dir.file("s.toml"));
  o.out = dir.file("a.h5");
  try {
    ingest::ingest_areas(o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.gpkg"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace geoshard
