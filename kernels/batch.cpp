// CPU batch loops (batch.h).
#include "kernels/batch.h"

#include <stdexcept>
#include <string>

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
  for (int y = 0; y < view.height; ++y) {
    uint8_t* row = out + y * out_stride;
    for (int x = 0; x < view.width; ++x) view_pixel_element(src, W, H, channels, stride, view, x, y, row + x * channels);
  }
}

}  // namespace geoshard
