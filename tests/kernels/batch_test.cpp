// Tests of the CPU batch loops (kernels/batch.h). The pip_batch cases come from
// tests/kernels/test_util.h's make_pip_cases, which tests/cuda runs through the GPU backend too.
#include "kernels/batch.h"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

using geoshard::testing::make_pip_cases;
using geoshard::testing::uniform;

TEST(Batch, PipBatchMatchesElementFunction) {
  const auto pc = make_pip_cases(41, 300, 400);  // 120,000 points
  std::vector<PipResult> out(pc.lon.size());
  pip_batch(pc.view(), pc.lon, pc.lat, pc.poly_of_point, out);
  int counts[3] = {0, 0, 0};
  for (size_t i = 0; i < out.size(); ++i) {
    const RingSet rings = pc.view().polygon(pc.poly_of_point[i]);
    ASSERT_EQ(out[i], point_in_rings(rings, pc.lon[i], pc.lat[i])) << i;
    ++counts[static_cast<int>(out[i])];
  }
  // Point k of each polygon with k % 3 == 1 lies exactly on an edge: Boundary.
  for (size_t i = 0; i < out.size(); ++i) {
    if ((i % 400) % 3 == 1) {
      ASSERT_EQ(out[i], PipResult::kBoundary) << i;
    }
  }
  EXPECT_GT(counts[0], 10000);
  EXPECT_GT(counts[1], 10000);
  EXPECT_GE(counts[2], 40000);
}

TEST(Batch, PipBatchValidatesArguments) {
  const auto pc = make_pip_cases(42, 3, 3);
  std::vector<PipResult> out(pc.lon.size());
  std::vector<double> short_lat(pc.lat.begin(), pc.lat.end() - 1);
  EXPECT_THROW(pip_batch(pc.view(), pc.lon, short_lat, pc.poly_of_point, out), std::invalid_argument);
  std::vector<uint32_t> bad = pc.poly_of_point;
  bad[2] = 3;
  EXPECT_THROW(pip_batch(pc.view(), pc.lon, pc.lat, bad, out), std::out_of_range);
  pip_batch(pc.view(), {}, {}, {}, {});  // empty batch is fine
}

TEST(Batch, ZkeyBatch) {
  std::mt19937_64 rng(43);
  std::vector<double> lon(100000), lat(100000);
  for (size_t i = 0; i < lon.size(); ++i) lon[i] = uniform(rng, -180, 180), lat[i] = uniform(rng, -90, 90);
  std::vector<uint64_t> out(lon.size());
  zkey_batch(lon, lat, out);
  for (size_t i = 0; i < lon.size(); ++i) ASSERT_EQ(out[i], geohash::zkey(lon[i], lat[i]));
  std::vector<uint64_t> small(3);
  EXPECT_THROW(zkey_batch(lon, lat, small), std::invalid_argument);
}

TEST(Batch, PolylineLengthBatch) {
  std::mt19937_64 rng(44);
  std::vector<double> lon, lat;
  std::vector<uint64_t> offsets{0};
  for (int k = 0; k < 10000; ++k) {
    const int n = static_cast<int>(rng() % 6);  // includes empty and single-vertex polylines
    double x = uniform(rng, -170, 170), y = uniform(rng, -80, 80);
    for (int v = 0; v < n; ++v) {
      lon.push_back(x), lat.push_back(y);
      x += uniform(rng, -0.01, 0.01), y += uniform(rng, -0.01, 0.01);
    }
    offsets.push_back(lon.size());
  }
  std::vector<double> out(offsets.size() - 1);
  polyline_length_batch(lon, lat, offsets, out);
  for (size_t k = 0; k < out.size(); ++k)
    ASSERT_EQ(out[k], polyline_length_m(lon.data() + offsets[k], lat.data() + offsets[k], offsets[k + 1] - offsets[k]));
  std::vector<uint64_t> bad_offsets = offsets;
  bad_offsets.back() = lon.size() + 1;
  EXPECT_THROW(polyline_length_batch(lon, lat, bad_offsets, out), std::invalid_argument);
  std::vector<double> wrong(out.size() + 1);
  EXPECT_THROW(polyline_length_batch(lon, lat, offsets, wrong), std::invalid_argument);
}

}  // namespace
}  // namespace geoshard
