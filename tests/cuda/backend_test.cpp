// Behaviour of the CUDA backend that does not need a GPU (runs everywhere, including CI):
// device_count() never throws, empty batches never touch the device, argument errors are the
// CPU version's, and a real batch without a device fails with a clear "no CUDA device" error.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/batch_cuda.h"
#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

TEST(CudaBackend, DeviceCountNeverThrows) {
  int n = -1;
  EXPECT_NO_THROW(n = cuda::device_count());
  EXPECT_GE(n, 0);
  EXPECT_EQ(cuda::device_count(), n);  // stable, no sticky error state
}

TEST(CudaBackend, EmptyBatchesNeedNoDevice) {
  const auto pc = testing::make_pip_cases(1, 2, 3);
  EXPECT_NO_THROW(cuda::pip_batch_cuda(pc.view(), {}, {}, {}, {}));
  EXPECT_NO_THROW(cuda::zkey_batch_cuda({}, {}, {}));
  EXPECT_NO_THROW(cuda::render_equirect_views_cuda({}, {}));
  EXPECT_EQ(cuda::blur_regions_cuda({}, {}, {}, {}, RegionBlurOptions{}), 0u);
  EXPECT_NO_THROW(cuda::render_camera_views_cuda({}, {}));
  EXPECT_NO_THROW(cuda::cut_batch_cuda(CutSet{}, {}));
}

TEST(CudaBackend, ArgumentErrorsComeFirst) {
  const auto pc = testing::make_pip_cases(2, 3, 3);
  std::vector<PipResult> out(pc.lon.size() + 1);
  EXPECT_THROW(cuda::pip_batch_cuda(pc.view(), pc.lon, pc.lat, pc.poly_of_point, out), std::invalid_argument);
  std::vector<uint32_t> bad = pc.poly_of_point;
  bad[0] = 99;
  std::vector<PipResult> ok(pc.lon.size());
  EXPECT_THROW(cuda::pip_batch_cuda(pc.view(), pc.lon, pc.lat, bad, ok), std::out_of_range);
  std::vector<uint8_t> img(64 * 32 * 3), view(10 * 10 * 3);
  const ImageRef ref{img.data(), 64, 32, 3, 64 * 3};
  const ViewRequest req{1, projection::View{0, 0, 1, 1, 10, 10}, view.data(), 30};
  EXPECT_THROW(cuda::render_equirect_views_cuda(std::span<const ImageRef>(&ref, 1), std::span<const ViewRequest>(&req, 1)),
               std::out_of_range);  // image 1 of 1
  std::vector<uint8_t> pixels(20 * 10 * 3, 5);
  const ImageBuffer buf{pixels.data(), 20, 10, 3, 60};
  const std::vector<double> ru = {1, 5, 5}, rv = {1, 1, 5};
  const RegionRequest two{0, 0, 2};
  EXPECT_THROW(cuda::blur_regions_cuda(std::span<const ImageBuffer>(&buf, 1), ru, rv, std::span<const RegionRequest>(&two, 1),
                                       RegionBlurOptions{}),
               std::invalid_argument);  // two vertices
  EXPECT_EQ(pixels, std::vector<uint8_t>(20 * 10 * 3, 5));
  auto cc = testing::make_cut_cases(4, 10, 4);
  std::vector<EdgeCut> cuts(cc.ux.size() + 1);
  EXPECT_THROW(cuda::cut_batch_cuda(cc.view(), cuts), std::invalid_argument);
  cuts.pop_back();
  cc.segment_of_edge[0] = 10;
  EXPECT_THROW(cuda::cut_batch_cuda(cc.view(), cuts), std::out_of_range);
}

TEST(CudaBackend, NoDeviceIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present; this checks the no-device path";
  const auto pc = testing::make_pip_cases(3, 3, 3);
  std::vector<PipResult> out(pc.lon.size());
  try {
    cuda::pip_batch_cuda(pc.view(), pc.lon, pc.lat, pc.poly_of_point, out);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
  std::vector<uint64_t> keys(pc.lon.size());
  EXPECT_THROW(cuda::zkey_batch_cuda(pc.lon, pc.lat, keys), std::runtime_error);
  std::vector<uint8_t> img(64 * 32 * 3), view(10 * 10 * 3);
  const ImageRef ref{img.data(), 64, 32, 3, 64 * 3};
  const ViewRequest req{0, projection::View{0, 0, 1, 1, 10, 10}, view.data(), 30};
  EXPECT_THROW(cuda::render_equirect_views_cuda(std::span<const ImageRef>(&ref, 1), std::span<const ViewRequest>(&req, 1)),
               std::runtime_error);
  const ImageBuffer buf{img.data(), 64, 32, 3, 64 * 3};
  const std::vector<double> ru = {1, 5, 5}, rv = {1, 1, 5};
  const RegionRequest reg{0, 0, 3};
  EXPECT_THROW(cuda::blur_regions_cuda(std::span<const ImageBuffer>(&buf, 1), ru, rv, std::span<const RegionRequest>(&reg, 1),
                                       RegionBlurOptions{}),
               std::runtime_error);
  const auto cc = testing::make_cut_cases(5, 10, 4);
  std::vector<EdgeCut> cuts(cc.ux.size());
  ASSERT_FALSE(cuts.empty());
  EXPECT_THROW(cuda::cut_batch_cuda(cc.view(), cuts), std::runtime_error);
}

}  // namespace
}  // namespace geoshard
