// GPU batch loops (cuda/batch_cuda.h) against the CPU ones (kernels/batch.h), bit for bit, on
// the very cases of tests/kernels/batch_test.cpp. Needs a CUDA device: without one every test
// calls GTEST_SKIP() with "no CUDA device: ..." (CTest then reports the test as skipped, see
// CMakeLists.txt).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "cuda/batch_cuda.h"
#include "kernels/batch.h"
#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

#define SKIP_WITHOUT_DEVICE()                                                                      \
  do {                                                                                             \
    if (cuda::device_count() == 0) {                                                               \
      GTEST_SKIP() << "no CUDA device: " << cuda::device_status()                                  \
                   << " (the GPU-vs-CPU comparison needs a GPU)";                                  \
    }                                                                                              \
  } while (0)

TEST(CudaBatch, PipBatchMatchesCpuBitForBit) {
  SKIP_WITHOUT_DEVICE();
  const auto pc = testing::make_pip_cases(41, 300, 400);  // the CPU test's cases
  std::vector<PipResult> cpu(pc.lon.size()), gpu(pc.lon.size());
  pip_batch(pc.view(), pc.lon, pc.lat, pc.poly_of_point, cpu);
  cuda::pip_batch_cuda(pc.view(), pc.lon, pc.lat, pc.poly_of_point, gpu);
  for (size_t i = 0; i < cpu.size(); ++i) ASSERT_EQ(gpu[i], cpu[i]) << "point " << i;
}

TEST(CudaBatch, PipBatchManySeeds) {
  SKIP_WITHOUT_DEVICE();
  for (uint64_t seed = 100; seed < 110; ++seed) {
    const auto pc = testing::make_pip_cases(seed, 50, 200);
    std::vector<PipResult> cpu(pc.lon.size()), gpu(pc.lon.size());
    pip_batch(pc.view(), pc.lon, pc.lat, pc.poly_of_point, cpu);
    cuda::pip_batch_cuda(pc.view(), pc.lon, pc.lat, pc.poly_of_point, gpu);
    ASSERT_EQ(gpu, cpu) << "seed " << seed;
  }
}

TEST(CudaBatch, ZkeyBatchMatchesCpuBitForBit) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(43);
  std::vector<double> lon(100000), lat(100000);
  for (size_t i = 0; i < lon.size(); ++i) {
    lon[i] = testing::uniform(rng, -180, 180), lat[i] = testing::uniform(rng, -90, 90);
  }
  lon[0] = 180.0, lat[0] = 90.0;  // world edges
  lon[1] = -180.0, lat[1] = -90.0;
  std::vector<uint64_t> cpu(lon.size()), gpu(lon.size());
  zkey_batch(lon, lat, cpu);
  cuda::zkey_batch_cuda(lon, lat, gpu);
  ASSERT_EQ(gpu, cpu);
}

}  // namespace
}  // namespace geoshard
