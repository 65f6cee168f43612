// Plate quads in the imagery chain: a detector that gives a plate's 4 corners (lpd_yunet) is
// blurred as that quad grown about its centre by the box margin, not as its grown bounding box --
// in a planar photo, in its tiles (the quad moves with the tile), and in equirect views (the quad
// back-projected densely like a box). The detector here reports the diamond inscribed in each
// painted red box: a shape no box-derived region can have.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "jobs/blur/anonymise.h"
#include "kernels/blur.h"

namespace geoshard::blur {
namespace {

class DiamondDetector : public Detector {
 public:
  explicit DiamondDetector(bool with_quad) : Detector(ModelSpec{"plate", "diamond", "", 0, 0, 0.5, 0.3, "diamond"}), quad_(with_quad) {}
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    cv::Mat mask, labels, stats, centroids;
    cv::inRange(bgr, cv::Scalar(0, 0, 100), cv::Scalar(100, 100, 255), mask);  // BGR: red
    const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8);
    std::vector<Detection> out;
    for (int i = 1; i < n; ++i) {
      const double x0 = stats.at<int>(i, cv::CC_STAT_LEFT), y0 = stats.at<int>(i, cv::CC_STAT_TOP);
      const double x1 = x0 + stats.at<int>(i, cv::CC_STAT_WIDTH), y1 = y0 + stats.at<int>(i, cv::CC_STAT_HEIGHT);
      Detection d{spec_.cls, 1.0, x0, y0, x1, y1, "diamond"};
      const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      if (quad_) d.quad = std::array<std::pair<double, double>, 4>{{{cx, y0}, {x1, cy}, {cx, y1}, {x0, cy}}};
      out.push_back(d);
    }
    return out;
  }

 private:
  bool quad_;
};

// The region polygon expected for a red box (edges x0..x1, y0..y1): its diamond grown 1.3 about
// the centre, in pixel-centre coordinates (-0.5).
std::vector<std::pair<double, double>> grown_diamond(double x0, double y0, double x1, double y1, double grow = 1.3) {
  const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, hw = (x1 - x0) / 2 * grow, hh = (y1 - y0) / 2 * grow;
  return {{cx - 0.5, cy - hh - 0.5}, {cx + hw - 0.5, cy - 0.5}, {cx - 0.5, cy + hh - 0.5}, {cx - hw - 0.5, cy - 0.5}};
}

void expect_polygon(const std::vector<std::pair<double, double>>& got, const std::vector<std::pair<double, double>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].first, want[i].first, 1e-9) << "vertex " << i;
    EXPECT_NEAR(got[i].second, want[i].second, 1e-9) << "vertex " << i;
  }
}

AnonymiseOptions solid() {
  AnonymiseOptions opt;
  opt.blur.mode = Mode::kSolid;
  opt.blur.solid[0] = 0, opt.blur.solid[1] = 255, opt.blur.solid[2] = 0;  // green
  return opt;
}

TEST(PlateQuad, PlanarPhotoBlursTheGrownQuadNotTheBox) {
  cv::Mat img(300, 400, CV_8UC3, cv::Scalar(90, 120, 60));
  cv::rectangle(img, cv::Rect(100, 120, 80, 40), cv::Scalar(0, 0, 255), cv::FILLED);
  DiamondDetector det(true);
  std::vector<Detector*> dets = {&det};
  const AnonymiseOptions opt = solid();
  const auto regions = find_regions(img, "perspective", dets, opt);
  ASSERT_EQ(regions.size(), 1u);
  ASSERT_EQ(regions[0].polygons.size(), 1u);
  expect_polygon(regions[0].polygons[0], grown_diamond(100, 120, 180, 160));
  cv::Mat out = img.clone();
  apply_regions(out, false, regions, opt);
  EXPECT_EQ(out.at<cv::Vec3b>(140, 140), cv::Vec3b(0, 255, 0));    // the centre: blurred
  EXPECT_EQ(out.at<cv::Vec3b>(122, 102), img.at<cv::Vec3b>(122, 102));  // a box corner outside the quad: untouched
  EXPECT_EQ(out.at<cv::Vec3b>(140, 190), cv::Vec3b(0, 255, 0));    // the grown quad reaches past the box (x 180 -> 192)
  // The same detection without a quad: the grown box, corners included.
  DiamondDetector boxes(false);
  std::vector<Detector*> box_dets = {&boxes};
  cv::Mat out_box = img.clone();
  apply_regions(out_box, false, find_regions(img, "perspective", box_dets, opt), opt);
  EXPECT_EQ(out_box.at<cv::Vec3b>(122, 102), cv::Vec3b(0, 255, 0));
}

TEST(PlateQuad, TilesMoveTheQuadWithTheTile) {
  // 2000 x 1000 > the 1600 tile: the photo and the tiles at x = 0 and x = 1200 all see the plate.
  cv::Mat img(1000, 2000, CV_8UC3, cv::Scalar(90, 120, 60));
  cv::rectangle(img, cv::Rect(1300, 500, 80, 40), cv::Scalar(0, 0, 255), cv::FILLED);
  DiamondDetector det(true);
  std::vector<Detector*> dets = {&det};
  AnonymiseStats st;
  const auto regions = find_regions(img, "perspective", dets, solid(), &st);
  EXPECT_EQ(st.views, 3);
  ASSERT_EQ(regions.size(), 1u);  // one plate, three detections merged
  ASSERT_EQ(regions[0].polygons.size(), 3u);
  for (const auto& p : regions[0].polygons) expect_polygon(p, grown_diamond(1300, 500, 1380, 540));
}

double polygon_area(const std::vector<std::pair<double, double>>& p) {
  double a = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const auto& [x0, y0] = p[i];
    const auto& [x1, y1] = p[(i + 1) % p.size()];
    a += x0 * y1 - x1 * y0;
  }
  return std::fabs(a) / 2;
}

TEST(PlateQuad, EquirectViewsBackProjectTheQuadDensely) {
  // A plate on the equator of a 2:1 panorama; every view that sees it reports its diamond.
  const int W = 2048, H = 1024;
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(90, 120, 60));
  cv::rectangle(img, cv::Rect(1100, 500, 80, 30), cv::Scalar(0, 0, 255), cv::FILLED);
  AnonymiseOptions opt = solid();
  uint64_t changed[2] = {0, 0};
  std::vector<std::vector<std::pair<double, double>>> polygons[2];
  for (const bool quad : {true, false}) {
    DiamondDetector det(quad);
    std::vector<Detector*> dets = {&det};
    const auto regions = find_regions(img, "equirect", dets, opt);
    ASSERT_EQ(regions.size(), 1u) << (quad ? "quad" : "box");
    polygons[quad] = regions[0].polygons;
    // Dense: every edge sampled (kernels/projection.h view_polygon_outline), not 4 corners.
    for (const auto& p : regions[0].polygons) EXPECT_GE(p.size(), 4u * opt.edge_samples / 2) << (quad ? "quad" : "box");
    cv::Mat out = img.clone();
    apply_regions(out, true, regions, opt);
    for (int j = 0; j < H; ++j)
      for (int i = 0; i < W; ++i) changed[quad] += out.at<cv::Vec3b>(j, i) != img.at<cv::Vec3b>(j, i);
    EXPECT_EQ(out.at<cv::Vec3b>(515, 1140), cv::Vec3b(0, 255, 0)) << (quad ? "quad" : "box");
  }
  // View by view (same views, same order), the back-projected diamond is half the back-projected
  // box: the projection is nearly affine across a plate.
  ASSERT_EQ(polygons[0].size(), polygons[1].size());
  ASSERT_GE(polygons[0].size(), 1u);
  for (size_t k = 0; k < polygons[0].size(); ++k) EXPECT_NEAR(polygon_area(polygons[1][k]) / polygon_area(polygons[0][k]), 0.5, 0.05) << "view " << k;
  // The quad's pixels are about half the box's (a union of a few nearly equal diamonds).
  EXPECT_GT(changed[1], 0.35 * changed[0]);
  EXPECT_LT(changed[1], 0.7 * changed[0]);
}

}  // namespace
}  // namespace geoshard::blur
