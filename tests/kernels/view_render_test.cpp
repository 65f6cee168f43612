// render_equirect_view's tiles (kernels/projection.h, "Fast view rendering"): over many random
// views -- any yaw, zenith and nadir, across the seam, narrow to wide and non-square fields of
// view, 1 px to 700 px views, equirects from 8 x 4 to 65536 x 32768 -- every sample position is
// within kViewPositionErrorBound of the exact coordinates; the CPU loop (incremental sums, SSE2)
// gives the bytes of the per-pixel element functions a GPU runs; and the rendered views stay
// within 1 level of the exact per-pixel renderer on images smooth enough for that to follow
// from the position bound.
// The GPU path's plan (flat tiles + exact pixels) rendered per pixel gives the same bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/batch.h"
#include "kernels/projection.h"

namespace geoshard::projection {
namespace {

double uni(std::mt19937_64& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
int uni_int(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

// A random view: pitch exactly at a pole 1 in 8, near one 1 in 8, yaw often on the seam.
View random_view(std::mt19937_64& rng, int max_side) {
  double pitch;
  switch (uni_int(rng, 0, 7)) {
    case 0: pitch = uni_int(rng, 0, 1) ? kPi / 2 : -kPi / 2; break;
    case 1: pitch = (uni_int(rng, 0, 1) ? 1 : -1) * uni(rng, rad(70), kPi / 2); break;
    default: pitch = uni(rng, -kPi / 2, kPi / 2);
  }
  const double yaw = uni_int(rng, 0, 3) == 0 ? (uni_int(rng, 0, 1) ? kPi : -kPi) + uni(rng, -0.3, 0.3)
                                             : uni(rng, -kPi, kPi);
  const double hfov = rad(uni(rng, 10, 140)), vfov = uni_int(rng, 0, 1) ? hfov : rad(uni(rng, 10, 140));
  const int w = uni_int(rng, 0, 9) == 0 ? uni_int(rng, 1, 5) : uni_int(rng, 1, max_side);
  const int h = uni_int(rng, 0, 1) ? w : uni_int(rng, 1, max_side);
  return View{yaw, pitch, hfov, vfov, w, h};
}

int random_equirect_width(std::mt19937_64& rng) {
  switch (uni_int(rng, 0, 5)) {
    case 0: return 2 * uni_int(rng, 4, 32);      // tiny: 8 .. 64
    case 1: return 65536;                        // huge
    case 2: return 2 * uni_int(rng, 2048, 8192);  // 4K .. 16K
    default: return 2 * uni_int(rng, 32, 2048);
  }
}

struct Coverage {
  int64_t views = 0, pixels = 0, exact_pixels = 0, seam_pixels = 0, pole_views = 0;
  int64_t tiles[kViewTileShift + 1] = {};
};

// Checks every pixel of one view; returns false (with a message) at the first one out of bounds.
::testing::AssertionResult positions_within_bound(const View& w, int W, int H, Coverage* cov) {
  std::vector<int64_t> qu(static_cast<size_t>(w.width) * w.height), qv(qu.size());
  const ViewTilingStats st = equirect_view_positions(W, H, w, qu.data(), qv.data());
  if (st.interpolated_pixels + st.exact_pixels != static_cast<int64_t>(qu.size()))
    return ::testing::AssertionFailure() << "pixels not all covered";
  const Equirect e{W, H};
  const ViewFrame f = view_frame(w);
  // The rounding of the exact double math itself: ~1e-16 relative to 2π, in pixels.
  const double eps = 1e-9 * std::max(W, 1024);
  for (int y = 0; y < w.height; ++y)
    for (int x = 0; x < w.width; ++x) {
      double u, v;
      equirect_pixel(e, frame_ray(f, x, y), &u, &v);  // libm's atan2: the reference
      const size_t i = static_cast<size_t>(y) * w.width + x;
      const double su = static_cast<double>(qu[i]) / kViewSampleOne, sv = static_cast<double>(qv[i]) / kViewSampleOne;
      const double du = std::remainder(su - u, W), dv = sv - v;
      if (!(std::fabs(du) <= kViewPositionErrorBound + eps && std::fabs(dv) <= kViewPositionErrorBound + eps))
        return ::testing::AssertionFailure()
               << "view yaw " << w.yaw << " pitch " << w.pitch << " fov " << w.hfov << "x" << w.vfov << " size "
               << w.width << "x" << w.height << " W " << W << ": pixel (" << x << ", " << y << ") samples (" << su
               << ", " << sv << "), exact (" << u << ", " << v << ")";
      if (su < -0.5 || su >= W - 0.5) ++cov->seam_pixels;
    }
  ++cov->views;
  cov->pixels += static_cast<int64_t>(qu.size());
  cov->exact_pixels += st.exact_pixels;
  for (int s = 0; s <= kViewTileShift; ++s) cov->tiles[s] += st.interpolated_tiles[s];
  double px, py;
  if (view_pixel(w, Vec3{0, 1, 0}, &px, &py) || view_pixel(w, Vec3{0, -1, 0}, &px, &py))
    if (px >= -0.5 && px <= w.width - 0.5 && py >= -0.5 && py <= w.height - 0.5) ++cov->pole_views;
  return ::testing::AssertionSuccess();
}

TEST(ViewRender, SamplePositionsWithinTheBoundOverRandomViews) {
  std::mt19937_64 rng(11);
  Coverage cov;
  for (int k = 0; k < 1500; ++k) {
    const int W = random_equirect_width(rng);
    const View w = random_view(rng, 160);
    ASSERT_TRUE(positions_within_bound(w, W, W / 2, &cov)) << "case " << k;
  }
  // A few full-size views as the chain renders them (75°, the source's resolution), at the poles,
  // on the seam and in between.
  const Equirect e{5760, 2880};
  std::vector<View> views(33);
  ASSERT_EQ(equirect_views(e, rad(75), rad(15), views.data(), 33), 33);
  for (int k : {0, 9, 21, 27, 31, 32}) ASSERT_TRUE(positions_within_bound(views[k], e.width, e.height, &cov));
  ASSERT_TRUE(positions_within_bound(View{kPi, 0.1, rad(90), rad(60), 700, 467}, 8192, 4096, &cov));
  // The property was exercised where it matters: all tile sizes, the exact path, the seam, poles.
  EXPECT_GE(cov.pixels, 5000000);
  for (int s = 1; s <= kViewTileShift; ++s) EXPECT_GT(cov.tiles[s], 1000) << "tiles of " << (1 << s) << " px";
  EXPECT_GT(cov.exact_pixels, 100000);
  EXPECT_GT(cov.seam_pixels, 20000);
  EXPECT_GT(cov.pole_views, 100);
}

// The position the CPU renderer samples at is what a GPU kernel computes per pixel
// (view_tile_position / view_position_exact, then sample_bilinear_fixed): identical bytes, any
// channel count, padded strides, views reading the image's last columns and rows.
TEST(ViewRender, CpuLoopGivesTheElementFunctionsBytes) {
  std::mt19937_64 rng(12);
  for (int k = 0; k < 300; ++k) {
    const int W = 2 * uni_int(rng, 4, 400), H = W / 2, C = uni_int(rng, 1, 5);
    const int64_t stride = static_cast<int64_t>(W) * C + (k % 3 == 0 ? uni_int(rng, 1, 7) : 0);
    std::vector<uint8_t> src(static_cast<size_t>(stride) * H);
    for (auto& b : src) b = static_cast<uint8_t>(rng());
    View w = random_view(rng, 120);
    if (k % 5 == 0) w.yaw = kPi - 0.5 * w.hfov, w.pitch = 0;  // the right edge column on the view's left
    const int64_t out_stride = static_cast<int64_t>(w.width) * C + (k % 2);
    std::vector<uint8_t> out(static_cast<size_t>(out_stride) * w.height, 0xAB);
    render_equirect_view(src.data(), W, H, C, stride, w, out.data(), out_stride);
    std::vector<int64_t> qu(static_cast<size_t>(w.width) * w.height), qv(qu.size());
    equirect_view_positions(W, H, w, qu.data(), qv.data());
    for (int y = 0; y < w.height; ++y)
      for (int x = 0; x < w.width; ++x) {
        uint8_t want[5];
        const size_t i = static_cast<size_t>(y) * w.width + x;
        sample_bilinear_fixed(src.data(), W, H, C, stride, qu[i], qv[i], want);
        for (int c = 0; c < C; ++c)
          ASSERT_EQ(out[y * out_stride + static_cast<int64_t>(x) * C + c], want[c])
              << "case " << k << " pixel " << x << "," << y << " channel " << c;
      }
    if (k % 2) {  // the padding byte after each row is not written
      for (int y = 0; y < w.height; ++y) ASSERT_EQ(out[y * out_stride + out_stride - 1], 0xAB);
    }
  }
  // The element function of a tile is the position + sampler pair, for the tile's own pixels.
  const int W = 64, H = 32;
  std::vector<uint8_t> src(W * H * 3);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7);
  const View w{0.3, 0.2, rad(60), rad(60), 16, 16};
  const ViewRays r = view_rays(w);
  double cu[4], cv[4];
  for (int c = 0; c < 4; ++c) frame_to_equirect(r.frame, Equirect{W, H}, (c & 1) * 16, (c >> 1) * 16, &cu[c], &cv[c]);
  const ViewTile t = make_view_tile(Equirect{W, H}, 0, 0, 4, cu, cv);
  uint8_t a[3], b[3];
  view_tile_pixel_element(src.data(), W, H, 3, W * 3, t, 5, 9, a);
  int64_t qu, qv;
  view_tile_position(t, 5, 9, &qu, &qv);
  sample_bilinear_fixed(src.data(), W, H, 3, W * 3, qu, qv, b);
  EXPECT_EQ(std::vector<uint8_t>(a, a + 3), std::vector<uint8_t>(b, b + 3));
}

// The GPU path's algorithm on the CPU: the plan (tiles + exact pixels, as flat lists) rendered
// with the element functions alone gives render_equirect_view's bytes; the plan covers every
// pixel exactly once; the batch (many views of several images) equals one call per view; bad
// requests are refused before anything is written.
TEST(ViewRender, PlanRenderedPerPixelGivesTheSameBytes) {
  std::mt19937_64 rng(16);
  int64_t exact = 0, tiles = 0;
  for (int k = 0; k < 300; ++k) {
    const int W = k % 25 == 0 ? 2 * uni_int(rng, 1024, 2048) : 2 * uni_int(rng, 4, 400), H = W / 2;
    const int C = uni_int(rng, 1, 5);
    const int64_t stride = static_cast<int64_t>(W) * C + (k % 3 == 0 ? uni_int(rng, 1, 7) : 0);
    std::vector<uint8_t> src(static_cast<size_t>(stride) * H);
    for (auto& b : src) b = static_cast<uint8_t>(rng());
    const View w = random_view(rng, 120);
    const int64_t out_stride = static_cast<int64_t>(w.width) * C + (k % 2);
    std::vector<uint8_t> want(static_cast<size_t>(out_stride) * w.height, 0xAB), got(want);
    render_equirect_view(src.data(), W, H, C, stride, w, want.data(), out_stride);
    const ViewPlan plan = plan_equirect_view(W, H, w);
    std::vector<int> hits(static_cast<size_t>(w.width) * w.height, 0);
    for (const PlannedTile& t : plan.tiles)
      for (int b = 0; b < t.rows; ++b)
        for (int a = 0; a < t.cols; ++a) ++hits[static_cast<size_t>(t.tile.y0 + b) * w.width + t.tile.x0 + a];
    for (const ExactPixel& e : plan.exact) ++hits[static_cast<size_t>(e.y) * w.width + e.x];
    ASSERT_TRUE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; })) << "case " << k;
    EXPECT_EQ(plan.stats.exact_pixels, static_cast<int64_t>(plan.exact.size()));
    render_view_plan(src.data(), W, H, C, stride, plan, w, got.data(), out_stride);
    ASSERT_EQ(got, want) << "case " << k << ": W " << W << " C " << C << " view " << w.width << "x" << w.height;
    exact += static_cast<int64_t>(plan.exact.size());
    tiles += static_cast<int64_t>(plan.tiles.size());
  }
  EXPECT_GT(exact, 1000);  // both halves of the plan were exercised
  EXPECT_GT(tiles, 1000);

  // The batch: 3 images, 12 views in mixed order, against one render_equirect_view per view.
  std::vector<std::vector<uint8_t>> imgs;
  std::vector<ImageRef> refs;
  for (int i = 0; i < 3; ++i) {
    const int W = 2 * uni_int(rng, 50, 300), C = i == 2 ? 1 : 3;
    imgs.emplace_back(static_cast<size_t>(W) * C * (W / 2));
    for (auto& b : imgs.back()) b = static_cast<uint8_t>(rng());
    refs.push_back(ImageRef{imgs.back().data(), W, W / 2, C, static_cast<int64_t>(W) * C});
  }
  std::vector<std::pair<uint32_t, View>> asked;
  for (int k = 0; k < 12; ++k) asked.emplace_back(static_cast<uint32_t>(uni_int(rng, 0, 2)), random_view(rng, 90));
  std::vector<std::vector<uint8_t>> outs, wants;
  for (const auto& [i, w] : asked) {
    const int64_t os = static_cast<int64_t>(w.width) * refs[i].channels;
    outs.emplace_back(static_cast<size_t>(os) * w.height, 0);
    wants.emplace_back(outs.back().size(), 0);
    render_equirect_view(refs[i].pixels, refs[i].width, refs[i].height, refs[i].channels, refs[i].stride, w,
                         wants.back().data(), os);
  }
  std::vector<ViewRequest> req;
  for (size_t k = 0; k < asked.size(); ++k) {
    const auto& [i, w] = asked[k];
    req.push_back(ViewRequest{i, w, outs[k].data(), static_cast<int64_t>(w.width) * refs[i].channels});
  }
  render_equirect_views(refs, req);
  for (size_t k = 0; k < req.size(); ++k) ASSERT_EQ(outs[k], wants[k]) << "view " << k;

  // Bad requests: refused before any output is written, naming the request.
  for (auto& o : outs) std::fill(o.begin(), o.end(), 0);
  auto bad = req;
  bad[7].image = 3;
  EXPECT_THROW(render_equirect_views(refs, bad), std::out_of_range);
  bad = req;
  bad[5].out_stride = 1;
  try {
    render_equirect_views(refs, bad);
    ADD_FAILURE() << "a too-small output stride was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("view 5"), std::string::npos) << e.what();
  }
  for (const auto& o : outs) ASSERT_TRUE(std::all_of(o.begin(), o.end(), [](uint8_t b) { return b == 0; }));
  EXPECT_NO_THROW(render_equirect_views(refs, std::span<const ViewRequest>()));
}

// An equirect of a smooth function on the sphere (continuous across the seam and the poles):
// sums of sinusoids of the direction, scaled so neighbouring pixels differ by at most `max_step`.
std::vector<uint8_t> smooth_sphere_image(std::mt19937_64& rng, int W, int H, int C, double cycles) {
  std::vector<uint8_t> img(static_cast<size_t>(W) * H * C);
  const Equirect e{W, H};
  struct Wave {
    Vec3 n;
    double freq, phase, amp;
  };
  std::vector<Wave> waves[5];
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < 3; ++k) {
      Vec3 n{uni(rng, -1, 1), uni(rng, -1, 1), uni(rng, -1, 1)};
      const double l = std::sqrt(dot(n, n));
      waves[c].push_back(Wave{{n.x / l, n.y / l, n.z / l}, cycles * uni(rng, 0.5, 1.0), uni(rng, 0, 2 * kPi), 40});
    }
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < W; ++i) {
      const Vec3 d = equirect_direction(e, i, j);
      for (int c = 0; c < C; ++c) {
        double s = 127.5;
        for (const Wave& wv : waves[c]) s += wv.amp * std::sin(wv.freq * dot(wv.n, d) + wv.phase);
        img[(static_cast<size_t>(j) * W + i) * C + c] = static_cast<uint8_t>(std::lround(s));
      }
    }
  return img;
}

// Largest difference between the pixels of a 2 x 2 footprint anywhere (across the seam and the poles).
int max_neighbour_step(const std::vector<uint8_t>& img, int W, int H, int C) {
  int worst = 0;
  for (int j = -1; j < H; ++j)
    for (int i = 0; i < W; ++i)
      for (int c = 0; c < C; ++c) {
        int lo = 255, hi = 0;
        for (int q = 0; q < 4; ++q) {
          int wi, wj;
          equirect_wrap(W, H, i + (q & 1), j + (q >> 1), &wi, &wj);
          const int p = img[(static_cast<size_t>(wj) * W + wi) * C + c];
          lo = std::min(lo, p), hi = std::max(hi, p);
        }
        worst = std::max(worst, hi - lo);
      }
  return worst;
}

// Where a 2 x 2 footprint's pixels differ by at most 14 levels, moving the sample position by
// up to kViewPositionErrorBound (< 0.036 px) in u and in v moves the bilinear surface by less
// than 14 * 2 * 0.036 < 1 level: the render and the exact render round to within 1 level.
TEST(ViewRender, WithinOneLevelOfTheExactRenderOnSmoothImages) {
  std::mt19937_64 rng(13);
  int64_t pixels = 0, differing = 0;
  for (int k = 0; k < 40; ++k) {
    const int W = 2 * uni_int(rng, 32, 320), H = W / 2, C = k % 4 == 0 ? 1 : 3;
    // Steps of ~5 levels per pixel (checked below): 3 waves of amplitude 40, frequency <= W/150.
    const std::vector<uint8_t> src = smooth_sphere_image(rng, W, H, C, W / 150.0);
    ASSERT_LE(max_neighbour_step(src, W, H, C), 14) << "the test image is too sharp for the claim";
    const View w = random_view(rng, 200);
    std::vector<uint8_t> fast(static_cast<size_t>(w.width) * w.height * C), exact(fast.size());
    render_equirect_view(src.data(), W, H, C, static_cast<int64_t>(W) * C, w, fast.data(), w.width * C);
    render_equirect_view_exact(src.data(), W, H, C, static_cast<int64_t>(W) * C, w, exact.data(), w.width * C);
    for (size_t i = 0; i < fast.size(); ++i) {
      ASSERT_LE(std::abs(fast[i] - exact[i]), 1) << "case " << k << " view yaw " << w.yaw << " pitch " << w.pitch
                                                  << " size " << w.width << "x" << w.height << " at byte " << i;
      differing += fast[i] != exact[i];
    }
    pixels += static_cast<int64_t>(fast.size());
  }
  EXPECT_GT(pixels, 1000000);
  EXPECT_LT(differing, pixels / 10);  // mostly identical: the difference is rounding, not a shift
}

TEST(ViewRender, BoundIsInfiniteOnlyAroundAPoleAndShrinksWithTheTile) {
  const Equirect e{4096, 2048};
  // A zenith view: the tile holding the view's centre holds the pole.
  const View up{0, kPi / 2, rad(90), rad(90), 256, 256};
  const ViewRays r = view_rays(up);
  EXPECT_GE(view_tile_error_bound(r, e, 120, 120, 16), 1e300);
  EXPECT_LT(view_tile_error_bound(r, e, 0, 0, 16), 1e300);
  // A level view: finite everywhere, and a quarter for half the side (same derivative bounds or less).
  const View level{1.0, 0, rad(90), rad(90), 256, 256};
  const ViewRays rl = view_rays(level);
  for (int y = 0; y < 256; y += 16)
    for (int x = 0; x < 256; x += 16) {
      const double b16 = view_tile_error_bound(rl, e, x, y, 16), b8 = view_tile_error_bound(rl, e, x, y, 8);
      ASSERT_LT(b16, 1e300);
      ASSERT_LE(b8, b16 / 4 * (1 + 1e-12));
    }
  // The bound is an upper bound: the real error of interpolating the corners, everywhere inside.
  std::mt19937_64 rng(14);
  for (int k = 0; k < 20000; ++k) {
    const View w = random_view(rng, 500);
    const ViewRays rw = view_rays(w);
    const int side = 1 << uni_int(rng, 1, 5);
    const double x0 = uni_int(rng, 0, w.width), y0 = uni_int(rng, 0, w.height);
    const double bound = view_tile_error_bound(rw, e, x0, y0, side);
    if (bound >= 1e300) continue;
    double cu[4], cv[4];
    for (int c = 0; c < 4; ++c) frame_to_equirect(rw.frame, e, x0 + (c & 1) * side, y0 + (c >> 1) * side, &cu[c], &cv[c]);
    for (int c = 1; c < 4; ++c) cu[c] += std::remainder(cu[c] - cu[0], e.width) - (cu[c] - cu[0]);
    for (int s = 0; s < 8; ++s) {
      const double a = uni(rng, 0, 1), b = uni(rng, 0, 1);
      double u, v;
      frame_to_equirect(rw.frame, e, x0 + a * side, y0 + b * side, &u, &v);
      const double iu = cu[0] * (1 - a) * (1 - b) + cu[1] * a * (1 - b) + cu[2] * (1 - a) * b + cu[3] * a * b;
      const double iv = cv[0] * (1 - a) * (1 - b) + cv[1] * a * (1 - b) + cv[2] * (1 - a) * b + cv[3] * a * b;
      ASSERT_LE(std::fabs(std::remainder(iu - u, e.width)), bound * (1 + 1e-9) + 1e-9) << "case " << k;
      ASSERT_LE(std::fabs(iv - v), bound * (1 + 1e-9) + 1e-9) << "case " << k;
    }
  }
}

TEST(ViewRender, PolynomialAtan2MatchesLibm) {
  std::mt19937_64 rng(15);
  double worst = 0;
  for (int k = 0; k < 1000000; ++k) {
    double y = uni(rng, -1, 1), x = uni(rng, -1, 1);
    if (k % 4 == 1) y *= 1e-9;  // near the axes and the diagonals
    if (k % 4 == 2) x *= 1e-9;
    if (k % 4 == 3) y = x * (1 + uni(rng, -1e-6, 1e-6)) * (k % 8 == 3 ? -1 : 1);
    worst = std::max(worst, std::fabs(atan2_poly(y, x) - std::atan2(y, x)));
  }
  EXPECT_LT(worst, 1e-14);
  for (double a : {0.0, 1.0, -1.0}) {
    EXPECT_EQ(atan2_poly(0, 1), 0);
    EXPECT_NEAR(atan2_poly(a, -1), std::atan2(a, -1), 1e-15);
    EXPECT_NEAR(atan2_poly(1, a), std::atan2(1, a), 1e-15);
    EXPECT_NEAR(atan2_poly(-1, a), std::atan2(-1, a), 1e-15);
  }
}

TEST(ViewRender, FixedPointSampler) {
  const int W = 8, H = 4, C = 3;
  std::vector<uint8_t> img(W * H * C);
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < W; ++i)
      for (int c = 0; c < C; ++c) img[(j * W + i) * C + c] = static_cast<uint8_t>(10 * i + 100 * (j % 2) + c);
  auto px = [&](int i, int j, int c) { return img[(j * W + i) * C + c]; };
  uint8_t out[C];
  const int64_t one = kViewSampleOne;
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < W; ++i) {  // on pixel centres, and one turn to either side: the pixel itself
      for (int turn = -1; turn <= 1; ++turn) {
        sample_bilinear_fixed(img.data(), W, H, C, W * C, (i + turn * W) * one, j * one, out);
        for (int c = 0; c < C; ++c) ASSERT_EQ(out[c], px(i, j, c));
      }
    }
  // Halfway across the seam, and above the north pole's row (the opposite meridian).
  sample_bilinear_fixed(img.data(), W, H, C, W * C, (W - 1) * one + one / 2, 2 * one, out);
  EXPECT_EQ(out[1], (px(W - 1, 2, 1) + px(0, 2, 1) + 1) / 2);
  sample_bilinear_fixed(img.data(), W, H, C, W * C, 1 * one, -one / 2, out);
  EXPECT_EQ(out[2], (px(1, 0, 2) + px(1 + W / 2, 0, 2) + 1) / 2);
  // A quarter of the way: 7-bit weights, rounded to nearest.
  sample_bilinear_fixed(img.data(), W, H, C, W * C, 2 * one + one / 4, one, out);
  EXPECT_EQ(out[0], (96 * px(2, 1, 0) + 32 * px(3, 1, 0) + 64) / 128);
  // The exact path's rounding: to the nearest 1/128 px.
  int64_t qu, qv;
  view_position_exact(2.0 + 0.6 / one, -0.4 / one, &qu, &qv);
  EXPECT_EQ(qu, 2 * one + 1);
  EXPECT_EQ(qv, 0);
}

}  // namespace
}  // namespace geoshard::projection
