// cover on real boundaries (../shared/data; skips when absent): Singapore URA subzones, Natural
// Earth 50m countries, OSM admin areas of Monaco and Liechtenstein (nested, overlapping levels).
// Each is ingested first (jobs/ingest), covered, validated, written and read back, and checked
// point by point against the areas (tests/cover/test_areas.h, check_points).
#include <gtest/gtest.h>

#include <random>

#include "io/area_table.h"
#include "io/coverage_table.h"
#include "jobs/cover/cover.h"
#include "jobs/ingest/ingest.h"
#include "tests/cover/test_areas.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

// Covers `layers`, checks validate(), the file round trip and `points` random points per layer
// (uniform over the layer's bounding box, a quarter of them on grid lines of precision P) plus
// `points` inside BOUNDARY cells; with every_cell, also every cell over each area's bounding
// box against GEOS (testing::expect_cells_match_geos).
void cover_and_check(const std::vector<AreaLayer>& layers, int P, uint64_t points, const std::string& label,
                     bool every_cell = false) {
  cover::CoverOptions o;
  o.precision = P;
  const auto r = cover::cover_layers(layers, o);
  testing::TempDir dir;
  write_coverage(dir.file("coverage.h5"), r.layers, layers);
  testing::Geos g;
  for (size_t i = 0; i < layers.size(); ++i) {
    const CoverageLayer& cov = r.layers[i];
    ASSERT_NO_THROW(cov.validate()) << label;
    const CoverageLayer back = read_coverage_layer(dir.file("coverage.h5"), cov.name);
    EXPECT_EQ(back.lo, cov.lo);
    EXPECT_EQ(back.lon, cov.lon);
    const AreaLayer& l = layers[i];
    double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
    for (size_t a = 0; a < l.areas(); ++a) {
      x0 = std::min(x0, l.min_lon[a]), y0 = std::min(y0, l.min_lat[a]);
      x1 = std::max(x1, l.max_lon[a]), y1 = std::max(y1, l.max_lat[a]);
    }
    std::mt19937_64 rng(11 + i);
    std::uniform_real_distribution<double> ux(x0, x1), uy(y0, y1);
    uint64_t k = 0;
    auto draw = [&]() -> std::pair<double, double> {
      double x = ux(rng), y = uy(rng);
      if (k % 8 == 1) x = testing::snap_lon(x, P);
      if (k % 8 == 3) y = testing::snap_lat(y, P);
      ++k;
      return {x, y};
    };
    const auto c = testing::check_points(g, cov, l, points, draw);
    // As many again inside BOUNDARY cells: the pieces against the areas.
    const auto cb = testing::check_points(g, cov, l, points, testing::boundary_cell_sampler(cov, 5 + i));
    const auto& s = r.stats[i];
    EXPECT_GT(c.inside, points / 20) << label;
    EXPECT_GT(c.boundary_compared, 100u) << label;
    EXPECT_GT(cb.boundary_compared, points / 2) << label;
    uint64_t cells = 0, rounding = 0;
    if (every_cell) {
      testing::expect_cells_match_geos(g, cov, l, &cells, &rounding);
      EXPECT_LE(rounding * 1000, cells) << label;
    }
    std::printf("%s P=%d layer %s: %llu areas, %llu interior + %llu boundary cells (%llu touch-only dropped), "
                "%llu intervals, %llu piece vertices, %.2f s; %llu + %llu points (%llu inside, %llu pieces compared); "
                "%llu cells compared with GEOS (%llu differ within rounding)\n",
                label.c_str(), P, s.name.c_str(), (unsigned long long)s.areas, (unsigned long long)s.interior_cells,
                (unsigned long long)s.boundary_cells, (unsigned long long)s.touch_cells_dropped,
                (unsigned long long)s.intervals, (unsigned long long)s.piece_vertices, s.seconds,
                (unsigned long long)c.points, (unsigned long long)cb.points, (unsigned long long)c.inside,
                (unsigned long long)(c.boundary_compared + cb.boundary_compared), (unsigned long long)cells,
                (unsigned long long)rounding);
  }
}

std::vector<AreaLayer> ingest(const std::vector<ingest::AreaLayerSpec>& specs, const testing::TempDir& dir) {
  ingest::AreaOptions o;
  o.layers = specs;
  o.out = dir.file("areas.h5");
  ingest::ingest_areas(o);
  std::vector<AreaLayer> out;
  for (const auto& s : specs) out.push_back(read_area_layer(o.out, s.name));
  return out;
}

TEST(CoverRealData, SingaporeUraSubzonesAndPlanningAreas) {
  GEOSHARD_REQUIRE_SHARED_DATA(gpkg, "boundaries/singapore_ura_mp2019.gpkg");
  testing::TempDir dir;
  const auto layers = ingest({{"planning_area", gpkg, "planning_area", "", "PLN_AREA_N", "PLN_AREA_N", {}},
                              {"subzone", gpkg, "subzone", "", "SUBZONE_N", "SUBZONE_N", {}}},
                             dir);
  ASSERT_EQ(layers[1].areas(), 332u);
  cover_and_check(layers, 7, 100000, "singapore", true);
}

TEST(CoverRealData, NaturalEarth50mCountries) {
  GEOSHARD_REQUIRE_SHARED_DATA(geojson, "boundaries/ne_50m_admin_0_countries.geojson");
  testing::TempDir dir;
  const auto layers = ingest({{"country", geojson, "", "", "ADM0_A3", "NAME", {}}}, dir);
  ASSERT_EQ(layers[0].areas(), 241u);
  cover_and_check(layers, 5, 30000, "natural-earth-50m");
}

TEST(CoverRealData, OsmAdminOfMonacoAndLiechtenstein) {
  GEOSHARD_REQUIRE_SHARED_DATA(monaco, "osm/monaco-2026.osm.pbf");
  GEOSHARD_REQUIRE_SHARED_DATA(li, "osm/liechtenstein-2013.osm.pbf");
  testing::TempDir dir;
  const auto layers = ingest({{"monaco_admin", monaco, "multipolygons", "boundary='administrative'", "osm_id", "name", {}},
                              {"li_admin", li, "multipolygons", "boundary='administrative'", "osm_id", "name", {}}},
                             dir);
  ASSERT_EQ(layers[0].areas(), 11u);
  ASSERT_EQ(layers[1].areas(), 14u);
  cover_and_check(layers, 7, 100000, "osm-admin", true);
  cover_and_check(layers, 8, 50000, "osm-admin");
}

}  // namespace
}  // namespace geoshard
