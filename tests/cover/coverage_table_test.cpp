// io/coverage_table.h: find(), validate() naming each broken invariant, and the HDF5 round trip
// (coverage layers plus the /areas copy).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <functional>

#include <random>

#include "io/area_table.h"
#include "io/coverage_table.h"
#include "io/hdf5.h"
#include "kernels/geohash.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

// A small valid layer at precision 3: an INTERIOR run of two cells and one BOUNDARY cell with a
// two-ring piece (a square with a square hole), and an overlapping INTERIOR area.
CoverageLayer sample() {
  CoverageLayer l;
  l.name = "city";
  l.precision = 3;
  const geohash::Cell a = geohash::decode("w21"), b = geohash::decode("w22"), c = geohash::decode("w2b");
  l.lo = {a.key_lo(), c.key_lo()};
  l.hi = {b.key_hi(), c.key_hi()};
  l.entry_offset = {0, 1, 3};
  l.entry_area = {4, 1, 4};
  l.entry_kind = {1, 2, 1};
  l.entry_piece = {-1, 0, -1};
  const auto bb = c.bounds();
  const double w = bb.east - bb.west, h = bb.north - bb.south;
  auto sq = [&](double f0, double f1) {
    for (auto [fx, fy] : {std::pair{f0, f0}, {f1, f0}, {f1, f1}, {f0, f1}, {f0, f0}}) {
      l.lon.push_back(bb.west + fx * w);
      l.lat.push_back(bb.south + fy * h);
    }
    l.ring_vertex_offset.push_back(l.lon.size());
  };
  l.ring_vertex_offset = {0};
  sq(0.0, 1.0);
  sq(0.25, 0.5);
  l.piece_ring_offset = {0, 2};
  return l;
}

TEST(CoverageLayer, FindIsOneBinarySearch) {
  const CoverageLayer l = sample();
  ASSERT_NO_THROW(l.validate());
  EXPECT_EQ(l.find(0), -1);
  EXPECT_EQ(l.find(~uint64_t{0}), -1);
  EXPECT_EQ(l.find(l.lo[0]), 0);
  EXPECT_EQ(l.find(l.hi[0]), 0);
  EXPECT_EQ(l.find(l.lo[0] + 12345), 0);
  EXPECT_EQ(l.find(l.hi[0] + 1), -1);  // the gap between the intervals
  EXPECT_EQ(l.find(l.lo[1] - 1), -1);
  EXPECT_EQ(l.find(l.lo[1]), 1);
  EXPECT_EQ(l.find(l.hi[1]), 1);
  EXPECT_EQ(l.find(l.hi[1] + 1), -1);
  // Against a linear scan on random keys near the intervals.
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t k = l.lo[0] - (uint64_t{1} << 50) + (rng() >> 10);
    int64_t want = -1;
    for (size_t j = 0; j < l.intervals(); ++j)
      if (l.lo[j] <= k && k <= l.hi[j]) want = static_cast<int64_t>(j);
    ASSERT_EQ(l.find(k), want);
  }
  const RingSet rs = l.piece_rings(0);
  EXPECT_EQ(rs.n_rings, 2u);
  const auto bb = geohash::decode("w2b").bounds();
  const double w = bb.east - bb.west, h = bb.north - bb.south;
  EXPECT_EQ(point_in_rings(rs, bb.west + 0.1 * w, bb.south + 0.1 * h), PipResult::kInside);
  EXPECT_EQ(point_in_rings(rs, bb.west + 0.3 * w, bb.south + 0.3 * h), PipResult::kOutside);  // in the hole
}

void expect_invalid(const CoverageLayer& l, const std::string& what) {
  try {
    l.validate();
    ADD_FAILURE() << "validate() accepted a layer with " << what;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(CoverageLayer, ValidateNamesTheBrokenInvariant) {
  { auto l = sample(); std::swap(l.lo[0], l.lo[1]); std::swap(l.hi[0], l.hi[1]); expect_invalid(l, "sorted and disjoint"); }
  { auto l = sample(); l.hi[0] = l.lo[1]; expect_invalid(l, "sorted and disjoint"); }
  { auto l = sample(); l.lo[0] += 1; expect_invalid(l, "whole precision-3 cells"); }
  { auto l = sample(); l.hi[1] -= 1; expect_invalid(l, "whole precision-3 cells"); }
  { auto l = sample(); l.entry_area = {4, 4, 1}; expect_invalid(l, "sorted by area"); }
  { auto l = sample(); l.entry_piece[0] = 0; expect_invalid(l, "INTERIOR entry with a piece"); }
  { auto l = sample(); l.entry_piece[1] = -1; expect_invalid(l, "BOUNDARY entry without a valid piece"); }
  { auto l = sample(); l.entry_piece[1] = 1; expect_invalid(l, "BOUNDARY entry without a valid piece"); }
  { auto l = sample(); l.entry_kind[2] = 7; expect_invalid(l, "unknown entry kind"); }
  { auto l = sample(); l.lon[3] += 2.0; expect_invalid(l, "outside its closed cell"); }
  { auto l = sample(); l.lon[4] += 1e-3; expect_invalid(l, "not closed"); }
  { auto l = sample(); l.lat[2] = std::nan(""); expect_invalid(l, "non-finite"); }
  { auto l = sample(); l.entry_offset.pop_back(); expect_invalid(l, "intervals+1"); }
  { auto l = sample(); l.entry_kind.pop_back(); expect_invalid(l, "entry columns"); }
  { auto l = sample(); l.ring_vertex_offset[1] = 3; expect_invalid(l, "fewer than 4 vertices"); }
  { auto l = sample(); l.lat.pop_back(); expect_invalid(l, "lon/lat"); }
  { auto l = sample(); l.precision = 0; expect_invalid(l, "precision 0"); }
  { auto l = sample(); l.grid = "h3"; expect_invalid(l, "unknown grid"); }
  { auto l = sample(); l.grid = "s2"; expect_invalid(l, "S2 interval ends must be leaf ids"); }
  {  // A BOUNDARY entry on an interval wider than one cell.
    auto l = sample();
    l.entry_kind = {2, 2, 1};
    l.entry_piece = {0, 0, -1};
    expect_invalid(l, "not one cell");
  }
}

AreaLayer small_areas(const std::string& name) {
  AreaLayer a;
  a.name = name;
  a.source = "test.gpkg";
  a.id = {"1", "2"};
  a.area_name = {"One", "Two"};
  a.repaired = {0, 1};
  a.keep_names = {"kind"};
  a.keep_values = {{"x", "y"}};
  a.polygon_offset = {0, 1, 2};
  a.ring_offset = {0, 1, 2};
  a.vertex_offset = {0, 4, 8};
  a.lon = {0, 1, 0, 0, 5, 6, 5, 5};
  a.lat = {0, 0, 1, 0, 5, 5, 6, 5};
  a.min_lon = {0, 5};
  a.min_lat = {0, 5};
  a.max_lon = {1, 6};
  a.max_lat = {1, 6};
  return a;
}

TEST(CoverageFile, RoundTripWithTheAreaCopy) {
  testing::TempDir dir;
  const std::string path = dir.file("coverage.h5");
  CoverageLayer c1 = sample();
  CoverageLayer c2;  // an empty layer
  c2.name = "gated";
  c2.precision = 3;
  c2.entry_offset = {0};
  const std::vector<AreaLayer> areas = {small_areas("city"), small_areas("gated")};
  write_coverage(path, {c1, c2}, areas);
  EXPECT_EQ(coverage_layer_names(path), (std::vector<std::string>{"city", "gated"}));
  const CoverageLayer r1 = read_coverage_layer(path, "city");
  ASSERT_NO_THROW(r1.validate());
  EXPECT_EQ(r1.grid, "geohash");
  EXPECT_EQ(r1.precision, 3);
  EXPECT_EQ(r1.lo, c1.lo);
  EXPECT_EQ(r1.hi, c1.hi);
  EXPECT_EQ(r1.entry_offset, c1.entry_offset);
  EXPECT_EQ(r1.entry_area, c1.entry_area);
  EXPECT_EQ(r1.entry_kind, c1.entry_kind);
  EXPECT_EQ(r1.entry_piece, c1.entry_piece);
  EXPECT_EQ(r1.piece_ring_offset, c1.piece_ring_offset);
  EXPECT_EQ(r1.ring_vertex_offset, c1.ring_vertex_offset);
  EXPECT_EQ(r1.lon, c1.lon);
  EXPECT_EQ(r1.lat, c1.lat);
  const CoverageLayer r2 = read_coverage_layer(path, "gated");
  ASSERT_NO_THROW(r2.validate());
  EXPECT_EQ(r2.intervals(), 0u);
  EXPECT_EQ(r2.pieces(), 0u);
  const AreaLayer a = read_coverage_areas(path, "gated");
  ASSERT_NO_THROW(a.validate());
  EXPECT_EQ(a.id, areas[1].id);
  EXPECT_EQ(a.lon, areas[1].lon);
  EXPECT_EQ(a.keep_values, areas[1].keep_values);
  // The /areas copy has the areas.h5 layout: the area-table reader opens it too.
  EXPECT_EQ(area_layer_names(path), (std::vector<std::string>{"city", "gated"}));
  EXPECT_EQ(read_area_layer(path, "city").area_name, areas[0].area_name);
  // Attributes a user sees with h5dump.
  h5::File f(path, h5::File::Mode::kRead);
  const h5::Group g = f.root().open_group("coverage");
  EXPECT_EQ(g.attr_string("format"), "geoshard.coverage");
  EXPECT_EQ(g.attr_int("format_version"), 1);
  const h5::Group lg = g.open_group("city");
  EXPECT_EQ(lg.attr_string("layer"), "city");
  EXPECT_EQ(lg.attr_string("grid"), "geohash");
  EXPECT_EQ(lg.attr_int("precision"), 3);
  EXPECT_EQ(lg.attr_int("intervals"), 2);
  EXPECT_EQ(lg.attr_int("pieces"), 1);
}

// One element of a dataset of a written file changed in place (what a table edited by another
// tool, or a flipped bit, looks like to a reader).
template <class T>
void poke(const std::string& path, const std::string& dataset, uint64_t index, T value, hid_t type) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  ASSERT_GE(d, 0);
  const hid_t fs = H5Dget_space(d);
  const hsize_t start = index, count = 1;
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, nullptr, &count, nullptr);
  const hid_t ms = H5Screate_simple(1, &count, nullptr);
  ASSERT_GE(H5Dwrite(d, type, ms, fs, H5P_DEFAULT, &value), 0);
  H5Sclose(ms), H5Sclose(fs), H5Dclose(d), H5Fclose(f);
}

std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

// Tables changed in place are refused by the readers with an error naming the file and what is
// wrong -- not read past their arrays (found by a bad-input sweep: segfaults in cover, localise
// and gather).
TEST(CoverageFile, TablesChangedInPlaceAreRefusedOnRead) {
  testing::TempDir dir;
  const std::string areas = dir.file("areas.h5"), cov = dir.file("coverage.h5");
  write_area_layers({small_areas("city")}, areas);
  CoverageLayer two = sample();  // entries naming the 2 areas of small_areas
  two.entry_area = {1, 0, 1};
  write_coverage(cov, {two}, {small_areas("city")});
  ASSERT_NO_THROW(read_area_layer(areas, "city"));
  {
    const CoverageLayer c = read_coverage_layer(cov, "city");
    ASSERT_NO_THROW(check_coverage_layer(c, read_coverage_areas(cov, "city"), cov));
  }
  const std::string a1 = dir.file("a1.h5"), a2 = dir.file("a2.h5"), a3 = dir.file("a3.h5");
  std::filesystem::copy_file(areas, a1), std::filesystem::copy_file(areas, a2), std::filesystem::copy_file(areas, a3);
  poke<uint64_t>(a1, "/areas/city/vertex_offset", 1, 99999999, H5T_NATIVE_UINT64);
  poke<uint64_t>(a2, "/areas/city/polygon_offset", 1, 0, H5T_NATIVE_UINT64);
  poke<uint64_t>(a3, "/areas/city/polygon_offset", 2, 999999, H5T_NATIVE_UINT64);
  for (const auto& [file, says] : {std::pair{a1, "runs past the vertices"}, std::pair{a2, "area 0 has no polygon"},
                                   std::pair{a3, "ring_offset length"}}) {
    const std::string path = file;  // (a structured binding: clang does not capture it)
    const std::string w = what_of([&] { read_area_layer(path, "city"); });
    EXPECT_NE(w.find(path), std::string::npos) << w;
    EXPECT_NE(w.find(says), std::string::npos) << w;
  }
  // A coverage entry naming an area the layer does not have (the areas copy has 2).
  const std::string c1 = dir.file("c1.h5");
  std::filesystem::copy_file(cov, c1);
  poke<uint32_t>(c1, "/coverage/city/entry_area", 2, 7, H5T_NATIVE_UINT32);
  const std::string w =
      what_of([&] { check_coverage_layer(read_coverage_layer(c1, "city"), read_coverage_areas(c1, "city"), c1); });
  EXPECT_NE(w.find(c1), std::string::npos) << w;
  EXPECT_NE(w.find("names area 7 of 2"), std::string::npos) << w;
}

TEST(CoverageFile, ErrorsNameTheFileAndTheLayer) {
  testing::TempDir dir;
  const std::string path = dir.file("coverage.h5");
  EXPECT_THROW(write_coverage(path, {sample()}, {}), std::invalid_argument);
  EXPECT_THROW(write_coverage(path, {sample()}, {small_areas("other")}), std::invalid_argument);
  write_coverage(path, {sample()}, {small_areas("city")});
  try {
    read_coverage_layer(path, "nope");
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
  const std::string areas = dir.file("areas.h5");
  write_area_layers({small_areas("city")}, areas);
  try {
    coverage_layer_names(areas);
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a geoshard coverage table"), std::string::npos);
  }
  EXPECT_THROW(read_coverage_layer(dir.file("absent.h5"), "city"), std::runtime_error);
}

}  // namespace
}  // namespace geoshard
