// cover_layers over 1..4 ranks: areas dealt to ranks by vertex count, entries gathered to rank 0,
// and the coverage identical to the serial one, bit for bit.
#include <gtest/gtest.h>

#include "jobs/cover/cover.h"
#include "mpi/comm.h"
#include "tests/cover/test_areas.h"
#include "tests/testing/mpi_main.h"

namespace geoshard {
namespace {

void expect_same(const CoverageLayer& a, const CoverageLayer& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.precision, b.precision);
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  EXPECT_EQ(a.entry_offset, b.entry_offset);
  EXPECT_EQ(a.entry_area, b.entry_area);
  EXPECT_EQ(a.entry_kind, b.entry_kind);
  EXPECT_EQ(a.entry_piece, b.entry_piece);
  EXPECT_EQ(a.piece_ring_offset, b.piece_ring_offset);
  EXPECT_EQ(a.ring_vertex_offset, b.ring_vertex_offset);
  EXPECT_EQ(a.lon, b.lon);
  EXPECT_EQ(a.lat, b.lat);
}

class CoverMpi : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(CoverMpi, IdenticalToSerialForAnyRankCount) {
  const auto [P, merge] = GetParam();
  mpi::Comm comm;
  testing::Geos g;
  // Deterministic: every rank builds the same layers (three layers, overlapping areas).
  std::vector<AreaLayer> layers;
  for (int k = 0; k < 3; ++k) {
    layers.push_back(testing::random_layer(g, 500 + k, P, 100.0 + 0.3 * k, 5.0, 10 + 2 * k));
    layers.back().name = "layer" + std::to_string(k);
  }
  cover::CoverOptions o;
  o.precision = P;
  o.merge = merge;
  uint64_t my_areas = 0;
  o.progress = [&](uint64_t, uint64_t t) { my_areas = t; };
  const cover::CoverResult par = cover::cover_layers(layers, o, &comm);
  ASSERT_EQ(par.layers.size(), layers.size());
  // The areas are dealt out: every area is covered by exactly one rank.
  uint64_t total = 0;
  for (const auto& l : layers) total += l.areas();
  EXPECT_EQ(comm.sum(my_areas), total);
  if (comm.size() > 1) {
    EXPECT_LT(my_areas, total);
  }
  if (!comm.root()) {
    EXPECT_TRUE(par.stats.empty());
    for (size_t i = 0; i < layers.size(); ++i) {
      EXPECT_EQ(par.layers[i].name, layers[i].name);
      EXPECT_EQ(par.layers[i].intervals(), 0u);
    }
    return;
  }
  const cover::CoverResult ser = cover::cover_layers(layers, o);
  ASSERT_EQ(par.stats.size(), layers.size());
  ASSERT_EQ(par.rank_seconds.size(), static_cast<size_t>(comm.size()));
  ASSERT_EQ(par.rank_weight.size(), static_cast<size_t>(comm.size()));
  double weight = 0;
  for (double w : par.rank_weight) weight += w;
  EXPECT_EQ(weight, ser.rank_weight[0]);  // every area dealt once
  for (size_t i = 0; i < layers.size(); ++i) {
    ASSERT_NO_THROW(par.layers[i].validate());
    expect_same(par.layers[i], ser.layers[i]);
    EXPECT_EQ(par.stats[i].areas, layers[i].areas());
    EXPECT_EQ(par.stats[i].interior_cells, ser.stats[i].interior_cells);
    EXPECT_EQ(par.stats[i].boundary_cells, ser.stats[i].boundary_cells);
    EXPECT_EQ(par.stats[i].touch_cells_dropped, ser.stats[i].touch_cells_dropped);
    EXPECT_EQ(par.stats[i].geos_predicates, ser.stats[i].geos_predicates);
    EXPECT_GT(par.layers[i].pieces(), 0u);
  }
}

TEST(CoverMpiEdge, GatherInManySmallRounds) {
  // The gather sends at most a chunk per rank per round (below MPI's 2^31 int limit in real
  // runs); a 1000-byte chunk makes this small coverage take hundreds of rounds.
  mpi::Comm comm;
  testing::Geos g;
  std::vector<AreaLayer> layers = {testing::random_layer(g, 99, 5, 20.0, 40.0, 12)};
  cover::CoverOptions o;
  o.precision = 5;
  ::setenv("GEOSHARD_COVER_GATHER_CHUNK", "1000", 1);
  const auto par = cover::cover_layers(layers, o, &comm);
  ::unsetenv("GEOSHARD_COVER_GATHER_CHUNK");
  if (comm.root()) expect_same(par.layers[0], cover::cover_layers(layers, o).layers[0]);
}

TEST(CoverMpiEdge, DeadAreasOfEveryRankReachRankZero) {
  mpi::Comm comm;
  testing::Geos g;
  AreaLayer l = testing::random_layer(g, 41, 5, -60.0, -20.0, 6);
  const auto bad = testing::add_bad_areas(l, -60.0, -20.0);
  cover::CoverOptions o;
  o.precision = 5;
  const auto par = cover::cover_layers({l}, o, &comm);
  if (!comm.root()) return;
  const auto ser = cover::cover_layers({l}, o);
  ASSERT_EQ(par.dead.size(), bad.size());
  for (size_t k = 0; k < bad.size(); ++k) {
    EXPECT_EQ(par.dead[k].area, ser.dead[k].area);
    EXPECT_EQ(par.dead[k].reason, ser.dead[k].reason);
    EXPECT_EQ(par.dead[k].message, ser.dead[k].message);
  }
  expect_same(par.layers[0], ser.layers[0]);
}

TEST(CoverMpiEdge, S2GridIdenticalToSerialWithDeadAreas) {
  // cover --grid s2: the same deal and gather; the flattening works on S2 leaf ids.
  mpi::Comm comm;
  testing::Geos g;
  AreaLayer l = testing::random_layer(g, 77, 5, 30.0, 50.0, 14);
  const auto bad = testing::add_bad_areas(l, 30.0, 50.0);
  cover::CoverOptions o;
  o.grid = "s2";
  o.precision = 11;
  const auto par = cover::cover_layers({l}, o, &comm);
  EXPECT_EQ(par.layers[0].grid, "s2");
  if (!comm.root()) return;
  const auto ser = cover::cover_layers({l}, o);
  ASSERT_EQ(par.dead.size(), bad.size());
  ASSERT_NO_THROW(par.layers[0].validate());
  EXPECT_GT(par.layers[0].pieces(), 0u);
  expect_same(par.layers[0], ser.layers[0]);
}

INSTANTIATE_TEST_SUITE_P(PrecisionAndMerge, CoverMpi,
                         ::testing::Values(std::tuple{4, true}, std::tuple{6, true}, std::tuple{5, false}));

TEST(CoverMpiEdge, MoreRanksThanAreas) {
  mpi::Comm comm;
  testing::Geos g;
  AreaLayer l;
  l.name = "tiny";
  testing::G p = testing::polygon(g, {1.01, 1.33, 1.2}, {2.02, 2.05, 2.4});
  testing::add_area(g, l, p.get(), "only");
  cover::CoverOptions o;
  o.precision = 6;
  const auto r = cover::cover_layers({l}, o, &comm);
  if (comm.root()) {
    ASSERT_NO_THROW(r.layers[0].validate());
    EXPECT_GT(r.layers[0].intervals(), 0u);
    expect_same(r.layers[0], cover::cover_layers({l}, o).layers[0]);
  }
  // An empty layer list is fine too.
  const auto e = cover::cover_layers({}, o, &comm);
  EXPECT_TRUE(e.layers.empty());
}

}  // namespace
}  // namespace geoshard

GEOSHARD_MPI_TEST_MAIN()
