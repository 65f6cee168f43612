// kernels/projection.h: round trips over many random cases, the seam and the poles, bilinear
// sampling, the view layout's overlap guarantee, and back-projected box outlines that cover the
// box's region (the property the blur's recall rests on).
#include "kernels/projection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/batch.h"

namespace geoshard::projection {
namespace {

double uni(std::mt19937_64& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

Vec3 random_direction(std::mt19937_64& rng) {
  // Uniform on the sphere.
  const double z = uni(rng, -1, 1), a = uni(rng, -kPi, kPi), r = std::sqrt(1 - z * z);
  return Vec3{r * std::sin(a), z, r * std::cos(a)};
}

double dist(const Vec3& a, const Vec3& b) { return angle_between(a, b); }

TEST(Projection, DirectionAndLonLatRoundTrip) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100000; ++i) {
    const double lon = uni(rng, -kPi, kPi), lat = uni(rng, -kPi / 2, kPi / 2);
    const Vec3 d = direction(lon, lat);
    ASSERT_NEAR(dot(d, d), 1.0, 1e-15);
    ASSERT_NEAR(latitude(d), lat, 1e-12);
    if (std::fabs(lat) < kPi / 2 - 1e-6) {
      ASSERT_NEAR(std::remainder(longitude(d) - lon, 2 * kPi), 0.0, 1e-9);
    }
  }
  // Axes of the frame.
  EXPECT_NEAR(direction(0, 0).z, 1, 1e-15);
  EXPECT_NEAR(direction(kPi / 2, 0).x, 1, 1e-15);
  EXPECT_NEAR(direction(0, kPi / 2).y, 1, 1e-15);
}

TEST(Projection, EquirectPixelRoundTripAndLayout) {
  const Equirect e{5760, 2880};
  std::mt19937_64 rng(2);
  for (int i = 0; i < 100000; ++i) {
    const double u = uni(rng, -0.5, e.width - 0.5), v = uni(rng, -0.49, e.height - 0.51);
    double u2, v2;
    equirect_pixel(e, equirect_direction(e, u, v), &u2, &v2);
    ASSERT_NEAR(v2, v, 1e-7);
    ASSERT_NEAR(std::remainder(u2 - u, e.width), 0.0, 1e-7 / std::max(1e-3, std::cos((kPi / 2 - (v + 0.5) / e.height * kPi))));
  }
  double u, v;
  equirect_pixel(e, direction(0, 0), &u, &v);  // longitude 0 on the horizon: the image centre
  EXPECT_NEAR(u, e.width / 2.0 - 0.5, 1e-9);
  EXPECT_NEAR(v, e.height / 2.0 - 0.5, 1e-9);
  equirect_pixel(e, direction(kPi / 2, 0), &u, &v);  // +90°: three quarters across
  EXPECT_NEAR(u, 0.75 * e.width - 0.5, 1e-9);
  equirect_pixel(e, direction(0, kPi / 2), &u, &v);  // north pole: the top edge
  EXPECT_NEAR(v, -0.5, 1e-9);
}

TEST(Projection, WrapIsTheSphereAcrossSeamAndPoles) {
  // The pixel an out-of-range (i, j) wraps to has the same direction as the unwrapped pixel
  // centre (equirect_direction extends past the poles and the seam by the same formulas).
  const int W = 64, H = 32;
  const Equirect e{W, H};
  std::mt19937_64 rng(3);
  for (int k = 0; k < 100000; ++k) {
    const int i = static_cast<int>(uni(rng, -2 * W, 3 * W)), j = static_cast<int>(uni(rng, -H, 2 * H));
    int wi, wj;
    equirect_wrap(W, H, i, j, &wi, &wj);
    ASSERT_GE(wi, 0);
    ASSERT_LT(wi, W);
    ASSERT_GE(wj, 0);
    ASSERT_LT(wj, H);
    ASSERT_LT(dist(equirect_direction(e, i, j), equirect_direction(e, wi, wj)), 1e-12) << i << "," << j;
  }
  int wi, wj;
  equirect_wrap(W, H, W, 5, &wi, &wj);
  EXPECT_EQ(wi, 0);
  EXPECT_EQ(wj, 5);
  equirect_wrap(W, H, 3, -1, &wi, &wj);
  EXPECT_EQ(wi, 3 + W / 2);
  EXPECT_EQ(wj, 0);
  equirect_wrap(W, H, 40, H, &wi, &wj);
  EXPECT_EQ(wi, 40 - W / 2);
  EXPECT_EQ(wj, H - 1);
}

TEST(Projection, BilinearSampling) {
  const int W = 8, H = 4, C = 3;
  std::vector<uint8_t> img(W * H * C);
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < W; ++i)
      for (int c = 0; c < C; ++c) img[(j * W + i) * C + c] = static_cast<uint8_t>(10 * i + 100 * (j % 2) + c);
  uint8_t out[C];
  auto px = [&](int i, int j, int c) { return img[(j * W + i) * C + c]; };
  // At pixel centres: the pixel itself.
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < W; ++i) {
      sample_bilinear_equirect(img.data(), W, H, C, W * C, i, j, out);
      for (int c = 0; c < C; ++c) ASSERT_EQ(out[c], px(i, j, c));
    }
  // Halfway between two columns, and across the seam (last and first column).
  sample_bilinear_equirect(img.data(), W, H, C, W * C, 2.5, 1, out);
  EXPECT_EQ(out[0], (px(2, 1, 0) + px(3, 1, 0) + 1) / 2);
  sample_bilinear_equirect(img.data(), W, H, C, W * C, W - 0.5, 2, out);
  EXPECT_EQ(out[1], static_cast<int>(std::floor((px(W - 1, 2, 1) + px(0, 2, 1)) / 2.0 + 0.5)));
  sample_bilinear_equirect(img.data(), W, H, C, W * C, -0.5, 2, out);  // same place from the other side
  EXPECT_EQ(out[1], static_cast<int>(std::floor((px(W - 1, 2, 1) + px(0, 2, 1)) / 2.0 + 0.5)));
  // Above the north pole's row: row 0 here and on the opposite meridian.
  sample_bilinear_equirect(img.data(), W, H, C, W * C, 1, -0.5, out);
  EXPECT_EQ(out[2], static_cast<int>(std::floor((px(1, 0, 2) + px(1 + W / 2, 0, 2)) / 2.0 + 0.5)));
  // A constant image stays constant everywhere.
  std::vector<uint8_t> flat(W * H * C, 77);
  std::mt19937_64 rng(4);
  for (int k = 0; k < 10000; ++k) {
    sample_bilinear_equirect(flat.data(), W, H, C, W * C, uni(rng, -W, 2 * W), uni(rng, -0.5, H - 0.5), out);
    ASSERT_EQ(out[0], 77);
  }
}

TEST(Projection, ViewPixelRoundTripAndOrientation) {
  std::mt19937_64 rng(5);
  for (int k = 0; k < 100000; ++k) {
    const double fov = rad(uni(rng, 20, 120));
    const View w{uni(rng, -kPi, kPi), uni(rng, -kPi / 2, kPi / 2), fov, fov * uni(rng, 0.5, 1.0), 640, 480};
    const double x = uni(rng, -0.5, w.width - 0.5), y = uni(rng, -0.5, w.height - 0.5);
    const Vec3 d = view_direction(w, x, y);
    double x2, y2;
    ASSERT_TRUE(view_pixel(w, d, &x2, &y2));
    ASSERT_NEAR(x2, x, 1e-8);
    ASSERT_NEAR(y2, y, 1e-8);
    // The axis is the view's centre.
    const Vec3 axis = direction(w.yaw, w.pitch);
    const Vec3 centre = view_direction(w, w.width / 2.0 - 0.5, w.height / 2.0 - 0.5);
    ASSERT_LT(dist(axis, Vec3{centre.x / std::sqrt(dot(centre, centre)), centre.y / std::sqrt(dot(centre, centre)),
                              centre.z / std::sqrt(dot(centre, centre))}),
              1e-12);
    // The precomputed frame gives the same ray (up to rounding).
    const Vec3 fr = frame_ray(view_frame(w), x, y);
    ASSERT_LT(dist(Vec3{fr.x / std::sqrt(dot(fr, fr)), fr.y / std::sqrt(dot(fr, fr)), fr.z / std::sqrt(dot(fr, fr))},
                   Vec3{d.x / std::sqrt(dot(d, d)), d.y / std::sqrt(dot(d, d)), d.z / std::sqrt(dot(d, d))}),
              1e-13);
    // Behind the camera: not visible.
    ASSERT_FALSE(view_pixel(w, Vec3{-axis.x, -axis.y, -axis.z}, &x2, &y2));
  }
  // Up is up and right is east for a level view.
  const View level{0, 0, rad(90), rad(90), 100, 100};
  EXPECT_GT(latitude(view_direction(level, 49.5, 0)), 0);
  EXPECT_GT(longitude(view_direction(level, 99, 49.5)), 0);
  // The left and right edge rays of a 90° view are ±45°.
  EXPECT_NEAR(deg(longitude(view_direction(level, -0.5, 49.5))), -45, 1e-9);
  EXPECT_NEAR(deg(longitude(view_direction(level, 99.5, 49.5))), 45, 1e-9);
}

// For each direction, the view whose axis is nearest.
int nearest_view(const std::vector<View>& views, const Vec3& d, double* angle) {
  int best = -1;
  double ba = 1e9;
  for (size_t k = 0; k < views.size(); ++k) {
    const double a = dist(d, direction(views[k].yaw, views[k].pitch));
    if (a < ba) ba = a, best = static_cast<int>(k);
  }
  *angle = ba;
  return best;
}

TEST(Projection, ViewLayoutCoversEveryObjectUpToTheOverlap) {
  struct Case {
    double fov, overlap;
    int W;
  };
  for (const Case c : {Case{75, 15, 5760}, Case{60, 10, 4096}, Case{90, 20, 2048}, Case{120, 30, 1024}, Case{75, 30, 5760}}) {
    const Equirect e{c.W, c.W / 2};
    const double fov = rad(c.fov), overlap = rad(c.overlap), rho = (fov - overlap) / 2;
    const int n = equirect_views(e, fov, overlap, nullptr, 0);
    std::vector<View> views(n);
    ASSERT_EQ(equirect_views(e, fov, overlap, views.data(), n), n);
    // Zenith and nadir are views (the operator at the nadir must be found).
    EXPECT_NEAR(views[n - 2].pitch, kPi / 2, 1e-15);
    EXPECT_NEAR(views[n - 1].pitch, -kPi / 2, 1e-15);
    for (const View& w : views) {
      // Never undersampled, and not needlessly larger.
      EXPECT_GE(view_oversampling(w, e), 1.0);
      EXPECT_LT(view_oversampling(w, e), 1.0 + 1.0 / w.width * 2);
    }
    std::mt19937_64 rng(6);
    double worst = 0;
    for (int k = 0; k < 100000; ++k) {
      const Vec3 d = random_direction(rng);
      double a;
      const int best = nearest_view(views, d, &a);
      worst = std::max(worst, a);
      ASSERT_LE(a, rho + 1e-12) << "fov " << c.fov << " overlap " << c.overlap;
      if (k % 10 == 0) {
        // The cap of diameter `overlap` around d lies inside that view: 32 points of its rim.
        const View& w = views[best];
        const Vec3 t1 = std::fabs(d.y) < 0.9 ? Vec3{d.z, 0, -d.x} : Vec3{0, -d.z, d.y};
        const double n1 = std::sqrt(dot(t1, t1));
        const Vec3 u1{t1.x / n1, t1.y / n1, t1.z / n1};
        const Vec3 u2{d.y * u1.z - d.z * u1.y, d.z * u1.x - d.x * u1.z, d.x * u1.y - d.y * u1.x};
        for (int s = 0; s < 32; ++s) {
          const double phi = 2 * kPi * s / 32, r = overlap / 2;
          const Vec3 q{std::cos(r) * d.x + std::sin(r) * (std::cos(phi) * u1.x + std::sin(phi) * u2.x),
                       std::cos(r) * d.y + std::sin(r) * (std::cos(phi) * u1.y + std::sin(phi) * u2.y),
                       std::cos(r) * d.z + std::sin(r) * (std::cos(phi) * u1.z + std::sin(phi) * u2.z)};
          double x, y;
          ASSERT_TRUE(view_pixel(w, q, &x, &y));
          ASSERT_GE(x, -0.5 - 1e-6);
          ASSERT_LE(x, w.width - 0.5 + 1e-6);
          ASSERT_GE(y, -0.5 - 1e-6);
          ASSERT_LE(y, w.height - 0.5 + 1e-6);
        }
      }
    }
    // Not wildly more views than needed: the worst direction is close to the bound.
    EXPECT_GT(worst, 0.6 * rho);
    if (c.fov == 75 && c.overlap == 15) {
      EXPECT_EQ(n, 33);  // docs: 7 + 2x7 + 2x5 + zenith + nadir
    }
  }
}

// Even-odd point-in-polygon in the plane.
bool inside(const std::vector<double>& u, const std::vector<double>& v, int n, double x, double y) {
  bool in = false;
  for (int i = 0, j = n - 1; i < n; j = i++)
    if ((v[i] > y) != (v[j] > y) && x < (u[j] - u[i]) * (y - v[i]) / (v[j] - v[i]) + u[i]) in = !in;
  return in;
}

TEST(Projection, BoxOutlineCoversTheBoxRegionAcrossSeamAndPoles) {
  const Equirect e{2048, 1024};
  std::mt19937_64 rng(7);
  int seam = 0, poles = 0;
  for (int k = 0; k < 2000; ++k) {
    // Views anywhere, including looking straight up/down and across the seam.
    const double pitch = k % 10 == 0 ? (k % 20 == 0 ? kPi / 2 : -kPi / 2) : uni(rng, -kPi / 2, kPi / 2);
    const View w{uni(rng, -kPi, kPi), pitch, rad(75), rad(75), 500, 500};
    double x0 = uni(rng, 0, 400), y0 = uni(rng, 0, 400);
    double x1 = x0 + uni(rng, 5, 100), y1 = y0 + uni(rng, 5, 100);
    if (k % 10 == 0) x0 = 200, y0 = 200, x1 = 300, y1 = 300;  // around the pole
    const int per_edge = 64;
    std::vector<double> u(4 * per_edge + 3), v(4 * per_edge + 3);
    const int n = view_box_outline(w, e, x0, y0, x1, y1, per_edge, u.data(), v.data(), static_cast<int>(u.size()));
    ASSERT_TRUE(n == 4 * per_edge || n == 4 * per_edge + 3);
    if (n > 4 * per_edge) ++poles;
    const double umin = *std::min_element(u.begin(), u.begin() + n), umax = *std::max_element(u.begin(), u.begin() + n);
    if (umin < -0.5 || umax > e.width - 0.5) ++seam;
    // Outline points lie on the box's edges when mapped back into the view.
    for (int i = 0; i < 4 * per_edge; ++i) {
      double x, y;
      ASSERT_TRUE(view_pixel(w, equirect_direction(e, u[i], v[i]), &x, &y));
      const double on_edge = std::min({std::fabs(x - x0), std::fabs(x - x1), std::fabs(y - y0), std::fabs(y - y1)});
      ASSERT_LT(on_edge, 1e-6);
    }
    // Points inside the box (1 px in from its edges) land inside the outline, or inside its
    // copy shifted by ±W (the caller's seam split).
    for (int s = 0; s < 50; ++s) {
      const double x = uni(rng, x0 + 1, x1 - 1), y = uni(rng, y0 + 1, y1 - 1);
      double pu, pv;
      view_to_equirect(w, e, x, y, &pu, &pv);
      const bool in = inside(u, v, n, pu, pv) || inside(u, v, n, pu + e.width, pv) || inside(u, v, n, pu - e.width, pv);
      ASSERT_TRUE(in) << "view " << w.yaw << "," << w.pitch << " box " << x0 << "," << y0 << " point " << x << "," << y;
    }
  }
  EXPECT_GT(seam, 10);
  EXPECT_GT(poles, 50);
}

TEST(Projection, RenderedViewSamplesTheRightPlace) {
  // A source whose every pixel says where it is (column in channel 0..1, row in channel 2):
  // each view pixel that lands exactly on a source pixel centre must read that pixel.
  const int W = 512, H = 256, C = 3;
  std::vector<uint8_t> src(static_cast<size_t>(W) * H * C);
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < W; ++i) {
      uint8_t* p = &src[(static_cast<size_t>(j) * W + i) * C];
      p[0] = static_cast<uint8_t>(i & 255);
      p[1] = static_cast<uint8_t>(i >> 8);
      p[2] = static_cast<uint8_t>(j);
    }
  // Axis through the centre of source pixel (500, 150), across the seam on the view's right.
  const View w{(500 + 0.5) / W * 2 * kPi - kPi, kPi / 2 - (150 + 0.5) / H * kPi, rad(75), rad(75), 101, 101};
  std::vector<uint8_t> out(static_cast<size_t>(w.width) * w.height * C);
  render_equirect_view(src.data(), W, H, C, W * C, w, out.data(), w.width * C);
  int checked = 0;
  for (int y = 0; y < w.height; ++y)
    for (int x = 0; x < w.width; ++x) {
      double u, v;
      view_to_equirect(w, Equirect{W, H}, x, y, &u, &v);
      const double ru = std::round(u), rv = std::round(v);
      const uint8_t* p = &out[(static_cast<size_t>(y) * w.width + x) * C];
      if (std::fabs(u - ru) < 1e-9 && std::fabs(v - rv) < 1e-9) {
        int wi, wj;
        equirect_wrap(W, H, static_cast<int>(ru), static_cast<int>(rv), &wi, &wj);
        EXPECT_EQ(p[0] + 256 * p[1], wi);
        EXPECT_EQ(p[2], wj);
        ++checked;
      }
      // Everywhere: the row read is within one of the true row (channel 2 interpolates rows only).
      EXPECT_LE(std::fabs(p[2] - v), 1.0 + 1e-9);
    }
  EXPECT_GE(checked, 1);  // at least the view's centre pixel lands on a source pixel centre
  EXPECT_THROW(render_equirect_view(src.data(), W + 1, H, C, (W + 1) * C, w, out.data(), w.width * C), std::invalid_argument);
}

}  // namespace
}  // namespace geoshard::projection
