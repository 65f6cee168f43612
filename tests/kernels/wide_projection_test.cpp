// kernels/projection.h, wide perspective and fisheye photos: pinhole and equidistant-fisheye
// pixel <-> ray round trips through perspective views over many random cases, the view layout's
// overlap guarantee over the photo's field of view, back-projected outlines that cover the
// region, and the renderer (a view equal to a pinhole photo reproduces it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/batch.h"
#include "kernels/blur.h"
#include "kernels/projection.h"

namespace geoshard::projection {
namespace {

double uni(std::mt19937_64& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

Camera random_camera(std::mt19937_64& rng, int model) {
  const int W = static_cast<int>(uni(rng, 64, 6000)), H = static_cast<int>(uni(rng, 0.4, 1.0) * W) + 1;
  if (model == kPinholeCamera) return pinhole_camera(W, H, rad(uni(rng, 20, 170)));
  // Fisheye: up to 300° across the width, the diagonal short of straight back.
  for (;;) {
    const Camera c = fisheye_camera(W, H, rad(uni(rng, 60, 300)));
    if (std::hypot(W, H) / 2 / c.f < kPi - 0.05) return c;
  }
}

// A view of random size (fov <= 75°) whose axis is within 0.9 fov/2 of the direction d.
View view_around(std::mt19937_64& rng, const Vec3& d) {
  const double fov = rad(uni(rng, 10, 75));
  const int size = static_cast<int>(uni(rng, 16, 2000));
  for (;;) {
    const View w{longitude(d) + uni(rng, -0.45, 0.45) * fov, latitude(d) + uni(rng, -0.45, 0.45) * fov, fov, fov, size, size};
    if (std::fabs(w.pitch) <= kPi / 2 && angle_between(direction(w.yaw, w.pitch), d) < 0.45 * fov * 1.5) return w;
  }
}

TEST(WideProjection, PixelRayRoundTripsThroughViews) {
  std::mt19937_64 rng(41);
  for (int model = 0; model < 2; ++model) {
    double worst_src = 0, worst_view = 0, worst_ray = 0;
    for (int i = 0; i < 100000; ++i) {
      const Camera c = random_camera(rng, model);
      const double u = uni(rng, -0.5, c.width - 0.5), v = uni(rng, -0.5, c.height - 0.5);
      const Vec3 d = camera_ray(c, u, v);
      ASSERT_NEAR(dot(d, d), 1.0, 1e-12);
      // source pixel -> ray -> source pixel
      double u1, v1;
      ASSERT_TRUE(camera_pixel(c, d, &u1, &v1));
      worst_ray = std::max({worst_ray, std::fabs(u1 - u), std::fabs(v1 - v)});
      // source pixel -> ray -> view pixel -> ray -> source pixel
      const View w = view_around(rng, d);
      double x, y;
      ASSERT_TRUE(view_pixel(w, d, &x, &y));
      double u2, v2;
      ASSERT_TRUE(view_to_camera(w, c, x, y, &u2, &v2));
      worst_src = std::max({worst_src, std::fabs(u2 - u), std::fabs(v2 - v)});
      // and back into the view: view pixel -> source pixel -> ray -> view pixel
      double x2, y2;
      ASSERT_TRUE(view_pixel(w, camera_ray(c, u2, v2), &x2, &y2));
      worst_view = std::max({worst_view, std::fabs(x2 - x), std::fabs(y2 - y)});
    }
    std::printf("%s: 100000 random cases, max round-trip error: source->ray->source %.2e px, "
                "source->view->source %.2e px, view->source->view %.2e px\n",
                model == 0 ? "pinhole" : "fisheye", worst_ray, worst_src, worst_view);
    EXPECT_LT(worst_ray, 1e-7);
    EXPECT_LT(worst_src, 1e-7);
    EXPECT_LT(worst_view, 1e-7);
  }
}

TEST(WideProjection, ModelsMatchTheirDefinitions) {
  // Pinhole: the image's side edge is hfov/2 off axis; fisheye: r = f θ.
  const Camera p = pinhole_camera(4000, 3000, rad(120));
  EXPECT_NEAR(deg(angle_between(camera_ray(p, -0.5, 1499.5), Vec3{0, 0, 1})), 60, 1e-9);
  EXPECT_NEAR(deg(angle_between(camera_ray(p, 1999.5, 1499.5), Vec3{0, 0, 1})), 0, 1e-9);
  const Camera f = fisheye_camera(3000, 3000, rad(190));
  EXPECT_NEAR(deg(angle_between(camera_ray(f, 2999.5, 1499.5), Vec3{0, 0, 1})), 95, 1e-9);
  EXPECT_NEAR(deg(angle_between(camera_ray(f, 1499.5, 749.5), Vec3{0, 0, 1})), 95.0 / 2, 1e-9);  // half way up
  EXPECT_GT(camera_ray(f, 1499.5, 0).y, 0);                                                       // image top = up
  EXPECT_GT(camera_ray(p, 3999, 1499.5).x, 0);                                                    // image right = right
  double u, v;
  EXPECT_FALSE(camera_pixel(p, Vec3{0, 0, -1}, &u, &v));
  EXPECT_FALSE(camera_pixel(f, Vec3{0, 0, -1}, &u, &v));
  EXPECT_NEAR(camera_density(p, Vec3{0, 0, 1}), p.f, 1e-9);
  EXPECT_NEAR(camera_density(p, direction(rad(60), 0)), 4 * p.f, 1e-6);
  EXPECT_NEAR(camera_density(f, direction(rad(90), 0)), f.f * kPi / 2, 1e-6);
}

// Every direction the photo sees is within rho = (fov - overlap) / 2 of a view's axis, so every
// object up to `overlap` wide centred there lies wholly in that (square) view.
TEST(WideProjection, LayoutCoversThePhotoWithTheOverlapGuarantee) {
  std::mt19937_64 rng(42);
  const double fov = rad(75), overlap = rad(15), rho = (fov - overlap) / 2;
  struct Case {
    const char* name;
    Camera c;
  };
  std::vector<Case> named = {{"pinhole 120° 4000x3000 (action cam)", pinhole_camera(4000, 3000, rad(120))},
                             {"pinhole 90° 4000x3000", pinhole_camera(4000, 3000, rad(90))},
                             {"pinhole 160° 1920x1080", pinhole_camera(1920, 1080, rad(160))},
                             {"fisheye 180° 4000x3000 (full frame)", fisheye_camera(4000, 3000, rad(180))},
                             {"fisheye 190° 3000x3000 (circular)", fisheye_camera(3000, 3000, rad(190))},
                             {"fisheye 240° 2000x2000", fisheye_camera(2000, 2000, rad(240))}};
  for (int i = 0; i < 40; ++i) named.push_back({"random", random_camera(rng, i % 2)});
  for (const auto& [name, c] : named) {
    const int n = camera_views(c, fov, overlap, nullptr, 0);
    std::vector<View> views(n);
    ASSERT_EQ(camera_views(c, fov, overlap, views.data(), n), n);
    double worst = 0, min_over = 1e300, max_over = 0;
    for (const View& w : views) {
      ASSERT_LE(w.hfov, fov + 1e-12);
      ASSERT_EQ(w.width, w.height);
      double u, v;
      if (camera_pixel(c, direction(w.yaw, w.pitch), &u, &v) && u >= -0.5 && u <= c.width - 0.5 && v >= -0.5 &&
          v <= c.height - 0.5) {
        min_over = std::min(min_over, camera_view_oversampling(w, c));
        max_over = std::max(max_over, camera_view_oversampling(w, c));
      }
    }
    for (int k = 0; k < 20000; ++k) {
      const Vec3 d = camera_ray(c, uni(rng, -0.5, c.width - 0.5), uni(rng, -0.5, c.height - 0.5));
      double best = 1e300;
      for (const View& w : views) best = std::min(best, angle_between(d, direction(w.yaw, w.pitch)));
      worst = std::max(worst, best);
    }
    ASSERT_LE(worst, rho + 1e-9) << name << " " << c.width << "x" << c.height << " model " << c.model;
    EXPECT_GE(min_over, 1.0 - 1e-9) << name;
    double view_px = 0;
    for (const View& w : views) view_px += double(w.width) * w.height;
    if (std::string(name) != "random")
      std::printf("%-38s %2d views of 75° (largest distance to an axis %.1f° <= %.1f°), oversampling at view centres "
                  "%.2f..%.2f, view pixels %.1f x the photo's, view size %d..%d px\n",
                  name, n, deg(worst), deg(rho), min_over, max_over, view_px / (double(c.width) * c.height),
                  std::min_element(views.begin(), views.end(), [](auto& a, auto& b) { return a.width < b.width; })->width,
                  std::max_element(views.begin(), views.end(), [](auto& a, auto& b) { return a.width < b.width; })->width);
  }
}

// The dense back-projected outline of a box covers every source pixel whose ray lies in the box
// (away from its edges by more than the chord error of per_edge samples).
TEST(WideProjection, BackProjectedOutlinesCoverTheRegion) {
  std::mt19937_64 rng(43);
  int behind = 0, tested = 0;
  int64_t points = 0;
  for (int i = 0; i < 3000; ++i) {
    const int model = i % 2;
    const Camera c = random_camera(rng, model);
    const Vec3 d = camera_ray(c, uni(rng, 0, c.width - 1), uni(rng, 0, c.height - 1));
    const View w = view_around(rng, d);
    const double x0 = uni(rng, -0.5, w.width * 0.8), y0 = uni(rng, -0.5, w.height * 0.8);
    const double x1 = x0 + uni(rng, 2, w.width - 0.5 - x0), y1 = y0 + uni(rng, 2, w.height - 0.5 - y0);
    const double xs[4] = {x0, x1, x1, x0}, ys[4] = {y0, y0, y1, y1};
    const int per_edge = 32, cap = 2 * 4 * per_edge + kFisheyeBackSamples + 2;
    std::vector<double> u(cap), v(cap);
    const int n = view_polygon_to_camera(w, c, xs, ys, 4, per_edge, u.data(), v.data(), cap);
    ASSERT_LE(n, cap);
    if (n < 3) {  // the box lies wholly behind a pinhole: none of it has a source pixel
      ASSERT_EQ(model, kPinholeCamera);
      double su, sv;
      ASSERT_FALSE(view_to_camera(w, c, (x0 + x1) / 2, (y0 + y1) / 2, &su, &sv) && sv * 0 == 0 && std::fabs(su) < 1e6);
      ++behind;
      continue;
    }
    ++tested;
    for (int k = 0; k < 200; ++k) {
      const double mx = (x1 - x0) * 0.01 + 0.01, my = (y1 - y0) * 0.01 + 0.01;
      const double x = uni(rng, x0 + mx, x1 - mx), y = uni(rng, y0 + my, y1 - my);
      double su, sv;
      if (!view_to_camera(w, c, x, y, &su, &sv)) continue;
      if (su < -0.5 || su > c.width - 0.5 || sv < -0.5 || sv > c.height - 0.5) continue;  // only the photo matters
      ++points;
      // covers() tests a pixel centre: test the point itself by shifting the polygon.
      std::vector<double> uu(n), vv(n);
      for (int q = 0; q < n; ++q) uu[q] = u[q] - su, vv[q] = v[q] - sv;
      ASSERT_TRUE(blur::covers(uu.data(), vv.data(), n, 0, 0))
          << "model " << model << " case " << i << " point " << x << "," << y << " -> " << su << "," << sv << " camera "
          << c.width << "x" << c.height << " f " << c.f << " view " << w.yaw << "," << w.pitch << "," << w.hfov << ","
          << w.width << " box " << x0 << "," << y0 << "," << x1 << "," << y1 << " n " << n << " theta "
          << deg(angle_between(view_direction(w, x, y), Vec3{0, 0, 1}));
    }
  }
  EXPECT_GT(tested, 2500);
  EXPECT_GT(points, 200000);
  std::printf("%d boxes back-projected, %lld points inside them and the photo covered, %d boxes wholly behind a pinhole\n",
              tested, static_cast<long long>(points), behind);
}

// A fisheye view holding the direction straight behind the lens: the outline is closed around
// the circle r = π f, so the photo's pixels inside the box (the outside of its outline) are covered.
TEST(WideProjection, FisheyeBoxAroundTheBackDirection) {
  const Camera c = fisheye_camera(2000, 1000, rad(300));
  const View w{kPi, 0, rad(75), rad(75), 400, 400};
  const double xs[4] = {-0.5, 399.5, 399.5, -0.5}, ys[4] = {-0.5, -0.5, 399.5, 399.5};
  std::vector<double> u(300), v(300);
  const int n = view_polygon_to_camera(w, c, xs, ys, 4, 32, u.data(), v.data(), 300);
  ASSERT_EQ(n, 4 * 32 + kFisheyeBackSamples + 2);
  int inside = 0;
  for (int y = 0; y < 400; y += 3)
    for (int x = 0; x < 400; x += 3) {
      double su, sv;
      ASSERT_TRUE(view_to_camera(w, c, x, y, &su, &sv));
      if (su < -0.5 || su > c.width - 0.5 || sv < -0.5 || sv > c.height - 0.5) continue;
      ++inside;
      std::vector<double> uu(n), vv(n);
      for (int q = 0; q < n; ++q) uu[q] = u[q] - su, vv[q] = v[q] - sv;
      ASSERT_TRUE(blur::covers(uu.data(), vv.data(), n, 0, 0)) << x << "," << y;
    }
  EXPECT_GT(inside, 1000);
  // And a pixel of the photo outside the box stays outside.
  std::vector<double> uu(n), vv(n);
  for (int q = 0; q < n; ++q) uu[q] = u[q] - 999.5, vv[q] = v[q] - 499.5;
  EXPECT_FALSE(blur::covers(uu.data(), vv.data(), n, 0, 0));
}

TEST(WideProjection, RenderedViewEqualToThePhotoReproducesIt) {
  const int W = 97, H = 61;
  std::vector<uint8_t> img(W * H * 3);
  for (int i = 0; i < W * H * 3; ++i) img[i] = static_cast<uint8_t>((i * 37) % 251);
  const Camera c = pinhole_camera(W, H, rad(100));
  const View w{0, 0, rad(100), 2 * std::atan(H / 2.0 / c.f), W, H};
  std::vector<uint8_t> out(W * H * 3);
  render_camera_view(img.data(), c, 3, W * 3, w, out.data(), W * 3);
  EXPECT_EQ(out, img);
  // Clamped, not wrapped: a view looking past the side repeats the border column.
  uint8_t px[3];
  sample_bilinear_clamp(img.data(), W, H, 3, W * 3, -40, 10, px);
  EXPECT_EQ(px[0], img[10 * W * 3]);
  sample_bilinear_clamp(img.data(), W, H, 3, W * 3, W + 40, H + 3, px);
  EXPECT_EQ(px[1], img[((H - 1) * W + W - 1) * 3 + 1]);
}

// The batch (what the GPU renders in one launch): several photos and cameras, views in mixed
// order, against one render_camera_view per view; bad requests refused before any output.
TEST(WideProjection, CameraViewBatchEqualsOneCallPerView) {
  std::mt19937_64 rng(47);
  std::vector<std::vector<uint8_t>> imgs;
  std::vector<ImageRef> refs;
  std::vector<Camera> cams;
  for (int i = 0; i < 4; ++i) {
    const int W = static_cast<int>(uni(rng, 40, 400)), H = static_cast<int>(uni(rng, 30, 300)), C = 1 + i % 4;
    imgs.emplace_back(static_cast<size_t>(W) * C * H);
    for (auto& b : imgs.back()) b = static_cast<uint8_t>(rng());
    refs.push_back(ImageRef{imgs.back().data(), W, H, C, static_cast<int64_t>(W) * C});
    cams.push_back(i % 2 ? fisheye_camera(W, H, rad(uni(rng, 100, 200))) : pinhole_camera(W, H, rad(uni(rng, 60, 120))));
  }
  std::vector<CameraViewRequest> req;
  std::vector<std::vector<uint8_t>> got, want;
  for (int k = 0; k < 16; ++k) {
    const uint32_t i = static_cast<uint32_t>(rng() % refs.size());
    const View w{uni(rng, -1.5, 1.5), uni(rng, -1.2, 1.2), rad(uni(rng, 20, 75)), rad(uni(rng, 20, 75)),
                 static_cast<int>(uni(rng, 1, 200)), static_cast<int>(uni(rng, 1, 200))};
    const int64_t os = static_cast<int64_t>(w.width) * refs[i].channels + k % 2;
    want.emplace_back(static_cast<size_t>(os) * w.height, 0x33);
    got.emplace_back(want.back());
    render_camera_view(refs[i].pixels, cams[i], refs[i].channels, refs[i].stride, w, want.back().data(), os);
    req.push_back(CameraViewRequest{i, cams[i], w, nullptr, os});
  }
  for (size_t k = 0; k < req.size(); ++k) req[k].out = got[k].data();
  render_camera_views(refs, req);
  for (size_t k = 0; k < req.size(); ++k) ASSERT_EQ(got[k], want[k]) << "view " << k;
  auto bad = req;
  bad[3].cam.width += 1;  // a camera that is not the photo's
  EXPECT_THROW(render_camera_views(refs, bad), std::invalid_argument);
  bad = req;
  bad[9].image = 4;
  EXPECT_THROW(render_camera_views(refs, bad), std::out_of_range);
}

}  // namespace
}  // namespace geoshard::projection
