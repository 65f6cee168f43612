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

// A random polygon around (cx, cy): a star of n vertices with radii in [rmin, rmax].
void random_polygon(std::mt19937_64& rng, double cx, double cy, double rmin, double rmax, int n, std::vector<double>& u,
                    std::vector<double>& v) {
  for (int k = 0; k < n; ++k) {
    const double a = 2 * M_PI * k / n, rad = std::uniform_real_distribution<double>(rmin, rmax)(rng);
    u.push_back(cx + rad * std::cos(a)), v.push_back(cy + rad * std::sin(a));
  }
}

// The GPU kernels' algorithm on the CPU (blur_region_elements: plan, box_element passes,
// cell_mean, covers) gives blur_region's bytes and count, in every mode, for regions inside,
// across and outside the image's edges, 1-4 channels, padded strides.
TEST(Blur, ElementPathEqualsBlurRegion) {
  std::mt19937_64 rng(21);
  for (int t = 0; t < 120; ++t) {
    const int W = 20 + static_cast<int>(rng() % 220), H = 20 + static_cast<int>(rng() % 160), C = 1 + static_cast<int>(rng() % 4);
    const int64_t stride = static_cast<int64_t>(W) * C + static_cast<int>(rng() % 3);
    std::vector<uint8_t> img(static_cast<size_t>(stride) * H);
    for (auto& b : img) b = static_cast<uint8_t>(rng());
    std::vector<double> u, v;
    random_polygon(rng, std::uniform_real_distribution<double>(-20, W + 20)(rng),
                   std::uniform_real_distribution<double>(-20, H + 20)(rng), 2, 70, 3 + static_cast<int>(rng() % 40), u, v);
    const int n = static_cast<int>(u.size());
    for (const auto mode : {blur::Mode::kGaussian, blur::Mode::kPixelate, blur::Mode::kSolid}) {
      RegionBlurOptions o;
      o.mode = mode;
      o.strength = std::uniform_real_distribution<double>(0.05, 0.5)(rng);
      o.pixel_cells = 1 + static_cast<int>(rng() % 12);
      o.solid[0] = 9, o.solid[1] = 8, o.solid[2] = 7, o.solid[3] = 6;
      std::vector<uint8_t> want = img, got = img;
      const uint64_t nw = blur_region(want.data(), W, H, C, stride, u.data(), v.data(), n, o);
      const RegionPlan p = plan_region(W, H, u.data(), v.data(), n, o);
      const uint64_t ng = blur_region_elements(img.data(), got.data(), W, H, C, stride, u.data(), v.data(), n, p, o);
      ASSERT_EQ(ng, nw) << "case " << t;
      ASSERT_EQ(got, want) << "case " << t << " mode " << static_cast<int>(mode);
    }
  }
}

// The GPU's schedule: waves of regions blurred at once (each reading the image as its wave found
// it) give the bytes of blurring them one after the other -- on batches of many overlapping
// regions (nested, chained, identical) of several images, with the seam copies the blur job adds.
TEST(Blur, WavesEqualRegionsInOrder) {
  std::mt19937_64 rng(22);
  int max_waves = 0, shared_waves = 0;
  for (int t = 0; t < 60; ++t) {
    const int n_images = 1 + static_cast<int>(rng() % 3);
    std::vector<std::vector<uint8_t>> want(n_images), got(n_images);
    std::vector<ImageBuffer> wi, gi;
    for (int i = 0; i < n_images; ++i) {
      const int W = 40 + static_cast<int>(rng() % 160), H = 30 + static_cast<int>(rng() % 120), C = 1 + static_cast<int>(rng() % 4);
      want[i].resize(static_cast<size_t>(W) * H * C);
      for (auto& b : want[i]) b = static_cast<uint8_t>(rng());
      got[i] = want[i];
      wi.push_back(ImageBuffer{want[i].data(), W, H, C, static_cast<int64_t>(W) * C});
      gi.push_back(ImageBuffer{got[i].data(), W, H, C, static_cast<int64_t>(W) * C});
    }
    std::vector<double> u, v;
    std::vector<RegionRequest> regions;
    const int n_regions = 1 + static_cast<int>(rng() % 25);
    for (int k = 0; k < n_regions; ++k) {
      const uint32_t i = static_cast<uint32_t>(rng() % n_images);
      const uint32_t first = static_cast<uint32_t>(u.size());
      if (k > 0 && rng() % 6 == 0) {  // the same polygon again, or shifted by the image's width
        const RegionRequest& prev = regions[rng() % regions.size()];
        const double shift = rng() % 2 ? 0.0 : wi[prev.image].width * (rng() % 2 ? 1.0 : -1.0);
        for (int q = 0; q < prev.n; ++q) u.push_back(u[prev.first + q] + shift), v.push_back(v[prev.first + q]);
        regions.push_back(RegionRequest{prev.image, first, prev.n});
        continue;
      }
      random_polygon(rng, std::uniform_real_distribution<double>(-10, wi[i].width + 10)(rng),
                     std::uniform_real_distribution<double>(-10, wi[i].height + 10)(rng), 2, 35,
                     3 + static_cast<int>(rng() % 20), u, v);
      regions.push_back(RegionRequest{i, first, static_cast<int>(u.size() - first)});
    }
    RegionBlurOptions o;
    o.mode = static_cast<blur::Mode>(t % 3);
    o.pixel_cells = 1 + static_cast<int>(rng() % 8);
    o.solid[0] = 50, o.solid[1] = 60, o.solid[2] = 70, o.solid[3] = 80;
    const uint64_t nw = blur_regions(wi, u, v, regions, o);
    const uint64_t ng = blur_regions_in_waves(gi, u, v, regions, o);
    ASSERT_EQ(ng, nw) << "case " << t;
    for (int i = 0; i < n_images; ++i) ASSERT_EQ(got[i], want[i]) << "case " << t << " image " << i;
    std::vector<RegionPlan> plans;
    for (const auto& r : regions)
      plans.push_back(plan_region(wi[r.image].width, wi[r.image].height, &u[r.first], &v[r.first], r.n, o));
    const auto wave = region_waves(regions, plans);
    max_waves = std::max(max_waves, *std::max_element(wave.begin(), wave.end()) + 1);
    for (size_t a = 0; a < wave.size(); ++a)
      for (size_t b = a + 1; b < wave.size(); ++b) shared_waves += !plans[a].empty() && !plans[b].empty() && wave[a] == wave[b];
  }
  EXPECT_GE(max_waves, 4);       // overlapping regions were serialised...
  EXPECT_GT(shared_waves, 100);  // ...and independent ones ran together
}

// A later region writing into the window of an earlier one that had to wait (Z, then A reading
// Z's pixels, then a small k writing inside A's window): k must not run before A reads.
TEST(Blur, WavesKeepALaterWriteAfterAnEarlierRead) {
  const int W = 150, H = 150;
  std::vector<uint8_t> want(W * H), got;
  std::mt19937_64 rng(23);
  for (auto& b : want) b = static_cast<uint8_t>(rng());
  got = want;
  const std::vector<double> u = {110, 116, 116, 110, 50, 100, 100, 50, 20, 26, 26, 20};
  const std::vector<double> v = {60, 60, 66, 66, 50, 50, 100, 100, 70, 70, 76, 76};
  const std::vector<RegionRequest> regions = {{0, 0, 4}, {0, 4, 4}, {0, 8, 4}};  // Z, A, k
  const RegionBlurOptions o;  // gaussian: A's window reaches k (x 13 .. 137), k's does not reach A's box
  std::vector<RegionPlan> plans;
  for (const auto& r : regions) plans.push_back(plan_region(W, H, &u[r.first], &v[r.first], r.n, o));
  ASSERT_LE(plans[1].wx0, plans[2].x1);  // the case is what it says
  ASSERT_GT(plans[1].x0, plans[2].wx1);
  ASSERT_GE(plans[1].wx1, plans[0].x0);
  ASSERT_GT(plans[0].x0, plans[2].wx1);  // Z and k never meet
  EXPECT_EQ(region_waves(regions, plans), (std::vector<int>{0, 1, 1}));
  const std::vector<ImageBuffer> wi = {{want.data(), W, H, 1, W}}, gi = {{got.data(), W, H, 1, W}};
  EXPECT_EQ(blur_regions_in_waves(gi, u, v, regions, o), blur_regions(wi, u, v, regions, o));
  EXPECT_EQ(got, want);
}

TEST(Blur, RegionBatchErrorsComeBeforeAnyPixel) {
  std::vector<uint8_t> img(30 * 20 * 3, 7);
  const std::vector<uint8_t> before = img;
  const std::vector<ImageBuffer> images = {{img.data(), 30, 20, 3, 90}};
  const std::vector<double> u = {1, 10, 10, 1}, v = {1, 1, 10, 10};
  RegionBlurOptions o;
  o.mode = blur::Mode::kSolid;
  std::vector<RegionRequest> ok = {{0, 0, 4}};
  auto expect_refused = [&](std::vector<RegionRequest> r, const char* what) {
    EXPECT_ANY_THROW(blur_regions(images, u, v, r, o)) << what;
    EXPECT_ANY_THROW(blur_regions_in_waves(images, u, v, r, o)) << what;
    EXPECT_EQ(img, before) << what;
  };
  expect_refused({{0, 0, 4}, {1, 0, 4}}, "image index out of range");
  expect_refused({{0, 0, 4}, {0, 0, 2}}, "two vertices");
  expect_refused({{0, 0, 4}, {0, 2, 4}}, "vertices past the end");
  const std::vector<double> v3 = {1, 1, 10};
  EXPECT_THROW(blur_regions(images, u, v3, ok, o), std::invalid_argument);
  EXPECT_EQ(blur_regions(images, u, v, ok, o), 81u);  // centres 1..9 x 1..9 (the far edges x = 10, y = 10 are out)
}

}  // namespace
}  // namespace geoshard
