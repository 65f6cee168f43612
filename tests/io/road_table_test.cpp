#include "io/road_table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/testing/random_roads.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

void expect_same_rows(const RoadTable& whole, const RoadTable& part, uint64_t begin) {
  ASSERT_EQ(part.row_offset, begin);
  for (size_t i = 0; i < part.rows(); ++i) {
    const size_t w = begin + i;
    ASSERT_EQ(part.id[i], whole.id[w]);
    ASSERT_EQ(part.name[i], whole.name[w]);
    ASSERT_EQ(part.zkey[i], whole.zkey[w]);
    ASSERT_EQ(part.oneway[i], whole.oneway[w]);
    ASSERT_EQ(std::isnan(part.maxspeed_kmh[i]), std::isnan(whole.maxspeed_kmh[w]));
    const uint64_t a = part.vertex_offset[i] - part.vertex_offset[0];
    const uint64_t wa = whole.vertex_offset[w];
    ASSERT_EQ(part.lon[a], whole.lon[wa]);
    ASSERT_EQ(part.lat[a], whole.lat[wa]);
  }
}

TEST(RoadTable, WriteReadRoundTripAndRanges) {
  testing::TempDir dir;
  const RoadTable t = testing::random_road_table(5000, 3);
  ASSERT_NO_THROW(t.validate());
  write_road_table(t, dir.file("roads.h5"), "test");
  EXPECT_EQ(road_table_rows(dir.file("roads.h5")), 5000u);
  const RoadTable all = read_road_table(dir.file("roads.h5"));
  ASSERT_NO_THROW(all.validate());
  EXPECT_EQ(all.id, t.id);
  EXPECT_EQ(all.lon, t.lon);
  EXPECT_EQ(all.cum_km, t.cum_km);
  EXPECT_EQ(all.variant_row, t.variant_row);
  EXPECT_EQ(all.highway_classes, t.highway_classes);
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 100; ++trial) {
    uint64_t a = rng() % 5001, b = rng() % 5001;
    if (a > b) std::swap(a, b);
    const RoadTable part = read_road_table(dir.file("roads.h5"), a, b);
    ASSERT_NO_THROW(part.validate());
    ASSERT_EQ(part.rows(), b - a);
    expect_same_rows(t, part, a);
    // The slice carries exactly the name variants of its rows.
    std::vector<uint64_t> want;
    for (size_t k = 0; k < t.variant_row.size(); ++k)
      if (t.variant_row[k] >= a && t.variant_row[k] < b) want.push_back(t.variant_row[k]);
    ASSERT_EQ(part.variant_row, want);
    // The road-km of a row range is one subtraction of the cumulative column.
    ASSERT_NEAR(part.road_km(), t.cum_km[b] - t.cum_km[a], 1e-9);
  }
  EXPECT_THROW(read_road_table(dir.file("roads.h5"), 10, 5001), std::runtime_error);
}

// RoadColumns::kGeometry: the geometry columns exactly as a full read gives them, nothing else.
TEST(RoadTable, GeometryOnlyReadHasTheGeometryColumnsAlone) {
  testing::TempDir dir;
  const RoadTable t = testing::random_road_table(3000, 4);
  write_road_table(t, dir.file("roads.h5"), "test");
  std::mt19937_64 rng(6);
  for (int trial = 0; trial < 50; ++trial) {
    uint64_t a = rng() % 3001, b = rng() % 3001;
    if (a > b) std::swap(a, b);
    const RoadTable full = read_road_table(dir.file("roads.h5"), a, b);
    const RoadTable geo = read_road_table(dir.file("roads.h5"), a, b, std::nullopt, RoadColumns::kGeometry);
    EXPECT_EQ(geo.row_offset, full.row_offset);
    EXPECT_EQ(geo.id, full.id);
    EXPECT_EQ(geo.part, full.part);
    EXPECT_EQ(geo.zkey, full.zkey);
    EXPECT_EQ(geo.vertex_offset, full.vertex_offset);
    EXPECT_EQ(geo.cum_km, full.cum_km);
    EXPECT_EQ(geo.lon, full.lon);
    EXPECT_EQ(geo.lat, full.lat);
    EXPECT_TRUE(geo.name.empty() && geo.highway.empty() && geo.variant_row.empty() && geo.highway_classes.empty());
    if (b > a) {
      EXPECT_LT(geo.bytes(), full.bytes());
    }
  }
}

TEST(RoadTable, ValidateCatchesBrokenInvariants) {
  RoadTable t = testing::random_road_table(50, 9);
  ASSERT_NO_THROW(t.validate());
  RoadTable unsorted = t;
  std::swap(unsorted.zkey[3], unsorted.zkey[4]);
  if (unsorted.zkey[3] != unsorted.zkey[4]) {
    EXPECT_THROW(unsorted.validate(), std::runtime_error);
  }
  RoadTable bad_len = t;
  bad_len.cum_km[10] += 0.5;
  EXPECT_THROW(bad_len.validate(), std::runtime_error);
  RoadTable nan = t;
  nan.lat[7] = std::nan("");
  EXPECT_THROW(nan.validate(), std::runtime_error);
}

}  // namespace
}  // namespace geoshard
