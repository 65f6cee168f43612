// kernels/blur.h + blur_region: nothing outside a region changes, every covered pixel does what
// its mode says, the CPU running sums equal the per-element box passes the GPU runs (bytes), and
// the gaussian leaves no recoverable detail (variance of the Laplacian, also after sharpening).
#include "kernels/blur.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/batch.h"

namespace geoshard {
namespace {

std::vector<uint8_t> noise_image(int W, int H, int C, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> img(static_cast<size_t>(W) * H * C);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < C; ++c)  // fine stripes (text-like detail) plus noise
        img[(static_cast<size_t>(y) * W + x) * C + c] =
            static_cast<uint8_t>(((x / 2 + y / 3) % 2) * 120 + rng() % 100 + 20 * c);
  return img;
}

// The GPU's way: every output element from blur::box_element over the previous pass.
std::vector<uint8_t> reference_gaussian(const std::vector<uint8_t>& img, int W, int H, int C, const double* u,
                                        const double* v, int n, double strength) {
  double umin = u[0], umax = u[0], vmin = v[0], vmax = v[0];
  for (int k = 1; k < n; ++k) umin = std::min(umin, u[k]), umax = std::max(umax, u[k]), vmin = std::min(vmin, v[k]), vmax = std::max(vmax, v[k]);
  const int x0 = std::max(0, (int)std::ceil(umin)), x1 = std::min(W - 1, (int)std::floor(umax));
  const int y0 = std::max(0, (int)std::ceil(vmin)), y1 = std::min(H - 1, (int)std::floor(vmax));
  int r[3];
  blur::box_radii(blur::gaussian_sigma(umax - umin, vmax - vmin, strength), r);
  const int g = r[0] + r[1] + r[2];
  const int wx0 = std::max(0, x0 - g), wx1 = std::min(W - 1, x1 + g), wy0 = std::max(0, y0 - g), wy1 = std::min(H - 1, y1 + g);
  const int ww = wx1 - wx0 + 1, wh = wy1 - wy0 + 1;
  std::vector<uint8_t> a(static_cast<size_t>(ww) * wh * C), b(a.size());
  for (int y = 0; y < wh; ++y)
    for (int x = 0; x < ww * C; ++x) a[static_cast<size_t>(y) * ww * C + x] = img[(static_cast<size_t>(y + wy0) * W + wx0) * C + x];
  for (int axis = 0; axis < 2; ++axis)
    for (int k = 0; k < 3; ++k) {
      for (int y = 0; y < wh; ++y)
        for (int x = 0; x < ww; ++x)
          for (int c = 0; c < C; ++c) {
            const size_t i = (static_cast<size_t>(y) * ww + x) * C + c;
            b[i] = axis == 0 ? blur::box_element(&a[i], C, x, r[k], 0, ww - 1)
                             : blur::box_element(&a[i], static_cast<int64_t>(ww) * C, y, r[k], 0, wh - 1);
          }
      a.swap(b);
    }
  std::vector<uint8_t> out = img;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x)
      if (blur::covers(u, v, n, x, y))
        for (int c = 0; c < C; ++c)
          out[(static_cast<size_t>(y) * W + x) * C + c] = a[(static_cast<size_t>(y - wy0) * ww + (x - wx0)) * C + c];
  return out;
}

TEST(Blur, RunningSumsEqualPerElementPassesAndNothingOutsideChanges) {
  std::mt19937_64 rng(3);
  for (int t = 0; t < 60; ++t) {
    const int W = 40 + static_cast<int>(rng() % 200), H = 30 + static_cast<int>(rng() % 150), C = 1 + static_cast<int>(rng() % 3);
    const std::vector<uint8_t> img = noise_image(W, H, C, t);
    // A random polygon, sometimes past the image's edges.
    const double cx = std::uniform_real_distribution<double>(-10, W + 10)(rng), cy = std::uniform_real_distribution<double>(-10, H + 10)(rng);
    const int n = 3 + static_cast<int>(rng() % 30);
    std::vector<double> u(n), v(n);
    for (int k = 0; k < n; ++k) {
      const double a = 2 * M_PI * k / n, rad = std::uniform_real_distribution<double>(3, 60)(rng);
      u[k] = cx + rad * std::cos(a), v[k] = cy + rad * std::sin(a);
    }
    for (const auto mode : {blur::Mode::kGaussian, blur::Mode::kPixelate, blur::Mode::kSolid}) {
      std::vector<uint8_t> out = img;
      RegionBlurOptions o;
      o.mode = mode;
      o.solid[0] = 1, o.solid[1] = 2, o.solid[2] = 3;
      const uint64_t written = blur_region(out.data(), W, H, C, static_cast<int64_t>(W) * C, u.data(), v.data(), n, o);
      uint64_t covered = 0;
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const bool in = blur::covers(u.data(), v.data(), n, x, y);
          covered += in;
          for (int c = 0; c < C; ++c) {
            const size_t i = (static_cast<size_t>(y) * W + x) * C + c;
            if (!in) {
              ASSERT_EQ(out[i], img[i]) << "pixel outside the region changed";
            }
            if (in && mode == blur::Mode::kSolid) {
              ASSERT_EQ(out[i], o.solid[c]);
            }
          }
        }
      ASSERT_EQ(written, covered);
      if (mode == blur::Mode::kGaussian) {
        ASSERT_EQ(out, reference_gaussian(img, W, H, C, u.data(), v.data(), n, o.strength)) << "case " << t;
      }
    }
  }
}

// Variance of the 4-neighbour Laplacian over the pixels of `mask` (interior, 1 px in).
double laplacian_variance(const std::vector<uint8_t>& img, int W, const std::vector<char>& mask, int H) {
  double s = 0, s2 = 0;
  uint64_t n = 0;
  for (int y = 1; y + 1 < H; ++y)
    for (int x = 1; x + 1 < W; ++x) {
      auto m = [&](int xx, int yy) { return mask[static_cast<size_t>(yy) * W + xx]; };
      if (!m(x, y) || !m(x - 1, y) || !m(x + 1, y) || !m(x, y - 1) || !m(x, y + 1)) continue;
      auto p = [&](int xx, int yy) { return static_cast<double>(img[static_cast<size_t>(yy) * W + xx]); };
      const double l = p(x - 1, y) + p(x + 1, y) + p(x, y - 1) + p(x, y + 1) - 4 * p(x, y);
      s += l, s2 += l * l, ++n;
    }
  return s2 / n - (s / n) * (s / n);
}

TEST(Blur, GaussianLeavesNoRecoverableDetail) {
  const int W = 300, H = 240;
  const std::vector<uint8_t> img = noise_image(W, H, 1, 9);
  double u[64], v[64];
  blur::ellipse_polygon(100, 60, 180, 160, 64, u, v);  // a face-sized ellipse, 80 x 100
  std::vector<uint8_t> out = img;
  blur_region(out.data(), W, H, 1, W, u, v, 64, RegionBlurOptions{});
  std::vector<char> mask(static_cast<size_t>(W) * H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) mask[static_cast<size_t>(y) * W + x] = blur::covers(u, v, 64, x, y);
  const double before = laplacian_variance(img, W, mask, H), after = laplacian_variance(out, W, mask, H);
  // Sharpening (unsharp mask, amount 4, 3x3 box) does not bring the detail back.
  std::vector<uint8_t> sharp = out;
  for (int y = 1; y + 1 < H; ++y)
    for (int x = 1; x + 1 < W; ++x) {
      double box = 0;
      for (int j = -1; j <= 1; ++j)
        for (int i = -1; i <= 1; ++i) box += out[static_cast<size_t>(y + j) * W + x + i];
      const double p = out[static_cast<size_t>(y) * W + x];
      sharp[static_cast<size_t>(y) * W + x] = static_cast<uint8_t>(std::clamp(p + 4 * (p - box / 9), 0.0, 255.0));
    }
  const double sharpened = laplacian_variance(sharp, W, mask, H);
  EXPECT_GT(before, 1000);
  EXPECT_LT(after / before, 0.01) << before << " -> " << after;
  EXPECT_LT(sharpened / before, 0.05) << before << " -> sharpened " << sharpened;
}

TEST(Blur, PixelateCellsAreFlatAndEllipseMatchesItsEquation) {
  const int W = 200, H = 160;
  const std::vector<uint8_t> img = noise_image(W, H, 3, 4);
  double u[256], v[256];
  blur::ellipse_polygon(40, 30, 160, 130, 256, u, v);
  std::vector<uint8_t> out = img;
  RegionBlurOptions o;
  o.mode = blur::Mode::kPixelate;
  o.pixel_cells = 10;  // cells of ceil(100/10) = 10 px
  blur_region(out.data(), W, H, 3, W * 3, u, v, 256, o);
  int disagree = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const double ex = (x - 100.0) / 60, ey = (y - 80.0) / 50;
      const bool eq = ex * ex + ey * ey < 1, in = blur::covers(u, v, 256, x, y);
      if (std::fabs(ex * ex + ey * ey - 1) > 0.02) disagree += eq != in;
      if (!in) continue;
      // Cells start at the region's first covered column/row (ceil of the box): x0 = 40, y0 = 30.
      const int cx = 40 + (x - 40) / 10 * 10, cy = 30 + (y - 30) / 10 * 10;
      if (blur::covers(u, v, 256, cx, cy)) {
        for (int c = 0; c < 3; ++c) {
          ASSERT_EQ(out[(static_cast<size_t>(y) * W + x) * 3 + c], out[(static_cast<size_t>(cy) * W + cx) * 3 + c]);
        }
      }
    }
  EXPECT_EQ(disagree, 0);
  EXPECT_THROW(blur_region(out.data(), W, H, 3, W * 3, u, v, 2, o), std::invalid_argument);
  // A region wholly outside the image writes nothing.
  const double fu[3] = {-50, -40, -45}, fv[3] = {10, 10, 20};
  EXPECT_EQ(blur_region(out.data(), W, H, 3, W * 3, fu, fv, 3, o), 0u);
}

}  // namespace
}  // namespace geoshard
