// CPU batch loops (batch.h).
#include "kernels/batch.h"

#include <stdexcept>
#include <string>
#include <vector>
#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace geoshard {

namespace {

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

}  // namespace

void validate_pip_batch(const PolygonSet& polys, std::span<const double> lon, std::span<const double> lat,
                        std::span<const uint32_t> poly_of_point, std::span<const PipResult> out) {
  require(lat.size() == lon.size() && poly_of_point.size() == lon.size() && out.size() == lon.size(),
          "pip_batch: lon, lat, poly_of_point and out must have the same size");
  if (polys.n_polys > 0) {
    require(polys.poly_ring_offsets != nullptr && polys.ring_offsets != nullptr,
            "pip_batch: polygon set without offsets");
    for (uint64_t j = 0; j < polys.n_polys; ++j)
      require(polys.poly_ring_offsets[j] <= polys.poly_ring_offsets[j + 1],
              "pip_batch: poly_ring_offsets must be non-decreasing");
    const uint64_t first_ring = polys.poly_ring_offsets[0], end_ring = polys.poly_ring_offsets[polys.n_polys];
    for (uint64_t r = first_ring; r < end_ring; ++r)
      require(polys.ring_offsets[r] <= polys.ring_offsets[r + 1], "pip_batch: ring_offsets must be non-decreasing");
  }
  for (size_t i = 0; i < poly_of_point.size(); ++i)
    if (poly_of_point[i] >= polys.n_polys)
      throw std::out_of_range("pip_batch: poly_of_point[" + std::to_string(i) + "] = " +
                              std::to_string(poly_of_point[i]) + " but there are " +
                              std::to_string(polys.n_polys) + " polygons");
}

void pip_batch(const PolygonSet& polys, std::span<const double> lon, std::span<const double> lat,
               std::span<const uint32_t> poly_of_point, std::span<PipResult> out) {
  validate_pip_batch(polys, lon, lat, poly_of_point, out);
  for (size_t i = 0; i < lon.size(); ++i) out[i] = pip_element(polys, poly_of_point[i], lon[i], lat[i]);
}

void validate_cut_batch(const CutSet& set, std::span<const EdgeCut> out) {
  require(out.size() == set.n_edges, "cut_batch: out must have one element per edge");
  if (set.n_edges == 0) return;
  require(set.ux && set.uy && set.vx && set.vy && set.segment_of_edge, "cut_batch: edge arrays missing");
  require(set.ax && set.ay && set.bx && set.by && set.t0 && set.t1, "cut_batch: segment arrays missing");
  for (size_t e = 0; e < set.n_edges; ++e)
    if (set.segment_of_edge[e] >= set.n_segments)
      throw std::out_of_range("cut_batch: segment_of_edge[" + std::to_string(e) + "] = " +
                              std::to_string(set.segment_of_edge[e]) + " but there are " +
                              std::to_string(set.n_segments) + " segments");
}

void cut_batch(const CutSet& set, std::span<EdgeCut> out) {
  validate_cut_batch(set, out);
  for (size_t e = 0; e < set.n_edges; ++e) out[e] = cut_element(set, e);
}

void zkey_batch(std::span<const double> lon, std::span<const double> lat, std::span<uint64_t> out) {
  require(lat.size() == lon.size() && out.size() == lon.size(),
          "zkey_batch: lon, lat and out must have the same size");
  for (size_t i = 0; i < lon.size(); ++i) out[i] = geohash::zkey(lon[i], lat[i]);
}

void polyline_length_batch(std::span<const double> lon, std::span<const double> lat,
                           std::span<const uint64_t> offsets, std::span<double> out_m) {
  require(lat.size() == lon.size(), "polyline_length_batch: lon and lat must have the same size");
  require(offsets.size() == out_m.size() + 1, "polyline_length_batch: offsets.size() must be out_m.size() + 1");
  for (size_t k = 0; k < out_m.size(); ++k)
    require(offsets[k] <= offsets[k + 1] && offsets[k + 1] <= lon.size(),
            "polyline_length_batch: offsets must be non-decreasing and within lon/lat");
  for (size_t k = 0; k < out_m.size(); ++k) {
    out_m[k] = polyline_length_m(lon.data() + offsets[k], lat.data() + offsets[k], offsets[k + 1] - offsets[k]);
  }
}

namespace {

void check_view_args(const char* who, int W, int H, int channels, int64_t stride, const projection::View& view,
                     int64_t out_stride) {
  const std::string w(who);
  require(W > 0 && H > 0 && channels > 0 && view.width > 0 && view.height > 0, (w + ": sizes must be positive").c_str());
  require(W % 2 == 0, (w + ": the equirect width must be even (2:1 image)").c_str());
  require(stride >= static_cast<int64_t>(W) * channels, (w + ": source stride too small").c_str());
  require(out_stride >= static_cast<int64_t>(view.width) * channels, (w + ": output stride too small").c_str());
}

// Walks a view's tiles (projection.h, "Fast view rendering"): top-level tiles of
// 2^kViewTileShift px over a grid of exact corners shared by neighbouring tiles; a tile is handed
// to sink.tile(ViewTile, cols, rows) (cols x rows: the part inside the view) when
// view_tile_error_bound allows, else split in four (five new exact nodes), down to single pixels
// handed to sink.exact(x, y, u, v) with their exact coordinates.
template <class Sink>
class TileWalker {
 public:
  TileWalker(const projection::View& view, const projection::Equirect& e, Sink& sink, ViewTilingStats& st)
      : view_(view), e_(e), rays_(projection::view_rays(view)), sink_(sink), st_(st) {}

  void run() {
    const int S = projection::kViewTileShift, T = 1 << S;
    const int nx = (view_.width + T - 1) / T, ny = (view_.height + T - 1) / T;
    std::vector<double> top(2 * (nx + 1)), bot(2 * (nx + 1));
    for (int k = 0; k <= nx; ++k) node(k * T, 0, &top[2 * k]);
    for (int by = 0; by < ny; ++by) {
      for (int k = 0; k <= nx; ++k) node(k * T, (by + 1) * T, &bot[2 * k]);
      for (int bx = 0; bx < nx; ++bx) {
        const double cu[4] = {top[2 * bx], top[2 * bx + 2], bot[2 * bx], bot[2 * bx + 2]};
        const double cv[4] = {top[2 * bx + 1], top[2 * bx + 3], bot[2 * bx + 1], bot[2 * bx + 3]};
        tile(bx * T, by * T, S, cu, cv, 1e300);
      }
      top.swap(bot);
    }
  }

 private:
  void node(int x, int y, double* uv) {
    projection::frame_to_equirect(rays_.frame, e_, x, y, &uv[0], &uv[1]);
    ++st_.nodes;
  }

  // bound: a bound for this tile already known (its parent's / 4), else 1e300.
  void tile(int x0, int y0, int shift, const double* cu, const double* cv, double bound) {
    if (x0 >= view_.width || y0 >= view_.height) return;
    if (shift == 0) {
      sink_.exact(x0, y0, cu[0], cv[0]);
      ++st_.exact_pixels;
      return;
    }
    const int T = 1 << shift;
    if (bound > projection::kViewTileTolerance) {
      bound = std::min(bound, projection::view_tile_error_bound(rays_, e_, x0, y0, T));
      ++st_.bounds;
    }
    if (bound <= projection::kViewTileTolerance) {
      const int cols = std::min(T, view_.width - x0), rows = std::min(T, view_.height - y0);
      sink_.tile(projection::make_view_tile(e_, x0, y0, shift, cu, cv), cols, rows);
      ++st_.interpolated_tiles[shift];
      st_.interpolated_pixels += static_cast<int64_t>(cols) * rows;
      return;
    }
    // A 3 x 3 grid of nodes: the corners and five new exact ones.
    const int h = T / 2;
    double g[9][2];
    g[0][0] = cu[0], g[0][1] = cv[0], g[2][0] = cu[1], g[2][1] = cv[1];
    g[6][0] = cu[2], g[6][1] = cv[2], g[8][0] = cu[3], g[8][1] = cv[3];
    node(x0 + h, y0, g[1]);
    node(x0, y0 + h, g[3]);
    node(x0 + h, y0 + h, g[4]);
    node(x0 + T, y0 + h, g[5]);
    node(x0 + h, y0 + T, g[7]);
    for (int q = 0; q < 4; ++q) {
      const int qx = q & 1, qy = q >> 1, b = qy * 3 + qx;
      const double su[4] = {g[b][0], g[b + 1][0], g[b + 3][0], g[b + 4][0]};
      const double sv[4] = {g[b][1], g[b + 1][1], g[b + 3][1], g[b + 4][1]};
      tile(x0 + qx * h, y0 + qy * h, shift - 1, su, sv, bound / 4);
    }
  }

  const projection::View& view_;
  projection::Equirect e_;
  projection::ViewRays rays_;
  Sink& sink_;
  ViewTilingStats& st_;
};

#if defined(__SSE2__)
#define GEOSHARD_VIEW_SSE2 1
// sample_bilinear_fixed's integers for C = 3 or 4 channels with SSE2: p, q point at p00 and p01
// (p10, p11 follow them); 8 bytes are read from each.
//   top = 128 p00 + a (p10 - p00) = (128 - a) p00 + a p10   (int16: <= 32640)
//   out = (top (128 - b) + bot b + 8192) >> 14              (int32 via pmaddwd)
template <int C>
inline void sample_pair_rows_sse2(const uint8_t* p, const uint8_t* q, int a, int b, uint8_t* out, bool wide_store) {
  const __m128i zero = _mm_setzero_si128();
  const __m128i rp = _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), zero);
  const __m128i rq = _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q)), zero);
  const __m128i wa = _mm_set1_epi16(static_cast<short>(a));
  const __m128i top = _mm_add_epi16(_mm_slli_epi16(rp, projection::kViewSampleBits),
                                    _mm_mullo_epi16(_mm_sub_epi16(_mm_srli_si128(rp, 2 * C), rp), wa));
  const __m128i bot = _mm_add_epi16(_mm_slli_epi16(rq, projection::kViewSampleBits),
                                    _mm_mullo_epi16(_mm_sub_epi16(_mm_srli_si128(rq, 2 * C), rq), wa));
  const __m128i wb = _mm_set1_epi32((projection::kViewSampleOne - b) | (b << 16));
  __m128i r = _mm_madd_epi16(_mm_unpacklo_epi16(top, bot), wb);
  r = _mm_srai_epi32(_mm_add_epi32(r, _mm_set1_epi32(1 << (2 * projection::kViewSampleBits - 1))),
                     2 * projection::kViewSampleBits);
  r = _mm_packus_epi16(_mm_packs_epi32(r, r), zero);
  const uint32_t v = static_cast<uint32_t>(_mm_cvtsi128_si32(r));
  if (C == 4 || wide_store) {
    std::memcpy(out, &v, 4);  // C = 3: the 4th byte is the next pixel's, written after this one
  } else {
    const uint16_t lo = static_cast<uint16_t>(v);
    std::memcpy(out, &lo, 2);
    out[2] = static_cast<uint8_t>(v >> 16);
  }
}
#else
#define GEOSHARD_VIEW_SSE2 0
#endif

// Renders tiles: the incremental form of view_tile_position (same integers) and
// sample_bilinear_fixed, with the wrap tests hoisted out of tiles whose whole footprint is inside
// the image, and the channel loop unrolled for C = 1, 3, 4 (C = 0: any count).
template <int C>
struct RenderSink {
  const uint8_t* src;
  int W, H, channels;
  int64_t stride;
  uint8_t* out;
  int64_t out_stride;
  int view_width;

  int ch() const { return C > 0 ? C : channels; }

  void exact(int x, int y, double u, double v) {
    int64_t qu, qv;
    projection::view_position_exact(u, v, &qu, &qv);
    projection::sample_bilinear_fixed(src, W, H, ch(), stride, qu, qv, out + y * out_stride + static_cast<int64_t>(x) * ch());
  }

  void tile(const projection::ViewTile& t, int cols, int rows) {
    using namespace projection;
    constexpr int B = kViewSampleBits, M = kViewSampleOne, FB = kViewCoordBits - kViewSampleBits;
    const int sh = view_tile_sum_shift(t.shift);
    const int64_t T = int64_t{1} << t.shift, half = int64_t{1} << (sh - 1), hq = int64_t{1} << (FB - 1);
    int64_t umin = t.u[0], umax = t.u[0], vmin = t.v[0], vmax = t.v[0];
    for (int k = 1; k < 4; ++k) {
      umin = std::min(umin, t.u[k]), umax = std::max(umax, t.u[k]);
      vmin = std::min(vmin, t.v[k]), vmax = std::max(vmax, t.v[k]);
    }
    // Every position of the tile lies between the corners' (a convex combination, rounded alike).
    const bool interior = ((umin + hq) >> FB >> B) >= 0 && ((umax + hq) >> FB >> B) + 1 < W &&
                          ((vmin + hq) >> FB >> B) >= 0 && ((vmax + hq) >> FB >> B) + 1 < H;
    const int n = ch();
    // 8-byte loads at p00 and p01 read up to 2 columns past p10 (3 channels): stay 2 columns in.
    const bool simd_ok = interior && ((umax + hq) >> FB >> B) + 2 < W;
    const bool last_column = t.x0 + cols == view_width;
    (void)simd_ok, (void)last_column;
    for (int b = 0; b < rows; ++b) {
      const int64_t lu = t.u[0] * (T - b) + t.u[2] * b, ru = t.u[1] * (T - b) + t.u[3] * b;
      const int64_t lv = t.v[0] * (T - b) + t.v[2] * b, rv = t.v[1] * (T - b) + t.v[3] * b;
      int64_t au = lu * T + half, av = lv * T + half;
      const int64_t su = ru - lu, sv = rv - lv;
      uint8_t* o = out + (t.y0 + b) * out_stride + static_cast<int64_t>(t.x0) * n;
      if (!interior) {
        for (int a = 0; a < cols; ++a, au += su, av += sv, o += n)
          sample_bilinear_fixed(src, W, H, n, stride, au >> sh, av >> sh, o);
        continue;
      }
#if GEOSHARD_VIEW_SSE2
      // The same integers 8 bytes at a time: (p00 | p10) of a row per 64-bit load (3 or 4
      // channels; the bytes past p10 are read, not used: hence the two-column margin below).
      // 3 channels are stored 4 bytes at a time, the 4th byte being the next pixel's: every
      // pixel to the right of a tile is rendered after it (tiles left to right, quadrants in
      // order), so only the view's last column needs the 3-byte store.
      if ((C == 3 || C == 4) && simd_ok) {
        const int wide = cols - (last_column ? 1 : 0);
        int a = 0;
        for (; a < wide; ++a, au += su, av += sv, o += n) {
          const int64_t qu = au >> sh, qv = av >> sh;
          const uint8_t* p = src + (qv >> B) * stride + (qu >> B) * n;
          sample_pair_rows_sse2<C>(p, p + stride, static_cast<int>(qu & (M - 1)), static_cast<int>(qv & (M - 1)), o, true);
        }
        if (a < cols) {
          const int64_t qu = au >> sh, qv = av >> sh;
          const uint8_t* p = src + (qv >> B) * stride + (qu >> B) * n;
          sample_pair_rows_sse2<C>(p, p + stride, static_cast<int>(qu & (M - 1)), static_cast<int>(qv & (M - 1)), o, false);
        }
        continue;
      }
#endif
      for (int a = 0; a < cols; ++a, au += su, av += sv, o += n) {
        const int64_t qu = au >> sh, qv = av >> sh;
        const int fa = static_cast<int>(qu & (M - 1)), fb = static_cast<int>(qv & (M - 1));
        const int na = M - fa, nb = M - fb;
        const uint8_t* p = src + (qv >> B) * stride + (qu >> B) * n;
        const uint8_t* q = p + stride;
        for (int c = 0; c < (C > 0 ? C : n); ++c) {
          const int top = na * p[c] + fa * p[c + n], bot = na * q[c] + fa * q[c + n];
          o[c] = static_cast<uint8_t>((top * nb + bot * fb + (1 << (2 * B - 1))) >> (2 * B));
        }
      }
    }
  }
};

// Records the positions (the direct formula view_tile_position: what a GPU kernel computes).
struct PositionSink {
  int width;
  int64_t* qu;
  int64_t* qv;
  void exact(int x, int y, double u, double v) {
    const int64_t i = static_cast<int64_t>(y) * width + x;
    projection::view_position_exact(u, v, &qu[i], &qv[i]);
  }
  void tile(const projection::ViewTile& t, int cols, int rows) {
    for (int b = 0; b < rows; ++b)
      for (int a = 0; a < cols; ++a) {
        const int64_t i = static_cast<int64_t>(t.y0 + b) * width + t.x0 + a;
        projection::view_tile_position(t, a, b, &qu[i], &qv[i]);
      }
  }
};

// Records the plan (plan_equirect_view).
struct PlanSink {
  ViewPlan* plan;
  void exact(int x, int y, double u, double v) {
    ExactPixel e{x, y, 0, 0};
    projection::view_position_exact(u, v, &e.qu, &e.qv);
    plan->exact.push_back(e);
  }
  void tile(const projection::ViewTile& t, int cols, int rows) { plan->tiles.push_back(PlannedTile{t, cols, rows}); }
};

template <int C>
void render_view_tiles(const uint8_t* src, int W, int H, int channels, int64_t stride, const projection::View& view,
                       uint8_t* out, int64_t out_stride) {
  RenderSink<C> sink{src, W, H, channels, stride, out, out_stride, view.width};
  ViewTilingStats st;
  TileWalker<RenderSink<C>>(view, projection::Equirect{W, H}, sink, st).run();
}

}  // namespace

void render_equirect_view(const uint8_t* src, int W, int H, int channels, int64_t stride,
                          const projection::View& view, uint8_t* out, int64_t out_stride) {
  check_view_args("render_equirect_view", W, H, channels, stride, view, out_stride);
  switch (channels) {
    case 1: render_view_tiles<1>(src, W, H, channels, stride, view, out, out_stride); break;
    case 3: render_view_tiles<3>(src, W, H, channels, stride, view, out, out_stride); break;
    case 4: render_view_tiles<4>(src, W, H, channels, stride, view, out, out_stride); break;
    default: render_view_tiles<0>(src, W, H, channels, stride, view, out, out_stride); break;
  }
}

void render_equirect_view_exact(const uint8_t* src, int W, int H, int channels, int64_t stride,
                                const projection::View& view, uint8_t* out, int64_t out_stride) {
  check_view_args("render_equirect_view_exact", W, H, channels, stride, view, out_stride);
  const projection::ViewFrame frame = projection::view_frame(view);
  for (int y = 0; y < view.height; ++y) {
    uint8_t* row = out + y * out_stride;
    for (int x = 0; x < view.width; ++x) view_pixel_element(src, W, H, channels, stride, frame, x, y, row + x * channels);
  }
}

ViewTilingStats equirect_view_positions(int W, int H, const projection::View& view, int64_t* qu, int64_t* qv) {
  check_view_args("equirect_view_positions", W, H, 1, W, view, view.width);
  PositionSink sink{view.width, qu, qv};
  ViewTilingStats st;
  TileWalker<PositionSink>(view, projection::Equirect{W, H}, sink, st).run();
  return st;
}

ViewPlan plan_equirect_view(int W, int H, const projection::View& view) {
  check_view_args("plan_equirect_view", W, H, 1, W, view, view.width);
  ViewPlan plan;
  PlanSink sink{&plan};
  TileWalker<PlanSink>(view, projection::Equirect{W, H}, sink, plan.stats).run();
  return plan;
}

void render_view_plan(const uint8_t* src, int W, int H, int channels, int64_t stride, const ViewPlan& plan,
                      const projection::View& view, uint8_t* out, int64_t out_stride) {
  check_view_args("render_view_plan", W, H, channels, stride, view, out_stride);
  for (const PlannedTile& p : plan.tiles)
    for (int b = 0; b < p.rows; ++b)
      for (int a = 0; a < p.cols; ++a)
        view_tile_pixel_element(src, W, H, channels, stride, p.tile, a, b,
                                out + (p.tile.y0 + b) * out_stride + static_cast<int64_t>(p.tile.x0 + a) * channels);
  for (const ExactPixel& e : plan.exact)
    projection::sample_bilinear_fixed(src, W, H, channels, stride, e.qu, e.qv,
                                      out + e.y * out_stride + static_cast<int64_t>(e.x) * channels);
}

void validate_views_batch(std::span<const ImageRef> images, std::span<const ViewRequest> views) {
  for (size_t k = 0; k < views.size(); ++k) {
    const ViewRequest& r = views[k];
    const std::string who = "render_equirect_views: view " + std::to_string(k);
    if (r.image >= images.size())
      throw std::out_of_range(who + ": image index " + std::to_string(r.image) + " >= " + std::to_string(images.size()));
    const ImageRef& im = images[r.image];
    check_view_args(who.c_str(), im.width, im.height, im.channels, im.stride, r.view, r.out_stride);
    require(im.pixels != nullptr && r.out != nullptr, (who + ": null pixels").c_str());
  }
}

void render_equirect_views(std::span<const ImageRef> images, std::span<const ViewRequest> views) {
  validate_views_batch(images, views);
  for (const ViewRequest& r : views) {
    const ImageRef& im = images[r.image];
    render_equirect_view(im.pixels, im.width, im.height, im.channels, im.stride, r.view, r.out, r.out_stride);
  }
}

void render_camera_view(const uint8_t* src, const projection::Camera& cam, int channels, int64_t stride,
                        const projection::View& view, uint8_t* out, int64_t out_stride) {
  require(cam.width > 0 && cam.height > 0 && channels > 0 && channels <= 4 && cam.f > 0, "render_camera_view: bad photo");
  require(stride >= static_cast<int64_t>(cam.width) * channels, "render_camera_view: stride too small");
  require(view.width > 0 && view.height > 0, "render_camera_view: bad view size");
  require(out_stride >= static_cast<int64_t>(view.width) * channels, "render_camera_view: output stride too small");
  const projection::ViewFrame frame = projection::view_frame(view);
  for (int y = 0; y < view.height; ++y) {
    uint8_t* row = out + y * out_stride;
    for (int x = 0; x < view.width; ++x) camera_view_pixel_element(src, cam, channels, stride, frame, x, y, row + x * channels);
  }
}

void validate_camera_views_batch(std::span<const ImageRef> images, std::span<const CameraViewRequest> views) {
  for (size_t k = 0; k < views.size(); ++k) {
    const CameraViewRequest& r = views[k];
    const std::string who = "render_camera_views: view " + std::to_string(k);
    if (r.image >= images.size())
      throw std::out_of_range(who + ": image index " + std::to_string(r.image) + " >= " + std::to_string(images.size()));
    const ImageRef& im = images[r.image];
    require(im.pixels != nullptr && r.out != nullptr, (who + ": null pixels").c_str());
    require(im.channels > 0 && im.channels <= 4, (who + ": 1 to 4 channels").c_str());
    require(r.cam.width == im.width && r.cam.height == im.height && r.cam.f > 0,
            (who + ": the camera's size must be the image's, its focal length positive").c_str());
    require(im.stride >= static_cast<int64_t>(im.width) * im.channels, (who + ": stride too small").c_str());
    require(r.view.width > 0 && r.view.height > 0, (who + ": bad view size").c_str());
    require(r.out_stride >= static_cast<int64_t>(r.view.width) * im.channels, (who + ": output stride too small").c_str());
  }
}

void render_camera_views(std::span<const ImageRef> images, std::span<const CameraViewRequest> views) {
  validate_camera_views_batch(images, views);
  for (const CameraViewRequest& r : views) {
    const ImageRef& im = images[r.image];
    render_camera_view(im.pixels, r.cam, im.channels, im.stride, r.view, r.out, r.out_stride);
  }
}

RegionPlan plan_region(int W, int H, const double* u, const double* v, int n, const RegionBlurOptions& opt) {
  RegionPlan p;
  double umin = u[0], umax = u[0], vmin = v[0], vmax = v[0];
  for (int k = 1; k < n; ++k) umin = std::min(umin, u[k]), umax = std::max(umax, u[k]), vmin = std::min(vmin, v[k]), vmax = std::max(vmax, v[k]);
  if (!(umax >= 0 && vmax >= 0 && umin <= W - 1 && vmin <= H - 1)) return p;  // (also NaN)
  // Pixels whose centres can be inside: [ceil(umin), floor(umax)] clipped to the image (clipped
  // as doubles: a vertex at 1e300 must not overflow an int).
  p.x0 = static_cast<int>(std::max(0.0, std::ceil(umin))), p.x1 = static_cast<int>(std::min(W - 1.0, std::floor(umax)));
  p.y0 = static_cast<int>(std::max(0.0, std::ceil(vmin))), p.y1 = static_cast<int>(std::min(H - 1.0, std::floor(vmax)));
  if (p.empty()) return p;
  const double bw = umax - umin, bh = vmax - vmin;
  p.wx0 = p.x0, p.wx1 = p.x1, p.wy0 = p.y0, p.wy1 = p.y1;
  if (opt.mode == blur::Mode::kGaussian) {
    blur::box_radii(blur::gaussian_sigma(bw, bh, opt.strength), p.r);
    const int grow = p.r[0] + p.r[1] + p.r[2];
    p.wx0 = std::max(0, p.x0 - grow), p.wx1 = std::min(W - 1, p.x1 + grow);
    p.wy0 = std::max(0, p.y0 - grow), p.wy1 = std::min(H - 1, p.y1 + grow);
  } else if (opt.mode == blur::Mode::kPixelate) {
    p.cell = std::max(2, static_cast<int>(std::ceil(std::min(bw, bh) / std::max(1, opt.pixel_cells))));
  }
  return p;
}

uint64_t blur_region(uint8_t* img, int W, int H, int channels, int64_t stride, const double* u, const double* v, int n,
                     const RegionBlurOptions& opt) {
  require(W > 0 && H > 0 && channels > 0 && channels <= 4, "blur_region: bad image size or channels");
  require(stride >= static_cast<int64_t>(W) * channels, "blur_region: stride too small");
  require(n >= 3, "blur_region: a region needs at least 3 vertices");
  const RegionPlan p = plan_region(W, H, u, v, n, opt);
  if (p.empty()) return 0;
  const int x0 = p.x0, x1 = p.x1, y0 = p.y0, y1 = p.y1;
  // The values the region's pixels take, over the window [wx0, wx1] x [wy0, wy1].
  const int wx0 = p.wx0, wx1 = p.wx1, wy0 = p.wy0, wy1 = p.wy1;
  std::vector<uint8_t> a;
  if (opt.mode == blur::Mode::kGaussian) {
    const int ww = wx1 - wx0 + 1, wh = wy1 - wy0 + 1;
    a.resize(static_cast<size_t>(ww) * wh * channels);
    for (int y = 0; y < wh; ++y)
      std::copy_n(img + (wy0 + y) * stride + static_cast<int64_t>(wx0) * channels, static_cast<size_t>(ww) * channels,
                  a.begin() + static_cast<size_t>(y) * ww * channels);
    std::vector<uint8_t> b(a.size());
    // One pass along an axis with running sums (the same integer sums as blur::box_element).
    auto pass = [&](bool horizontal, int rad) {
      const int len = horizontal ? ww : wh, lines = horizontal ? wh : ww;
      const int64_t step = horizontal ? channels : static_cast<int64_t>(ww) * channels;
      const int64_t line_step = horizontal ? static_cast<int64_t>(ww) * channels : channels;
      const int w = 2 * rad + 1;
      for (int l = 0; l < lines; ++l)
        for (int c = 0; c < channels; ++c) {
          const uint8_t* in = a.data() + l * line_step + c;
          uint8_t* out = b.data() + l * line_step + c;
          auto at = [&](int q) { return static_cast<int>(in[static_cast<int64_t>(q < 0 ? 0 : q >= len ? len - 1 : q) * step]); };
          int sum = 0;
          for (int k = -rad; k <= rad; ++k) sum += at(k);
          for (int q = 0; q < len; ++q) {
            out[q * step] = static_cast<uint8_t>((sum + w / 2) / w);
            sum += at(q + rad + 1) - at(q - rad);
          }
        }
      a.swap(b);
    };
    for (int k = 0; k < 3; ++k) pass(true, p.r[k]);
    for (int k = 0; k < 3; ++k) pass(false, p.r[k]);
  } else if (opt.mode == blur::Mode::kPixelate) {
    const int cell = p.cell;
    const int ww = x1 - x0 + 1, wh = y1 - y0 + 1;
    a.resize(static_cast<size_t>(ww) * wh * channels);
    for (int cy = y0; cy <= y1; cy += cell)
      for (int cx = x0; cx <= x1; cx += cell) {
        const int ex = std::min(x1, cx + cell - 1), ey = std::min(y1, cy + cell - 1);
        for (int c = 0; c < channels; ++c) {
          const uint8_t m = blur::cell_mean(img, stride, channels, c, cx, cy, ex, ey);
          for (int y = cy; y <= ey; ++y)
            for (int x = cx; x <= ex; ++x) a[(static_cast<size_t>(y - y0) * ww + (x - x0)) * channels + c] = m;
        }
      }
  }
  const int ww = wx1 - wx0 + 1;
  uint64_t written = 0;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      if (!blur::covers(u, v, n, x, y)) continue;
      uint8_t* q = img + y * stride + static_cast<int64_t>(x) * channels;
      for (int c = 0; c < channels; ++c)
        q[c] = opt.mode == blur::Mode::kSolid ? opt.solid[c] : a[(static_cast<size_t>(y - wy0) * ww + (x - wx0)) * channels + c];
      ++written;
    }
  return written;
}

void validate_regions_batch(std::span<const ImageBuffer> images, std::span<const double> u, std::span<const double> v,
                            std::span<const RegionRequest> regions) {
  if (u.size() != v.size()) throw std::invalid_argument("blur_regions: u and v must have the same size");
  for (size_t k = 0; k < regions.size(); ++k) {
    const RegionRequest& r = regions[k];
    const std::string who = "blur_regions: region " + std::to_string(k);
    if (r.image >= images.size())
      throw std::out_of_range(who + ": image index " + std::to_string(r.image) + " >= " + std::to_string(images.size()));
    const ImageBuffer& im = images[r.image];
    require(im.pixels != nullptr && im.width > 0 && im.height > 0 && im.channels > 0 && im.channels <= 4,
            (who + ": bad image size or channels").c_str());
    require(im.stride >= static_cast<int64_t>(im.width) * im.channels, (who + ": stride too small").c_str());
    require(r.n >= 3, (who + ": a region needs at least 3 vertices").c_str());
    if (static_cast<uint64_t>(r.first) + static_cast<uint64_t>(r.n) > u.size())
      throw std::out_of_range(who + ": vertices past the end of the vertex arrays");
  }
}

uint64_t blur_regions(std::span<const ImageBuffer> images, std::span<const double> u, std::span<const double> v,
                      std::span<const RegionRequest> regions, const RegionBlurOptions& opt) {
  validate_regions_batch(images, u, v, regions);
  uint64_t written = 0;
  for (const RegionRequest& r : regions) {
    const ImageBuffer& im = images[r.image];
    written += blur_region(im.pixels, im.width, im.height, im.channels, im.stride, u.data() + r.first, v.data() + r.first,
                           r.n, opt);
  }
  return written;
}

std::vector<int> region_waves(std::span<const RegionRequest> regions, std::span<const RegionPlan> plans) {
  if (plans.size() != regions.size()) throw std::invalid_argument("region_waves: one plan per region");
  // Within a wave every region reads the image as the wave found it. For an earlier region i of
  // the same image: if i writes what j reads (i's write box meets j's window; two writes to one
  // pixel are such a case, a write box lying inside its window), j must come in a later wave; if
  // j writes what i reads (j's write box meets i's window), j must not come in an earlier wave
  // (in the same wave i still reads the snapshot, as in order).
  auto meets = [](int ax0, int ax1, int ay0, int ay1, int bx0, int bx1, int by0, int by1) {
    return ax0 <= bx1 && bx0 <= ax1 && ay0 <= by1 && by0 <= ay1;
  };
  std::vector<int> wave(regions.size(), 0);
  for (size_t j = 0; j < regions.size(); ++j) {
    const RegionPlan& b = plans[j];
    if (b.empty()) continue;
    for (size_t i = 0; i < j; ++i) {
      const RegionPlan& a = plans[i];
      if (a.empty() || regions[i].image != regions[j].image || wave[i] + 1 <= wave[j]) continue;
      if (meets(a.x0, a.x1, a.y0, a.y1, b.wx0, b.wx1, b.wy0, b.wy1))
        wave[j] = wave[i] + 1;
      else if (meets(b.x0, b.x1, b.y0, b.y1, a.wx0, a.wx1, a.wy0, a.wy1))
        wave[j] = std::max(wave[j], wave[i]);
    }
  }
  return wave;
}

uint64_t blur_region_elements(const uint8_t* src, uint8_t* dst, int W, int H, int channels, int64_t stride,
                              const double* u, const double* v, int n, const RegionPlan& p,
                              const RegionBlurOptions& opt) {
  (void)W, (void)H;  // (the plan holds the clipping; kept for blur_region's signature)
  if (p.empty()) return 0;
  const int ww = p.wx1 - p.wx0 + 1, wh = p.wy1 - p.wy0 + 1;
  std::vector<uint8_t> a, b;
  if (opt.mode == blur::Mode::kGaussian) {  // copy the window, then six passes of box_element
    a.resize(static_cast<size_t>(ww) * wh * channels);
    b.resize(a.size());
    for (int y = 0; y < wh; ++y)
      for (int x = 0; x < ww * channels; ++x)
        a[static_cast<size_t>(y) * ww * channels + x] = src[(p.wy0 + y) * stride + static_cast<int64_t>(p.wx0) * channels + x];
    for (int axis = 0; axis < 2; ++axis)
      for (int k = 0; k < 3; ++k) {
        for (int y = 0; y < wh; ++y)
          for (int x = 0; x < ww; ++x)
            for (int c = 0; c < channels; ++c) {
              const size_t i = (static_cast<size_t>(y) * ww + x) * channels + c;
              b[i] = axis == 0 ? blur::box_element(&a[i], channels, x, p.r[k], 0, ww - 1)
                               : blur::box_element(&a[i], static_cast<int64_t>(ww) * channels, y, p.r[k], 0, wh - 1);
            }
        a.swap(b);
      }
  }
  uint64_t written = 0;
  for (int y = p.y0; y <= p.y1; ++y)
    for (int x = p.x0; x <= p.x1; ++x) {
      if (!blur::covers(u, v, n, x, y)) continue;
      uint8_t* q = dst + y * stride + static_cast<int64_t>(x) * channels;
      for (int c = 0; c < channels; ++c) {
        if (opt.mode == blur::Mode::kSolid) {
          q[c] = opt.solid[c];
        } else if (opt.mode == blur::Mode::kPixelate) {
          const int cx = p.x0 + (x - p.x0) / p.cell * p.cell, cy = p.y0 + (y - p.y0) / p.cell * p.cell;
          q[c] = blur::cell_mean(src, stride, channels, c, cx, cy, std::min(p.x1, cx + p.cell - 1), std::min(p.y1, cy + p.cell - 1));
        } else {
          q[c] = a[(static_cast<size_t>(y - p.wy0) * ww + (x - p.wx0)) * channels + c];
        }
      }
      ++written;
    }
  return written;
}

uint64_t blur_regions_in_waves(std::span<const ImageBuffer> images, std::span<const double> u,
                               std::span<const double> v, std::span<const RegionRequest> regions,
                               const RegionBlurOptions& opt) {
  validate_regions_batch(images, u, v, regions);
  std::vector<RegionPlan> plans;
  for (const RegionRequest& r : regions) {
    const ImageBuffer& im = images[r.image];
    plans.push_back(plan_region(im.width, im.height, u.data() + r.first, v.data() + r.first, r.n, opt));
  }
  const std::vector<int> wave = region_waves(regions, plans);
  const int waves = wave.empty() ? 0 : *std::max_element(wave.begin(), wave.end()) + 1;
  uint64_t written = 0;
  std::vector<std::vector<uint8_t>> snapshot(images.size());
  for (int w = 0; w < waves; ++w) {
    for (size_t i = 0; i < images.size(); ++i) {  // every image as the wave finds it
      const ImageBuffer& im = images[i];
      snapshot[i].assign(im.pixels, im.pixels + static_cast<size_t>(im.stride) * (im.height - 1) +
                                        static_cast<size_t>(im.width) * im.channels);
    }
    for (size_t k = 0; k < regions.size(); ++k) {
      if (wave[k] != w) continue;
      const RegionRequest& r = regions[k];
      const ImageBuffer& im = images[r.image];
      written += blur_region_elements(snapshot[r.image].data(), im.pixels, im.width, im.height, im.channels, im.stride,
                                      u.data() + r.first, v.data() + r.first, r.n, plans[k], opt);
    }
  }
  return written;
}

}  // namespace geoshard
