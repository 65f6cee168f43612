// CPU batch loops (batch.h).
#include "kernels/batch.h"

#include <stdexcept>
#include <string>
#include <vector>
#include <algorithm>
#include <cmath>

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

void render_equirect_view(const uint8_t* src, int W, int H, int channels, int64_t stride,
                          const projection::View& view, uint8_t* out, int64_t out_stride) {
  require(W > 0 && H > 0 && channels > 0 && view.width > 0 && view.height > 0, "render_equirect_view: sizes must be positive");
  require(W % 2 == 0, "render_equirect_view: the equirect width must be even (2:1 image)");
  require(stride >= static_cast<int64_t>(W) * channels, "render_equirect_view: source stride too small");
  require(out_stride >= static_cast<int64_t>(view.width) * channels, "render_equirect_view: output stride too small");
  const projection::ViewFrame frame = projection::view_frame(view);
  for (int y = 0; y < view.height; ++y) {
    uint8_t* row = out + y * out_stride;
    for (int x = 0; x < view.width; ++x) view_pixel_element(src, W, H, channels, stride, frame, x, y, row + x * channels);
  }
}

uint64_t blur_region(uint8_t* img, int W, int H, int channels, int64_t stride, const double* u, const double* v, int n,
                     const RegionBlurOptions& opt) {
  require(W > 0 && H > 0 && channels > 0 && channels <= 4, "blur_region: bad image size or channels");
  require(stride >= static_cast<int64_t>(W) * channels, "blur_region: stride too small");
  require(n >= 3, "blur_region: a region needs at least 3 vertices");
  double umin = u[0], umax = u[0], vmin = v[0], vmax = v[0];
  for (int k = 1; k < n; ++k) umin = std::min(umin, u[k]), umax = std::max(umax, u[k]), vmin = std::min(vmin, v[k]), vmax = std::max(vmax, v[k]);
  if (!(umax >= 0 && vmax >= 0 && umin <= W - 1 && vmin <= H - 1)) return 0;  // (also NaN)
  // Pixels whose centres can be inside: [ceil(umin), floor(umax)] clipped to the image.
  const int x0 = std::max(0, static_cast<int>(std::ceil(umin))), x1 = std::min(W - 1, static_cast<int>(std::floor(umax)));
  const int y0 = std::max(0, static_cast<int>(std::ceil(vmin))), y1 = std::min(H - 1, static_cast<int>(std::floor(vmax)));
  if (x0 > x1 || y0 > y1) return 0;
  const double bw = umax - umin, bh = vmax - vmin;
  // The values the region's pixels take, over the window [wx0, wx1] x [wy0, wy1].
  int wx0 = x0, wx1 = x1, wy0 = y0, wy1 = y1;
  std::vector<uint8_t> a;
  if (opt.mode == blur::Mode::kGaussian) {
    int r[3];
    blur::box_radii(blur::gaussian_sigma(bw, bh, opt.strength), r);
    const int grow = r[0] + r[1] + r[2];
    wx0 = std::max(0, x0 - grow), wx1 = std::min(W - 1, x1 + grow), wy0 = std::max(0, y0 - grow), wy1 = std::min(H - 1, y1 + grow);
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
    for (int k = 0; k < 3; ++k) pass(true, r[k]);
    for (int k = 0; k < 3; ++k) pass(false, r[k]);
  } else if (opt.mode == blur::Mode::kPixelate) {
    const int cell = std::max(2, static_cast<int>(std::ceil(std::min(bw, bh) / std::max(1, opt.pixel_cells))));
    const int ww = x1 - x0 + 1, wh = y1 - y0 + 1;
    a.resize(static_cast<size_t>(ww) * wh * channels);
    for (int cy = y0; cy <= y1; cy += cell)
      for (int cx = x0; cx <= x1; cx += cell) {
        const int ex = std::min(x1, cx + cell - 1), ey = std::min(y1, cy + cell - 1);
        for (int c = 0; c < channels; ++c) {
          int sum = 0, cnt = 0;
          for (int y = cy; y <= ey; ++y)
            for (int x = cx; x <= ex; ++x) sum += img[y * stride + static_cast<int64_t>(x) * channels + c], ++cnt;
          const uint8_t m = static_cast<uint8_t>((sum + cnt / 2) / cnt);
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
      uint8_t* p = img + y * stride + static_cast<int64_t>(x) * channels;
      for (int c = 0; c < channels; ++c)
        p[c] = opt.mode == blur::Mode::kSolid ? opt.solid[c] : a[(static_cast<size_t>(y - wy0) * ww + (x - wx0)) * channels + c];
      ++written;
    }
  return written;
}

}  // namespace geoshard
