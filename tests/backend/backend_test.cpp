// jobs/backend: the --backend decision for every combination of request, build and machine; the
// dispatchers give the CPU batch results on the CPU choice, and on a CUDA choice either the same
// results (a GPU is present) or, on this machine's kind (no GPU), never a silent CPU fallback.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "jobs/backend/backend.h"
#include "kernels/batch.h"
#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

using backend::Kind;
using backend::Request;

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

TEST(Backend, ParseRequest) {
  EXPECT_EQ(backend::parse_request("auto"), Request::automatic);
  EXPECT_EQ(backend::parse_request("cpu"), Request::cpu);
  EXPECT_EQ(backend::parse_request("cuda"), Request::cuda);
  for (const char* bad : {"", "gpu", "CUDA", "auto "}) {
    try {
      backend::parse_request(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(has(e.what(), std::string("'") + bad + "'")) << e.what();
    }
  }
}

TEST(Backend, ChooseEveryCombination) {
  const std::string status = "cudaErrorNoDevice: no CUDA-capable device is detected";
  for (const bool built : {false, true})
    for (const int devices : {0, 1, 4}) {
      const std::string ctx = "built=" + std::to_string(built) + " devices=" + std::to_string(devices);
      // cpu: always the CPU.
      const auto c = backend::choose(Request::cpu, built, devices, devices ? "" : status);
      EXPECT_EQ(c.kind, Kind::cpu) << ctx;
      EXPECT_STREQ(c.name(), "cpu");
      // auto: the GPU exactly when the build has CUDA and a device is there; the reason says why.
      const auto a = backend::choose(Request::automatic, built, devices, devices ? "" : status);
      const bool gpu = built && devices > 0;
      EXPECT_EQ(a.kind, gpu ? Kind::cuda : Kind::cpu) << ctx;
      EXPECT_STREQ(a.name(), gpu ? "cuda" : "cpu");
      if (!built) {
        EXPECT_TRUE(has(a.reason, "built without CUDA")) << a.reason;
      } else if (!devices) {
        EXPECT_TRUE(has(a.reason, "cudaErrorNoDevice")) << a.reason;
      } else {
        EXPECT_TRUE(has(a.reason, std::to_string(devices) + " CUDA device")) << a.reason;
      }
      // cuda: the GPU, or a clear error saying what is missing and what to use instead.
      if (gpu) {
        EXPECT_EQ(backend::choose(Request::cuda, built, devices, "").kind, Kind::cuda) << ctx;
      } else {
        try {
          backend::choose(Request::cuda, built, devices, status);
          ADD_FAILURE() << ctx << ": --backend cuda accepted without a GPU";
        } catch (const std::runtime_error& e) {
          EXPECT_TRUE(has(e.what(), built ? "cudaErrorNoDevice" : "built without CUDA")) << e.what();
          EXPECT_TRUE(has(e.what(), "--backend auto|cpu")) << e.what();
        }
      }
    }
  // A status-less "no device" still explains itself.
  EXPECT_TRUE(has(backend::choose(Request::automatic, true, 0, "").reason, "0 devices"));
}

TEST(Backend, ResolveOnThisMachine) {
  EXPECT_EQ(backend::resolve(Request::cpu).kind, Kind::cpu);
  const auto a = backend::resolve(Request::automatic);
  if (a.kind == Kind::cuda) {
    EXPECT_TRUE(backend::built_with_cuda());
    EXPECT_EQ(backend::resolve(Request::cuda).kind, Kind::cuda);
  } else {
    EXPECT_FALSE(a.reason.empty());
    EXPECT_THROW(backend::resolve(Request::cuda), std::runtime_error);
  }
#ifdef GEOSHARD_EXPECT_CUDA_BUILD
  EXPECT_TRUE(backend::built_with_cuda()) << "nvcc was found at configure time";
#endif
}

TEST(Backend, DispatchersMatchTheCpuBatches) {
  const auto cpu = backend::resolve(Request::cpu);
  const auto other = backend::resolve(Request::automatic);  // the GPU where there is one
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> ulon(-180, 180), ulat(-90, 90);
  for (int round = 0; round < 20; ++round) {
    const size_t n = 1 + rng() % 5000;
    std::vector<double> lon(n), lat(n);
    for (size_t i = 0; i < n; ++i) lon[i] = ulon(rng), lat[i] = ulat(rng);
    std::vector<uint64_t> want(n), got(n, 0), got2(n, 0);
    for (size_t i = 0; i < n; ++i) want[i] = geohash::zkey(lon[i], lat[i]);
    backend::zkey_batch(cpu, lon, lat, got);
    EXPECT_EQ(got, want);
    backend::zkey_batch(other, lon, lat, got2);
    EXPECT_EQ(got2, want);

    const auto pc = testing::make_pip_cases(round + 1, 1 + static_cast<int>(rng() % 6), 200);
    std::vector<PipResult> pw(pc.lon.size()), pg(pc.lon.size()), pg2(pc.lon.size());
    for (size_t i = 0; i < pc.lon.size(); ++i)
      pw[i] = point_in_rings(pc.view().polygon(pc.poly_of_point[i]), pc.lon[i], pc.lat[i]);
    backend::pip_batch(cpu, pc.view(), pc.lon, pc.lat, pc.poly_of_point, pg);
    EXPECT_EQ(pg, pw);
    backend::pip_batch(other, pc.view(), pc.lon, pc.lat, pc.poly_of_point, pg2);
    EXPECT_EQ(pg2, pw);

    const auto cc = testing::make_cut_cases(round + 1, 200, 6);
    std::vector<EdgeCut> cg(cc.ux.size()), cg2(cc.ux.size());
    backend::cut_batch(cpu, cc.view(), cg);
    backend::cut_batch(other, cc.view(), cg2);
    for (size_t e = 0; e < cg.size(); ++e) {
      const size_t k = cc.segment_of_edge[e];
      const EdgeCut w = edge_cut(cc.ax[k], cc.ay[k], cc.bx[k], cc.by[k], cc.ux[e], cc.uy[e], cc.vx[e], cc.vy[e],
                                 cc.t0[k], cc.t1[k]);
      EXPECT_TRUE(cg[e].kind == w.kind && cg[e].ta == w.ta && cg[e].tb == w.tb) << e;
      EXPECT_TRUE(cg2[e].kind == w.kind && cg2[e].ta == w.ta && cg2[e].tb == w.tb) << e;
    }
  }
  // Views: several views of two images, through both choices, against one render_equirect_view each.
  std::vector<uint8_t> img_a(96 * 48 * 3), img_b(200 * 100);
  for (auto& b : img_a) b = static_cast<uint8_t>(rng());
  for (auto& b : img_b) b = static_cast<uint8_t>(rng());
  const std::vector<ImageRef> images = {{img_a.data(), 96, 48, 3, 96 * 3}, {img_b.data(), 200, 100, 1, 200}};
  for (const backend::Choice* choice : {&cpu, &other}) {
    std::vector<std::vector<uint8_t>> got, want;
    std::vector<ViewRequest> req;
    for (int k = 0; k < 8; ++k) {
      const uint32_t i = k % 2;
      const projection::View w{-3.0 + 0.8 * k, k == 3 ? projection::kPi / 2 : 0.2 * k - 0.7, 1.2, 0.9, 17 + 5 * k, 13 + 3 * k};
      const int64_t os = static_cast<int64_t>(w.width) * images[i].channels;
      got.emplace_back(static_cast<size_t>(os) * w.height, 0);
      want.emplace_back(got.back().size(), 0);
      render_equirect_view(images[i].pixels, images[i].width, images[i].height, images[i].channels, images[i].stride, w,
                           want.back().data(), os);
      req.push_back(ViewRequest{i, w, nullptr, os});
    }
    for (size_t k = 0; k < req.size(); ++k) req[k].out = got[k].data();
    backend::render_equirect_views(*choice, images, req);
    for (size_t k = 0; k < req.size(); ++k) EXPECT_EQ(got[k], want[k]) << choice->name() << " view " << k;
  }

  // Camera views: a pinhole and a fisheye photo through both choices, against render_camera_view.
  for (const backend::Choice* choice : {&cpu, &other}) {
    const projection::Camera cams[2] = {projection::pinhole_camera(96, 48, 1.8), projection::fisheye_camera(200, 100, 3.0)};
    std::vector<std::vector<uint8_t>> got, want;
    std::vector<CameraViewRequest> req;
    for (int k = 0; k < 6; ++k) {
      const uint32_t i = k % 2;
      const projection::View w{0.3 * k - 0.8, 0.1 * k - 0.2, 1.0, 0.8, 20 + 3 * k, 15 + 2 * k};
      const int64_t os = static_cast<int64_t>(w.width) * images[i].channels;
      got.emplace_back(static_cast<size_t>(os) * w.height, 0);
      want.emplace_back(got.back().size(), 0);
      render_camera_view(images[i].pixels, cams[i], images[i].channels, images[i].stride, w, want.back().data(), os);
      req.push_back(CameraViewRequest{i, cams[i], w, nullptr, os});
    }
    for (size_t k = 0; k < req.size(); ++k) req[k].out = got[k].data();
    backend::render_camera_views(*choice, images, req);
    for (size_t k = 0; k < req.size(); ++k) EXPECT_EQ(got[k], want[k]) << choice->name() << " camera view " << k;
  }

  // Regions: overlapping polygons on two images through both choices, against blur_region in order.
  for (const backend::Choice* choice : {&cpu, &other}) {
    std::vector<uint8_t> a(120 * 80 * 3), b2(90 * 60);
    for (auto& x : a) x = static_cast<uint8_t>(rng());
    for (auto& x : b2) x = static_cast<uint8_t>(rng());
    std::vector<uint8_t> wa = a, wb = b2;
    const std::vector<ImageBuffer> bufs = {{a.data(), 120, 80, 3, 360}, {b2.data(), 90, 60, 1, 90}};
    std::vector<double> u, v;
    std::vector<RegionRequest> regs;
    for (int k = 0; k < 10; ++k) {
      const uint32_t i = k % 3 == 0 ? 1 : 0;
      const double cx = 10.0 + 9 * k, cy = 10.0 + 4 * k;
      regs.push_back(RegionRequest{i, static_cast<uint32_t>(u.size()), 4});
      for (const auto& [dx, dy] : {std::pair{-12.0, -9.0}, {12.0, -9.0}, {12.0, 9.0}, {-12.0, 9.0}}) u.push_back(cx + dx), v.push_back(cy + dy);
    }
    uint64_t want_written = 0;
    for (const auto& r : regs)
      want_written += blur_region(r.image == 0 ? wa.data() : wb.data(), r.image == 0 ? 120 : 90, r.image == 0 ? 80 : 60,
                                  r.image == 0 ? 3 : 1, r.image == 0 ? 360 : 90, &u[r.first], &v[r.first], 4, RegionBlurOptions{});
    EXPECT_EQ(backend::blur_regions(*choice, bufs, u, v, regs, RegionBlurOptions{}), want_written) << choice->name();
    EXPECT_EQ(a, wa) << choice->name();
    EXPECT_EQ(b2, wb) << choice->name();
  }

  // Argument errors are the CPU batch's, whichever backend.
  std::vector<double> one(1);
  std::vector<uint64_t> none;
  EXPECT_THROW(backend::zkey_batch(cpu, one, one, none), std::invalid_argument);
}

TEST(Backend, ACudaChoiceNeverFallsBackSilently) {
  if (backend::resolve(Request::automatic).kind == Kind::cuda) GTEST_SKIP() << "a CUDA device is present";
  backend::Choice forced{Kind::cuda, "forced by the test"};
  std::vector<double> lon = {1.0, 2.0}, lat = {3.0, 4.0};
  std::vector<uint64_t> out(2);
  if (backend::built_with_cuda())
    EXPECT_THROW(backend::zkey_batch(forced, lon, lat, out), std::runtime_error);  // "no CUDA device"
  else
    EXPECT_THROW(backend::zkey_batch(forced, lon, lat, out), std::logic_error);
}

}  // namespace
}  // namespace geoshard
