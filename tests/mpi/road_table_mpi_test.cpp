// The engine's I/O pattern at 1..4 ranks: each rank reads only its contiguous row range of the
// sorted road table (MPI-IO hyperslabs); the ranges add up to the whole table exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "io/road_table.h"
#include "kernels/geodesic.h"
#include "mpi/comm.h"
#include "tests/testing/mpi_main.h"
#include "tests/testing/random_roads.h"

namespace geoshard {
namespace {

TEST(MpiComm, CollectivesAgreeOnEveryRank) {
  mpi::Comm c;
  EXPECT_EQ(c.sum(uint64_t{1}), static_cast<uint64_t>(c.size()));
  EXPECT_EQ(c.max(static_cast<double>(c.rank())), c.size() - 1.0);
  EXPECT_EQ(c.min(static_cast<double>(c.rank())), 0.0);
  const auto all = c.all_gather(static_cast<uint64_t>(c.rank() * 10));
  ASSERT_EQ(all.size(), static_cast<size_t>(c.size()));
  for (int r = 0; r < c.size(); ++r) EXPECT_EQ(all[r], static_cast<uint64_t>(r * 10));
  EXPECT_EQ(c.broadcast(c.root() ? std::string("from rank 0") : std::string()), "from rank 0");
}

TEST(MpiComm, SlurmSizeCheck) {
  ::setenv("SLURM_NTASKS", "7", 1);
  EXPECT_NE(mpi::check_slurm_size(4).find("SLURM_NTASKS=7"), std::string::npos);
  EXPECT_EQ(mpi::check_slurm_size(7), "");
  ::unsetenv("SLURM_NTASKS");
  EXPECT_EQ(mpi::check_slurm_size(3), "");
}

TEST(MpiRoadTable, RankRangesPartitionTheTable) {
  mpi::Comm c;
  const size_t n = 20011;
  std::string path;
  RoadTable whole;
  if (c.root()) {
    char tmpl[] = "/tmp/geoshard-mpi-XXXXXX";
    path = std::string(::mkdtemp(tmpl)) + "/roads.h5";
  }
  path = c.broadcast(path);
  whole = testing::random_road_table(n, 42);  // deterministic: the same on every rank
  if (c.root()) write_road_table(whole, path, "mpi test");
  c.barrier();
  const uint64_t begin = n * c.rank() / c.size(), end = n * (c.rank() + 1) / c.size();
  const RoadTable part = read_road_table(path, begin, end, c.get());
  ASSERT_NO_THROW(part.validate());
  ASSERT_EQ(part.rows(), end - begin);
  for (size_t i = 0; i < part.rows(); ++i) ASSERT_EQ(part.id[i], whole.id[begin + i]);
  // Recompute this rank's road-km from its vertices; the sum over ranks is the table's total.
  double km = 0;
  for (size_t i = 0; i < part.rows(); ++i) {
    const uint64_t a = part.vertex_offset[i] - part.vertex_offset[0], b = part.vertex_offset[i + 1] - part.vertex_offset[0];
    km += polyline_length_m(part.lon.data() + a, part.lat.data() + a, b - a) / 1000.0;
  }
  EXPECT_NEAR(km, part.road_km(), 1e-9 * whole.road_km());
  EXPECT_NEAR(c.sum(km), whole.road_km(), 1e-9 * whole.road_km());
  EXPECT_EQ(c.sum(static_cast<uint64_t>(part.lon.size())), whole.lon.size());
  c.barrier();
  if (c.root()) std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

}  // namespace
}  // namespace geoshard

GEOSHARD_MPI_TEST_MAIN()
