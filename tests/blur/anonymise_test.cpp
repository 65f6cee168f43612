// The chain on one image with an oracle detector: a synthetic equirect photo with painted
// targets (spherical caps) at the seam, at ±60° and ±80°, at the nadir (the camera operator),
// next to a pole, large and small; the oracle finds exactly the painted pixels in each view.
// After back-projection, merging and a solid blur, 100 % of every target's pixels are covered,
// no pixel outside the regions changes, and the regions are not wildly larger than the targets.
#include "jobs/blur/anonymise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "kernels/blur.h"
#include "kernels/projection.h"
#include "tests/blur/test_detectors.h"

namespace geoshard::blur {
namespace {
using namespace geoshard::blur::test_support;


struct Target {
  double lon, lat, radius;  // degrees
};

TEST(Anonymise, OracleTargetsAreCoveredEverywhereOnTheSphere) {
  const int W = 2048, H = 1024;
  const std::vector<Target> targets = {
      {180, 0, 3},     {-179, 12, 1},   {30, 60, 4},   {-100, -60, 4}, {60, 80, 3}, {-150, -80, 3},
      {0, -90, 8},     {90, 0, 12},     {10, 5, 0.8},  {45, 89.5, 2},  {-60, 30, 6}};
  cv::Mat img(H, W, CV_8UC3);
  cv::Mat target_of(H, W, CV_32S, cv::Scalar(-1));
  const projection::Equirect e{W, H};
  uint64_t target_pixels = 0;
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < W; ++i) {
      const projection::Vec3 d = projection::equirect_direction(e, i, j);
      img.at<cv::Vec3b>(j, i) = cv::Vec3b(static_cast<uint8_t>(40 + (i * 7) % 150), static_cast<uint8_t>(30 + (j * 5) % 150), 0);
      for (size_t t = 0; t < targets.size(); ++t)
        if (projection::angle_between(d, projection::direction(projection::rad(targets[t].lon), projection::rad(targets[t].lat))) <=
            projection::rad(targets[t].radius)) {
          img.at<cv::Vec3b>(j, i) = cv::Vec3b(0, 0, 255);
          target_of.at<int>(j, i) = static_cast<int>(t);
          ++target_pixels;
        }
    }
  OracleDetector oracle("face"), plates("plate");
  for (Detector* det : {static_cast<Detector*>(&oracle), static_cast<Detector*>(&plates)}) {
    std::vector<Detector*> dets = {det};
    AnonymiseOptions opt;
    opt.blur.mode = Mode::kSolid;
    opt.blur.solid[0] = 0, opt.blur.solid[1] = 255, opt.blur.solid[2] = 0;  // green
    AnonymiseStats st;
    const auto regions = find_regions(img, "equirect", dets, opt, &st);
    EXPECT_EQ(st.views, 33 + 2 * (opt.pole_rotations - 1));  // the layout, plus the turned zenith and nadir views
    EXPECT_GE(st.oversampling, 1.0);
    EXPECT_GE(regions.size(), targets.size() - 1);  // a merge may join nothing wrongly; see below
    // The views rendered through the other backend (the GPU where there is one; here the CPU
    // again) give the same regions: the rendered bytes do not depend on the backend.
    AnonymiseOptions other = opt;
    other.backend = backend::resolve(backend::Request::automatic);
    const auto again = find_regions(img, "equirect", dets, other);
    ASSERT_EQ(again.size(), regions.size()) << other.backend.name();
    for (size_t r = 0; r < regions.size(); ++r) EXPECT_EQ(again[r].polygons, regions[r].polygons) << "region " << r;
    cv::Mat out = img.clone();
    apply_regions(out, true, regions, opt);
    // Pixels inside some region polygon (or its seam copy), rasterised over each polygon's box.
    cv::Mat allowed(H, W, CV_8U, cv::Scalar(0));
    for (const auto& r : regions)
      for (const auto& p : r.polygons)
        for (double s : {0.0, double(W), -double(W)}) {
          std::vector<double> u, v;
          double u0 = 1e300, u1 = -1e300, v0 = 1e300, v1 = -1e300;
          for (const auto& [x, y] : p) {
            u.push_back(x + s), v.push_back(y);
            u0 = std::min(u0, x + s), u1 = std::max(u1, x + s), v0 = std::min(v0, y), v1 = std::max(v1, y);
          }
          for (int j = std::max(0, (int)std::ceil(v0)); j <= std::min(H - 1, (int)std::floor(v1)); ++j)
            for (int i = std::max(0, (int)std::ceil(u0)); i <= std::min(W - 1, (int)std::floor(u1)); ++i)
              if (covers(u.data(), v.data(), static_cast<int>(u.size()), i, j)) allowed.at<uint8_t>(j, i) = 1;
        }
    std::vector<uint64_t> missed(targets.size(), 0);
    uint64_t changed = 0;
    for (int j = 0; j < H; ++j)
      for (int i = 0; i < W; ++i) {
        const bool diff = out.at<cv::Vec3b>(j, i) != img.at<cv::Vec3b>(j, i);
        changed += diff;
        const int t = target_of.at<int>(j, i);
        if (t >= 0 && out.at<cv::Vec3b>(j, i) != cv::Vec3b(0, 255, 0)) ++missed[t];
        if (diff) {
          ASSERT_TRUE(allowed.at<uint8_t>(j, i)) << "pixel " << i << "," << j << " changed outside every region";
        }
      }
    for (size_t t = 0; t < targets.size(); ++t)
      EXPECT_EQ(missed[t], 0u) << det->spec().cls << " target " << t << " at (" << targets[t].lon << ", " << targets[t].lat
                               << ") r=" << targets[t].radius << ": " << missed[t] << " pixels not covered";
    // Regions grow boxes by 1.3 per side (ellipses for faces): a few times the target area, no more.
    EXPECT_LT(changed, 6 * target_pixels) << det->spec().cls;
    EXPECT_GT(changed, target_pixels);
  }
}

TEST(Anonymise, PlanarPhotoRegionsAndTiles) {
  // A planar photo larger than a tile: targets found in the whole image and in tiles merge.
  cv::Mat img(1800, 2400, CV_8UC3, cv::Scalar(90, 120, 60));
  cv::rectangle(img, cv::Rect(100, 100, 40, 50), cv::Scalar(0, 0, 255), cv::FILLED);
  cv::rectangle(img, cv::Rect(1700, 1300, 12, 12), cv::Scalar(0, 0, 255), cv::FILLED);
  OracleDetector oracle("plate");
  std::vector<Detector*> dets = {&oracle};
  AnonymiseOptions opt;
  opt.blur.mode = Mode::kSolid;
  AnonymiseStats st;
  const auto regions = find_regions(img, "perspective", dets, opt, &st);
  EXPECT_GT(st.views, 1);          // whole photo + tiles
  ASSERT_EQ(regions.size(), 2u);   // duplicates from tiles merged
  cv::Mat out = img.clone();
  apply_regions(out, false, regions, opt);
  for (int y = 100; y < 150; ++y)
    for (int x = 100; x < 140; ++x) ASSERT_EQ(out.at<cv::Vec3b>(y, x), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(out.at<cv::Vec3b>(0, 0), img.at<cv::Vec3b>(0, 0));
  cv::Mat bad(100, 300, CV_8UC3);
  EXPECT_THROW(find_regions(bad, "equirect", dets, opt), std::invalid_argument);
}

}  // namespace
}  // namespace geoshard::blur
