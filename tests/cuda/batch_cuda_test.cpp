// GPU batch loops (cuda/batch_cuda.h) against the CPU ones (kernels/batch.h), bit for bit, on
// the very cases of tests/kernels/batch_test.cpp. Needs a CUDA device: without one every test
// calls GTEST_SKIP() with "no CUDA device: ..." (CTest then reports the test as skipped, see
// CMakeLists.txt).
#include <gtest/gtest.h>

#include <cmath>
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

TEST(CudaBatch, CutBatchMatchesCpuBitForBit) {
  SKIP_WITHOUT_DEVICE();
  for (uint64_t seed = 44; seed < 50; ++seed) {
    const auto c = testing::make_cut_cases(seed, 20000, 8);  // the CPU test's cases (seed 44) and more
    std::vector<EdgeCut> cpu(c.ux.size()), gpu(c.ux.size());
    cut_batch(c.view(), cpu);
    cuda::cut_batch_cuda(c.view(), gpu);
    for (size_t e = 0; e < cpu.size(); ++e) {
      ASSERT_EQ(gpu[e].kind, cpu[e].kind) << "seed " << seed << " edge " << e;
      ASSERT_EQ(gpu[e].ta, cpu[e].ta) << "seed " << seed << " edge " << e;
      ASSERT_EQ(gpu[e].tb, cpu[e].tb) << "seed " << seed << " edge " << e;
    }
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

// Many views of several images in one call: the GPU's bytes equal the CPU renderer's, for views
// at the poles, across the seam, 1 to 5 channels, padded strides (the padding left untouched).
TEST(CudaBatch, EquirectViewsMatchCpuBitForBit) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(44);
  std::vector<std::vector<uint8_t>> imgs;
  std::vector<ImageRef> refs;
  for (int i = 0; i < 6; ++i) {
    const int W = i == 0 ? 8192 : 2 * static_cast<int>(testing::uniform(rng, 4, 1500)), C = 1 + i % 5;
    const int64_t stride = static_cast<int64_t>(W) * C + i % 3;
    imgs.emplace_back(static_cast<size_t>(stride) * (W / 2));
    for (auto& b : imgs.back()) b = static_cast<uint8_t>(rng());
    refs.push_back(ImageRef{imgs.back().data(), W, W / 2, C, stride});
  }
  std::vector<ViewRequest> cpu_req, gpu_req;
  std::vector<std::vector<uint8_t>> cpu_out, gpu_out;
  for (int k = 0; k < 60; ++k) {
    const uint32_t i = static_cast<uint32_t>(rng() % refs.size());
    const double pitch = k % 6 == 0 ? (k % 12 == 0 ? projection::kPi / 2 : -projection::kPi / 2)
                                    : testing::uniform(rng, -1.5, 1.5);
    const double yaw = k % 4 == 0 ? projection::kPi - 0.2 : testing::uniform(rng, -projection::kPi, projection::kPi);
    const projection::View w{yaw, pitch, projection::rad(testing::uniform(rng, 20, 120)),
                             projection::rad(testing::uniform(rng, 20, 120)), 1 + static_cast<int>(rng() % 640),
                             1 + static_cast<int>(rng() % 480)};
    const int64_t os = static_cast<int64_t>(w.width) * refs[i].channels + k % 2;
    cpu_out.emplace_back(static_cast<size_t>(os) * w.height, 0x5A);
    gpu_out.emplace_back(cpu_out.back());
    cpu_req.push_back(ViewRequest{i, w, nullptr, os});
  }
  for (size_t k = 0; k < cpu_req.size(); ++k) {
    gpu_req.push_back(cpu_req[k]);
    cpu_req[k].out = cpu_out[k].data();
    gpu_req[k].out = gpu_out[k].data();
  }
  render_equirect_views(refs, cpu_req);
  cuda::render_equirect_views_cuda(refs, gpu_req);
  for (size_t k = 0; k < cpu_out.size(); ++k) ASSERT_EQ(gpu_out[k], cpu_out[k]) << "view " << k;
}

// Many overlapping regions of several images, every mode: the GPU's bytes and count equal
// blurring them in order on the CPU (waves, windows, cell means, the seam copies).
TEST(CudaBatch, RegionBlurMatchesCpuBitForBit) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(45);
  for (int t = 0; t < 30; ++t) {
    const int n_images = 1 + static_cast<int>(rng() % 3);
    std::vector<std::vector<uint8_t>> cpu(n_images), gpu(n_images);
    std::vector<ImageBuffer> ci, gi;
    for (int i = 0; i < n_images; ++i) {
      const int W = 64 + static_cast<int>(rng() % 2000), H = 48 + static_cast<int>(rng() % 1000);
      const int C = 1 + static_cast<int>(rng() % 4);
      const int64_t stride = static_cast<int64_t>(W) * C + static_cast<int>(rng() % 3);
      cpu[i].resize(static_cast<size_t>(stride) * H);
      for (auto& b : cpu[i]) b = static_cast<uint8_t>(rng());
      gpu[i] = cpu[i];
      ci.push_back(ImageBuffer{cpu[i].data(), W, H, C, stride});
      gi.push_back(ImageBuffer{gpu[i].data(), W, H, C, stride});
    }
    std::vector<double> u, v;
    std::vector<RegionRequest> regions;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 60); ++k) {
      const uint32_t i = static_cast<uint32_t>(rng() % n_images);
      const uint32_t first = static_cast<uint32_t>(u.size());
      const double cx = testing::uniform(rng, -30, ci[i].width + 30), cy = testing::uniform(rng, -30, ci[i].height + 30);
      const int n = 3 + static_cast<int>(rng() % 40);
      for (int q = 0; q < n; ++q) {
        const double a = 2 * projection::kPi * q / n, rad = testing::uniform(rng, 2, 200);
        u.push_back(cx + rad * std::cos(a)), v.push_back(cy + rad * std::sin(a));
      }
      regions.push_back(RegionRequest{i, first, n});
    }
    RegionBlurOptions o;
    o.mode = static_cast<blur::Mode>(t % 3);
    o.pixel_cells = 1 + static_cast<int>(rng() % 10);
    o.solid[0] = 1, o.solid[1] = 2, o.solid[2] = 3, o.solid[3] = 4;
    const uint64_t nc = blur_regions(ci, u, v, regions, o);
    const uint64_t ng = cuda::blur_regions_cuda(gi, u, v, regions, o);
    ASSERT_EQ(ng, nc) << "case " << t;
    for (int i = 0; i < n_images; ++i) ASSERT_EQ(gpu[i], cpu[i]) << "case " << t << " image " << i;
  }
}

// Views of wide pinhole and fisheye photos: the GPU's bytes equal the CPU renderer's.
TEST(CudaBatch, CameraViewsMatchCpuBitForBit) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(46);
  std::vector<std::vector<uint8_t>> imgs;
  std::vector<ImageRef> refs;
  std::vector<projection::Camera> cams;
  for (int i = 0; i < 4; ++i) {
    const int W = 100 + static_cast<int>(rng() % 4000), H = 80 + static_cast<int>(rng() % 3000), C = 1 + i % 4;
    imgs.emplace_back(static_cast<size_t>(W) * C * H);
    for (auto& b : imgs.back()) b = static_cast<uint8_t>(rng());
    refs.push_back(ImageRef{imgs.back().data(), W, H, C, static_cast<int64_t>(W) * C});
    cams.push_back(i % 2 ? projection::fisheye_camera(W, H, projection::rad(testing::uniform(rng, 100, 220)))
                         : projection::pinhole_camera(W, H, projection::rad(testing::uniform(rng, 60, 150))));
  }
  std::vector<CameraViewRequest> cpu_req, gpu_req;
  std::vector<std::vector<uint8_t>> cpu_out, gpu_out;
  for (int k = 0; k < 40; ++k) {
    const uint32_t i = static_cast<uint32_t>(rng() % refs.size());
    const projection::View w{testing::uniform(rng, -1.6, 1.6), testing::uniform(rng, -1.3, 1.3),
                             projection::rad(testing::uniform(rng, 20, 75)), projection::rad(testing::uniform(rng, 20, 75)),
                             1 + static_cast<int>(rng() % 900), 1 + static_cast<int>(rng() % 900)};
    const int64_t os = static_cast<int64_t>(w.width) * refs[i].channels + k % 2;
    cpu_out.emplace_back(static_cast<size_t>(os) * w.height, 0x5A);
    gpu_out.emplace_back(cpu_out.back());
    cpu_req.push_back(CameraViewRequest{i, cams[i], w, nullptr, os});
  }
  gpu_req = cpu_req;
  for (size_t k = 0; k < cpu_req.size(); ++k) cpu_req[k].out = cpu_out[k].data(), gpu_req[k].out = gpu_out[k].data();
  render_camera_views(refs, cpu_req);
  cuda::render_camera_views_cuda(refs, gpu_req);
  for (size_t k = 0; k < cpu_out.size(); ++k) ASSERT_EQ(gpu_out[k], cpu_out[k]) << "view " << k;
}

}  // namespace
}  // namespace geoshard
