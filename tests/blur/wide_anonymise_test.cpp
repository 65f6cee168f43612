// The chain on wide perspective and fisheye photos with an oracle detector (as
// anonymise_test.cpp does for equirect): synthetic photos with painted targets (spherical caps
// seen through the photo's own lens model) at the centre, the edges and the corners, large and
// small; the photo is cut into perspective views of <= 75°, the oracle returns the painted
// pixels' boxes in each view, and after dense back-projection, merging and a solid blur 100 % of
// every target's pixels are covered and no pixel outside the regions changes.
// And EXIF orientation: the detectors see the photo upright, the regions come back in stored
// pixel coordinates, for all eight orientations of a JPEG written with the tag.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "jobs/blur/anonymise.h"
#include "kernels/blur.h"
#include "kernels/projection.h"
#include "tests/testing/jpeg_fixture.h"
#include "tests/blur/test_detectors.h"

namespace geoshard::blur {
namespace {
using namespace geoshard::blur::test_support;
namespace pj = geoshard::projection;


struct Target {
  double lon, lat, radius;  // degrees, in the camera frame (lon 0 lat 0 = the optical axis)
};

// Pixels inside some region polygon (rasterised over each polygon's box).
cv::Mat allowed_mask(const std::vector<Region>& regions, int W, int H) {
  cv::Mat allowed(H, W, CV_8U, cv::Scalar(0));
  for (const auto& r : regions)
    for (const auto& p : r.polygons) {
      std::vector<double> u, v;
      double u0 = 1e300, u1 = -1e300, v0 = 1e300, v1 = -1e300;
      for (const auto& [x, y] : p) {
        u.push_back(x), v.push_back(y);
        u0 = std::min(u0, x), u1 = std::max(u1, x), v0 = std::min(v0, y), v1 = std::max(v1, y);
      }
      for (int j = std::max(0, (int)std::ceil(v0)); j <= std::min(H - 1, (int)std::floor(v1)); ++j)
        for (int i = std::max(0, (int)std::ceil(u0)); i <= std::min(W - 1, (int)std::floor(u1)); ++i)
          if (covers(u.data(), v.data(), static_cast<int>(u.size()), i, j)) allowed.at<uint8_t>(j, i) = 1;
    }
  return allowed;
}

void check_oracle(const char* name, const std::string& projection, const pj::Camera& cam, double hfov_deg,
                  const std::vector<Target>& targets) {
  const int W = cam.width, H = cam.height;
  cv::Mat img(H, W, CV_8UC3);
  cv::Mat target_of(H, W, CV_32S, cv::Scalar(-1));
  std::vector<uint64_t> target_pixels(targets.size(), 0);
  uint64_t all_target_pixels = 0;
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < W; ++i) {
      const pj::Vec3 d = pj::camera_ray(cam, i, j);
      img.at<cv::Vec3b>(j, i) = cv::Vec3b(static_cast<uint8_t>(40 + (i * 7) % 150), static_cast<uint8_t>(30 + (j * 5) % 150), 0);
      for (size_t t = 0; t < targets.size(); ++t)
        if (pj::angle_between(d, pj::direction(pj::rad(targets[t].lon), pj::rad(targets[t].lat))) <= pj::rad(targets[t].radius)) {
          img.at<cv::Vec3b>(j, i) = cv::Vec3b(0, 0, 255);
          target_of.at<int>(j, i) = static_cast<int>(t);
          ++target_pixels[t], ++all_target_pixels;
        }
    }
  for (size_t t = 0; t < targets.size(); ++t) ASSERT_GT(target_pixels[t], 0u) << name << " target " << t << " not in the photo";
  for (const char* cls : {"face", "plate"}) {
    OracleDetector oracle(cls);
    std::vector<Detector*> dets = {&oracle};
    AnonymiseOptions opt;
    opt.blur.mode = Mode::kSolid;
    opt.blur.solid[0] = 0, opt.blur.solid[1] = 255, opt.blur.solid[2] = 0;  // green
    AnonymiseStats st;
    const auto regions = find_regions(img, projection, hfov_deg, 1, dets, opt, &st);
    EXPECT_EQ(oracle.calls, st.views);
    EXPECT_GE(st.oversampling, 1.0);
    cv::Mat out = img.clone();
    apply_regions(out, false, regions, opt);
    const cv::Mat allowed = allowed_mask(regions, W, H);
    std::vector<uint64_t> missed(targets.size(), 0);
    uint64_t changed = 0;
    for (int j = 0; j < H; ++j)
      for (int i = 0; i < W; ++i) {
        const bool diff = out.at<cv::Vec3b>(j, i) != img.at<cv::Vec3b>(j, i);
        changed += diff;
        const int t = target_of.at<int>(j, i);
        if (t >= 0 && out.at<cv::Vec3b>(j, i) != cv::Vec3b(0, 255, 0)) ++missed[t];
        if (diff) {
          ASSERT_TRUE(allowed.at<uint8_t>(j, i)) << name << ": pixel " << i << "," << j << " changed outside every region";
        }
      }
    for (size_t t = 0; t < targets.size(); ++t)
      EXPECT_EQ(missed[t], 0u) << name << " " << cls << " target " << t << " at (" << targets[t].lon << ", "
                               << targets[t].lat << ") r=" << targets[t].radius << ": " << missed[t] << " of "
                               << target_pixels[t] << " pixels not covered";
    EXPECT_LT(changed, 8 * all_target_pixels) << name << " " << cls;
    EXPECT_GT(changed, all_target_pixels);
    std::printf("%s, %s: %d views, oversampling %.2f, %zu regions for %zu targets, changed area %.2f x the targets\n",
                name, cls, st.views, st.oversampling, regions.size(), targets.size(),
                double(changed) / all_target_pixels);
  }
}

TEST(WideAnonymise, OracleTargetsAreCoveredInAWidePinholePhoto) {
  // 120° action cam, 4:3; targets at the centre, at the sides and corners (partly cut by the
  // frame), large and small.
  const pj::Camera cam = pj::pinhole_camera(1200, 900, pj::rad(120));
  check_oracle("pinhole 120°", "perspective", cam, 120,
               {{0, 0, 4}, {55, 0, 3}, {-57, 10, 2}, {45, 40, 3}, {-40, -42, 3}, {20, -30, 8}, {-20, 20, 0.6},
                {59, -20, 2}, {0, 50, 2.5}, {-30, 0, 12}});
}

TEST(WideAnonymise, OracleTargetsAreCoveredInAFisheyePhoto) {
  // Equidistant fisheye, 190° across a 4:3 frame: targets past 90° off axis too.
  const pj::Camera cam = pj::fisheye_camera(1200, 900, pj::rad(190));
  check_oracle("fisheye 190°", "fisheye", cam, 190,
               {{0, 0, 4}, {92, 0, 3}, {-85, 5, 3}, {60, 45, 4}, {-50, -50, 3}, {20, -60, 6}, {-10, 15, 0.8},
                {0, 68, 3}, {120, 30, 3}, {-30, 0, 12}, {75, -45, 14}});
}

TEST(WideAnonymise, NarrowPerspectivePhotosStayAsTheyAre) {
  cv::Mat img(300, 400, CV_8UC3, cv::Scalar(90, 120, 60));
  cv::rectangle(img, cv::Rect(100, 100, 40, 50), cv::Scalar(0, 0, 255), cv::FILLED);
  OracleDetector oracle("face");
  std::vector<Detector*> dets = {&oracle};
  AnonymiseStats st;
  const auto regions = find_regions(img, "perspective", 60, 1, dets, AnonymiseOptions{}, &st);
  EXPECT_EQ(st.views, 1);
  EXPECT_EQ(regions.size(), 1u);
  AnonymiseStats st2;
  find_regions(img, "perspective", std::nan(""), 1, dets, AnonymiseOptions{}, &st2);
  EXPECT_EQ(st2.views, 1);
  EXPECT_THROW(find_regions(img, "perspective", 60, 9, dets, AnonymiseOptions{}), std::invalid_argument);
  EXPECT_THROW(find_regions(img, "perspective", 185, 1, dets, AnonymiseOptions{}), std::invalid_argument);
  // The rule of io/image_table.h field_of_view_problem, the one ingest applies.
  EXPECT_THROW(find_regions(img, "perspective", -5, 1, dets, AnonymiseOptions{}), std::invalid_argument);
  EXPECT_THROW(find_regions(img, "fisheye", 360, 1, dets, AnonymiseOptions{}), std::invalid_argument);
  AnonymiseOptions bad_default;
  bad_default.fisheye_default_hfov_deg = 0;
  EXPECT_THROW(find_regions(img, "fisheye", std::nan(""), 1, dets, bad_default), std::invalid_argument);
}

// ---- EXIF orientation ----




TEST(Orientation, DetectorsSeeThePhotoUprightRegionsComeBackInStoredPixels) {
  // Upright: 320 x 200, two "faces" (red block, blue bar above), textured background.
  cv::Mat up(200, 320, CV_8UC3);
  for (int y = 0; y < up.rows; ++y)
    for (int x = 0; x < up.cols; ++x)
      up.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(40 + (x * 3) % 50), static_cast<uint8_t>(120 + (y * 5) % 80), 30);
  const std::vector<cv::Rect> faces = {cv::Rect(60, 80, 40, 30), cv::Rect(220, 40, 24, 50)};
  for (const auto& f : faces) {
    cv::ellipse(up, (f.tl() + f.br()) / 2, f.size() / 2, 0, 0, 360, cv::Scalar(0, 0, 255), cv::FILLED);
    cv::rectangle(up, cv::Rect(f.x, f.y - 8, f.width, 6), cv::Scalar(255, 0, 0), cv::FILLED);
  }
  UprightDetector det;
  std::vector<Detector*> dets = {&det};
  AnonymiseOptions opt;
  opt.blur.mode = Mode::kSolid;
  opt.blur.solid[0] = 0, opt.blur.solid[1] = 255, opt.blur.solid[2] = 0;
  const std::string dir = ::testing::TempDir() + "/geoshard-orientation";
  std::filesystem::create_directories(dir);
  for (int o = 1; o <= 8; ++o) {
    SCOPED_TRACE("orientation " + std::to_string(o));
    const cv::Mat stored = stored_for(up, o);
    ASSERT_EQ(cv::norm(upright(stored, o), up, cv::NORM_INF), 0);
    // A JPEG with the tag, written as a camera would: stored pixels + EXIF Orientation.
    cv::Mat rgb;
    cv::cvtColor(stored, rgb, cv::COLOR_BGR2RGB);
    geoshard::testing::JpegOptions jo;
    jo.quality = 98;
    jo.h_samp = 1, jo.v_samp = 1;
    jo.markers.emplace_back(JPEG_APP0 + 1, exif_orientation(o));
    const auto bytes = geoshard::testing::encode_jpeg(rgb.data, rgb.cols, rgb.rows, 3, rgb.step, jo);
    const std::string path = dir + "/o" + std::to_string(o) + ".jpg";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    // upright() agrees with OpenCV's own reading of the tag.
    const cv::Mat decoded = cv::imread(path, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    const cv::Mat shown = cv::imread(path, cv::IMREAD_COLOR);
    ASSERT_EQ(decoded.size(), stored.size());
    ASSERT_EQ(cv::norm(upright(decoded, o), shown, cv::NORM_INF), 0);
    // Without the orientation the detector sees the photo as stored: nothing unless upright.
    const auto blind = find_regions(decoded, "perspective", std::nan(""), 1, dets, opt);
    if (o == 1 || o == 2) EXPECT_EQ(blind.size(), 2u);
    else EXPECT_EQ(blind.size(), 0u);
    // With it: both faces, in stored pixels.
    const auto regions = find_regions(decoded, "perspective", std::nan(""), o, dets, opt);
    ASSERT_EQ(regions.size(), 2u);
    cv::Mat out = decoded.clone();
    apply_regions(out, false, regions, opt);
    const cv::Mat allowed = allowed_mask(regions, decoded.cols, decoded.rows);
    cv::Mat red_up(up.size(), CV_8U, cv::Scalar(0));
    for (const auto& f : faces) cv::ellipse(red_up, (f.tl() + f.br()) / 2, f.size() / 2, 0, 0, 360, cv::Scalar(1), cv::FILLED);
    const cv::Mat red_stored = stored_for(red_up, o);
    uint64_t covered = 0;
    for (int y = 0; y < decoded.rows; ++y)
      for (int x = 0; x < decoded.cols; ++x) {
        if (red_stored.at<uint8_t>(y, x)) {
          ASSERT_EQ(out.at<cv::Vec3b>(y, x), cv::Vec3b(0, 255, 0)) << "face pixel " << x << "," << y << " not blurred";
          ++covered;
        }
        if (out.at<cv::Vec3b>(y, x) != decoded.at<cv::Vec3b>(y, x)) {
          ASSERT_TRUE(allowed.at<uint8_t>(y, x)) << x << "," << y;
        }
      }
    EXPECT_EQ(covered, static_cast<uint64_t>(cv::countNonZero(red_up)));
    EXPECT_GT(covered, 1500u);
  }
}

// A real photo with real detectors (the default models, skipped when absent): turned by each
// orientation and stored so, the chain finds exactly what it finds on the upright photo, mapped
// to stored pixels; without the turn the detectors miss faces.
TEST(Orientation, RealFacesFoundBecauseTheDetectorsSeeThemUpright) {
  const std::filesystem::path photo = std::filesystem::path(GEOSHARD_SHARED_DATA) / "faces/2007_007763.jpg";
  if (!std::filesystem::exists(photo)) GTEST_SKIP() << "no " << photo << " (../shared/data absent)";
  std::vector<std::unique_ptr<Detector>> owned;
  std::vector<Detector*> dets;
  try {
    for (const auto& m : read_models(default_models_path()))
      if (m.cls == "face") owned.push_back(make_detector(m)), dets.push_back(owned.back().get());
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "default models not installed (run ./setup): " << e.what();
  }
  const cv::Mat up = cv::imread(photo.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(up.empty());
  const AnonymiseOptions opt;
  const auto ref = find_regions(up, "perspective", std::nan(""), 1, dets, opt);
  ASSERT_GE(ref.size(), 3u);
  // Centres of the upright regions (their first polygon's vertex mean).
  auto centre = [](const std::vector<std::pair<double, double>>& p) {
    double x = 0, y = 0;
    for (const auto& [u, v] : p) x += u / p.size(), y += v / p.size();
    return std::pair{x, y};
  };
  auto inside = [](const std::vector<Region>& regions, double x, double y) {
    for (const auto& r : regions)
      for (const auto& p : r.polygons) {
        std::vector<double> u, v;
        for (const auto& [a, b] : p) u.push_back(a - x), v.push_back(b - y);
        if (covers(u.data(), v.data(), static_cast<int>(u.size()), 0, 0)) return true;
      }
    return false;
  };
  for (int o : {3, 6, 8}) {
    SCOPED_TRACE("orientation " + std::to_string(o));
    const cv::Mat stored = stored_for(up, o);
    const auto turned = find_regions(stored, "perspective", std::nan(""), o, dets, opt);
    ASSERT_EQ(turned.size(), ref.size());
    int blind_hits = 0;
    const auto blind = find_regions(stored, "perspective", std::nan(""), 1, dets, opt);
    for (size_t i = 0; i < ref.size(); ++i) {
      // The same regions, vertex for vertex, in stored pixels.
      ASSERT_EQ(turned[i].polygons.size(), ref[i].polygons.size());
      for (size_t k = 0; k < ref[i].polygons.size(); ++k) {
        ASSERT_EQ(turned[i].polygons[k].size(), ref[i].polygons[k].size());
        for (size_t q = 0; q < ref[i].polygons[k].size(); ++q) {
          double sx, sy;
          upright_to_stored(o, stored.cols, stored.rows, ref[i].polygons[k][q].first, ref[i].polygons[k][q].second, &sx, &sy);
          ASSERT_NEAR(turned[i].polygons[k][q].first, sx, 1e-9);
          ASSERT_NEAR(turned[i].polygons[k][q].second, sy, 1e-9);
        }
      }
      const auto [cx, cy] = centre(ref[i].polygons[0]);
      double sx, sy;
      upright_to_stored(o, stored.cols, stored.rows, cx, cy, &sx, &sy);
      blind_hits += inside(blind, sx, sy);
    }
    std::printf("real photo, orientation %d: %zu face regions upright (found through the turn), %d of them found "
                "without it\n", o, ref.size(), blind_hits);
    EXPECT_LT(blind_hits, static_cast<int>(ref.size()));
  }
}

// An equirect photo stored turned: its seam copies are made upright and turned with it, so a
// target across the seam is covered in stored pixels for every orientation.
TEST(Orientation, EquirectStoredTurnedKeepsTheSeam) {
  const int W = 512, H = 256;
  const pj::Equirect e{W, H};
  cv::Mat up(H, W, CV_8UC3);
  cv::Mat red_up(H, W, CV_8U, cv::Scalar(0));
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < W; ++i) {
      up.at<cv::Vec3b>(j, i) = cv::Vec3b(static_cast<uint8_t>(40 + (i * 7) % 150), static_cast<uint8_t>(30 + (j * 5) % 150), 0);
      const pj::Vec3 d = pj::equirect_direction(e, i, j);
      for (const auto& [lon, lat, r] : {std::tuple{180.0, 10.0, 6.0}, std::tuple{-30.0, -85.0, 4.0}, std::tuple{60.0, 20.0, 5.0}})
        if (pj::angle_between(d, pj::direction(pj::rad(lon), pj::rad(lat))) <= pj::rad(r))
          up.at<cv::Vec3b>(j, i) = cv::Vec3b(0, 0, 255), red_up.at<uint8_t>(j, i) = 1;
    }
  OracleDetector oracle("face");
  std::vector<Detector*> dets = {&oracle};
  AnonymiseOptions opt;
  opt.blur.mode = Mode::kSolid;
  opt.blur.solid[1] = 255;
  for (int o = 1; o <= 8; ++o) {
    SCOPED_TRACE("orientation " + std::to_string(o));
    const cv::Mat stored = stored_for(up, o), red = stored_for(red_up, o);
    const auto regions = find_regions(stored, "equirect", std::nan(""), o, dets, opt);
    ASSERT_GE(regions.size(), 3u);
    cv::Mat out = stored.clone();
    apply_regions(out, o == 1, regions, opt);
    uint64_t left = 0;
    for (int y = 0; y < out.rows; ++y)
      for (int x = 0; x < out.cols; ++x) left += red.at<uint8_t>(y, x) && out.at<cv::Vec3b>(y, x) != cv::Vec3b(0, 255, 0);
    EXPECT_EQ(left, 0u);
  }
  // Stored 2:1 but upright 1:2 is not an equirect photo.
  EXPECT_THROW(find_regions(up, "equirect", std::nan(""), 6, dets, opt), std::invalid_argument);
}

TEST(Orientation, UprightToStoredMatchesTheTurnedPixels) {
  cv::Mat s(7, 11, CV_32S);
  for (int y = 0; y < s.rows; ++y)
    for (int x = 0; x < s.cols; ++x) s.at<int>(y, x) = y * 100 + x;
  for (int o = 1; o <= 8; ++o) {
    const cv::Mat u = upright(s, o);
    EXPECT_EQ(u.cols, o >= 5 ? s.rows : s.cols);
    for (int y = 0; y < u.rows; ++y)
      for (int x = 0; x < u.cols; ++x) {
        double sx, sy;
        upright_to_stored(o, s.cols, s.rows, x, y, &sx, &sy);
        ASSERT_EQ(u.at<int>(y, x), s.at<int>(static_cast<int>(sy), static_cast<int>(sx))) << "orientation " << o;
      }
  }
  EXPECT_THROW(upright(s, 0), std::invalid_argument);
}


// The operator under the camera: an upright-only detector finds a "face" lying at the nadir at
// any angle only because the pole views are also searched turned (AnonymiseOptions::
// pole_rotations). The face is drawn upright in a nadir view of yaw theta; with one pole view
// (yaw 0) it lies turned by theta there and only the lowest ring's oblique views see it, whose
// regions leave 5 % of it unblurred at these angles; with the default 8 turns every red pixel
// of it is blurred (solid mode: changed).
TEST(PoleRotations, AFaceAtTheNadirIsFoundAtAnyAngle) {
  namespace pj = geoshard::projection;
  const int W = 1024, H = 512;
  for (const double theta_deg : {215.0, 300.0}) {
    cv::Mat pano(H, W, CV_8UC3, cv::Scalar(90, 120, 90));
    const pj::View look{pj::rad(theta_deg), -pj::kPi / 2, pj::rad(60), pj::rad(60), 400, 400};
    const pj::Equirect e{W, H};
    for (int v = H / 2; v < H; ++v)
      for (int u = 0; u < W; ++u) {
        double x, y;
        if (!pj::view_pixel(look, pj::equirect_direction(e, u, v), &x, &y)) continue;
        if (x >= 170 && x < 230 && y >= 190 && y < 260) pano.at<cv::Vec3b>(v, u) = cv::Vec3b(20, 20, 230);  // red face
        if (x >= 175 && x < 225 && y >= 165 && y < 185) pano.at<cv::Vec3b>(v, u) = cv::Vec3b(230, 20, 20);  // blue bar above
      }
    cv::Mat red;
    cv::inRange(pano, cv::Scalar(0, 0, 150), cv::Scalar(100, 100, 255), red);
    ASSERT_GT(cv::countNonZero(red), 100);
    UprightDetector det;
    std::vector<Detector*> dets{&det};
    auto covered = [&](int rotations, int* views) {
      AnonymiseOptions opt;
      opt.pole_rotations = rotations;
      opt.blur.mode = blur::Mode::kSolid;
      AnonymiseStats st;
      const auto regions = find_regions(pano, "equirect", dets, opt, &st);
      *views = st.views;
      cv::Mat out = pano.clone();
      apply_regions(out, true, regions, opt);
      cv::Mat diff;
      cv::absdiff(out, pano, diff);
      cv::cvtColor(diff, diff, cv::COLOR_BGR2GRAY);
      cv::Mat changed_red = (diff > 0) & red;
      return static_cast<double>(cv::countNonZero(changed_red)) / cv::countNonZero(red);
    };
    int v1 = 0, v8 = 0;
    const double one = covered(1, &v1), eight = covered(8, &v8);
    EXPECT_EQ(v8, v1 + 2 * 7) << "zenith and nadir, 7 more turns each";
    EXPECT_LT(one, 0.99) << theta_deg << "°: one pole view should miss part of a face lying turned (the test's premise)";
    EXPECT_EQ(eight, 1.0) << theta_deg << "°: with 8 turns every pixel of the face is blurred";
  }
}



TEST(SearchMegapixels, EqualsThePixelsTheDetectorsSee) {
  struct Case {
    int w, h;
    const char* projection;
    double hfov;
    int orientation;
  };
  const Case cases[] = {{1024, 512, "equirect", NAN, 1},   {2048, 1024, "equirect", NAN, 1}, {512, 1024, "equirect", NAN, 6},
                        {800, 600, "perspective", NAN, 1}, {3400, 2000, "perspective", NAN, 1},
                        {1200, 900, "perspective", 120, 1}, {900, 1200, "perspective", 120, 8},
                        {1000, 1000, "fisheye", 190, 1},   {1000, 750, "fisheye", NAN, 1}};
  for (const Case& c : cases) {
    const cv::Mat img(c.h, c.w, CV_8UC3, cv::Scalar(40, 90, 160));
    CountingDetector det;
    std::vector<Detector*> dets{&det};
    const AnonymiseOptions opt;
    find_regions(img, c.projection, c.hfov, c.orientation, dets, opt);
    EXPECT_NEAR(search_megapixels(c.w, c.h, c.projection, c.hfov, c.orientation, opt), det.pixels / 1e6, 1e-9)
        << c.w << "x" << c.h << " " << c.projection << " hfov " << c.hfov << " orientation " << c.orientation;
  }
}

}  // namespace
}  // namespace geoshard::blur
