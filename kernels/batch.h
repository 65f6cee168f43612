// CPU batch loops over the kernels: the interfaces the CUDA backend (cuda/) mirrors one for one,
// so a job can pick a backend without changing its data layout.
//
// Data is structure-of-arrays in flat, caller-owned buffers (what HDF5 columns and device
// copies want); outputs are written into caller-provided spans of the right size. Each output
// element depends only on its inputs, so results are identical for any split of a batch, on CPU
// and GPU (the element functions are the very GEOSHARD_HD functions the CUDA kernels call).
//
// Errors: mismatched span sizes or out-of-range polygon / segment indices throw
// std::invalid_argument / std::out_of_range before any output is written (validate_pip_batch,
// validate_cut_batch, shared with the CUDA backend). Coordinates are not validated (see the preconditions of each kernel).
//
// Thread-safety: the functions keep no state; concurrent calls on disjoint outputs are safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/blur.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"
#include "kernels/hd.h"
#include "kernels/polygon.h"
#include "kernels/projection.h"

namespace geoshard {

// The element function of pip_batch: point (lon, lat) against polygon `poly` of the set.
GEOSHARD_HD_INLINE PipResult pip_element(const PolygonSet& polys, uint32_t poly, double lon, double lat) {
  return point_in_rings(polys.polygon(poly), lon, lat);
}

// Checks sizes (lon, lat, poly_of_point, out equal) and that every poly_of_point[i] < n_polys,
// and that the CSR offsets are non-decreasing. Throws std::invalid_argument / std::out_of_range.
void validate_pip_batch(const PolygonSet& polys, std::span<const double> lon, std::span<const double> lat,
                        std::span<const uint32_t> poly_of_point, std::span<const PipResult> out);

// out[i] = point_in_rings(polygon poly_of_point[i], lon[i], lat[i]).
// Example:
//   PolygonSet set{vlon.data(), vlat.data(), ring_off.data(), poly_off.data(), n_polys};
//   std::vector<PipResult> out(n);
//   pip_batch(set, lon, lat, poly_of_point, out);
void pip_batch(const PolygonSet& polys, std::span<const double> lon, std::span<const double> lat,
               std::span<const uint32_t> poly_of_point, std::span<PipResult> out);

// Segment x edge cuts (localise's boundary cells, jobs/localise/pip_batcher.h): segment k runs
// from (ax[k], ay[k]) to (bx[k], by[k]) and is cut within its parameter range [t0[k], t1[k]];
// edge e runs from (ux[e], uy[e]) to (vx[e], vy[e]) and is tested against segment
// segment_of_edge[e]. Pointers to `n_segments` / `n_edges` elements (host memory for either
// backend).
struct CutSet {
  const double *ax, *ay, *bx, *by, *t0, *t1;
  size_t n_segments;
  const double *ux, *uy, *vx, *vy;
  const uint32_t* segment_of_edge;
  size_t n_edges;
};

// The element function of cut_batch: edge e against its segment.
GEOSHARD_HD_INLINE EdgeCut cut_element(const CutSet& s, size_t e) {
  const uint32_t k = s.segment_of_edge[e];
  return edge_cut(s.ax[k], s.ay[k], s.bx[k], s.by[k], s.ux[e], s.uy[e], s.vx[e], s.vy[e], s.t0[k], s.t1[k]);
}

// Checks out.size() == n_edges, that every segment_of_edge[e] < n_segments and that no pointer
// an element needs is null. Throws std::invalid_argument / std::out_of_range.
void validate_cut_batch(const CutSet& set, std::span<const EdgeCut> out);

// out[e] = edge_cut of edge e against its segment (cut_element).
void cut_batch(const CutSet& set, std::span<EdgeCut> out);

// out[i] = geohash::zkey(lon[i], lat[i]).
void zkey_batch(std::span<const double> lon, std::span<const double> lat, std::span<uint64_t> out);

// Polylines in CSR form: polyline k has vertices [offsets[k], offsets[k+1]) of lon/lat;
// out_m[k] = polyline_length_m of it (metres, haversine). offsets.size() == out_m.size() + 1.
void polyline_length_batch(std::span<const double> lon, std::span<const double> lat,
                           std::span<const uint64_t> offsets, std::span<double> out_m);

// The exact element function (render_equirect_view_exact): view pixel (x, y) sampled from the
// equirect source (bilinear, double weights; wraps at the seam, continues across the poles),
// through the view's precomputed frame (projection::view_frame: no trigonometry per pixel but two
// atan2).
GEOSHARD_HD_INLINE void view_pixel_element(const uint8_t* src, int W, int H, int channels, int64_t stride,
                                           const projection::ViewFrame& frame, int x, int y, uint8_t* out) {
  double u, v;
  projection::equirect_pixel(projection::Equirect{W, H}, projection::frame_ray(frame, x, y), &u, &v);
  projection::sample_bilinear_equirect(src, W, H, channels, stride, u, v, out);
}

// The element functions of render_equirect_view (projection.h, "Fast view rendering"): the pixel
// (tile.x0 + a, tile.y0 + b) of an interpolated tile, and a pixel on the exact path. A GPU kernel
// computes the tiles (make_view_tile of exact corners, split where view_tile_error_bound exceeds
// the tolerance), then runs these per pixel: the same bytes as the CPU loop.
GEOSHARD_HD_INLINE void view_tile_pixel_element(const uint8_t* src, int W, int H, int channels, int64_t stride,
                                                const projection::ViewTile& tile, int a, int b, uint8_t* out) {
  int64_t qu, qv;
  projection::view_tile_position(tile, a, b, &qu, &qv);
  projection::sample_bilinear_fixed(src, W, H, channels, stride, qu, qv, out);
}
GEOSHARD_HD_INLINE void view_exact_pixel_element(const uint8_t* src, int W, int H, int channels, int64_t stride,
                                                 const projection::ViewFrame& frame, int x, int y, uint8_t* out) {
  double u, v;
  int64_t qu, qv;
  projection::frame_to_equirect(frame, projection::Equirect{W, H}, x, y, &u, &v);
  projection::view_position_exact(u, v, &qu, &qv);
  projection::sample_bilinear_fixed(src, W, H, channels, stride, qu, qv, out);
}

// Renders a perspective view from an 8-bit equirect image of W x H pixels with `channels`
// interleaved channels (`stride` bytes per source row) into `out` (view.height rows of
// `out_stride` bytes, view.width * channels used per row). Throws std::invalid_argument on
// non-positive sizes, odd W, or strides too small.
// Accuracy (projection.h, "Fast view rendering"): exact source coordinates on a grid of 16 x 16
// px tiles (finer where needed), interpolated in between where a per-tile bound proves the
// interpolation within 1/32 px, exact per pixel elsewhere (around the poles); every pixel is the
// 7-bit-weight bilinear sample at a position within projection::kViewPositionErrorBound
// (1/32 + 1/256 + 2^-17 < 0.0352 px) of the exact one, in u and in v. Against
// render_equirect_view_exact: at most 1 level apart where neighbouring source pixels differ by at
// most 14 levels (the bilinear surface moves by at most 14 x 2 x 0.0352 < 1 level), more only at
// sharper edges (which move by at most 0.0352 px).
void render_equirect_view(const uint8_t* src, int W, int H, int channels, int64_t stride,
                          const projection::View& view, uint8_t* out, int64_t out_stride);

// The reference: view_pixel_element at every pixel (exact coordinates, double bilinear weights).
// Same arguments and errors as render_equirect_view; an order of magnitude slower.
void render_equirect_view_exact(const uint8_t* src, int W, int H, int channels, int64_t stride,
                                const projection::View& view, uint8_t* out, int64_t out_stride);

// How render_equirect_view covered a view: tiles interpolated (by size) and pixels on the exact path.
struct ViewTilingStats {
  int64_t interpolated_tiles[projection::kViewTileShift + 1] = {};  // [shift]: tiles of 2^shift px (shift >= 1)
  int64_t interpolated_pixels = 0, exact_pixels = 0;
  int64_t nodes = 0, bounds = 0;  // exact coordinate evaluations (tile corners), error bounds computed
};

// The sample positions render_equirect_view uses for each view pixel (row-major, view.width *
// view.height each), in units of 1/projection::kViewSampleOne px: u unwrapped within a tile, so
// it may run past [-0.5, W - 0.5) near the seam (the sampler wraps it). For tests and diagnostics.
ViewTilingStats equirect_view_positions(int W, int H, const projection::View& view, int64_t* qu, int64_t* qv);

// ---- Many views of many equirect images: the batch the CUDA backend renders in one launch ----

// An 8-bit image with `channels` interleaved channels, `stride` bytes per row (host memory).
struct ImageRef {
  const uint8_t* pixels;
  int width, height, channels;
  int64_t stride;
};
// One view to render: from images[image], into `out` (view.height rows of `out_stride` bytes).
struct ViewRequest {
  uint32_t image;
  projection::View view;
  uint8_t* out;
  int64_t out_stride;
};

// How render_equirect_view covers one view, as flat lists (what a GPU renders per pixel):
// interpolated tiles with the part of each inside the view, and the exact pixels with their
// sample positions (view_position_exact of their exact equirect coordinates).
struct PlannedTile {
  projection::ViewTile tile;
  int cols, rows;
};
struct ExactPixel {
  int x, y;
  int64_t qu, qv;
};
struct ViewPlan {
  std::vector<PlannedTile> tiles;
  std::vector<ExactPixel> exact;
  ViewTilingStats stats;
};

// The plan of render_equirect_view for a view of a W x H equirect image (the same tile walk).
// Throws std::invalid_argument on non-positive sizes or odd W.
ViewPlan plan_equirect_view(int W, int H, const projection::View& view);

// Renders a view from its plan with the per-pixel element functions only (view_tile_pixel_element
// on the tiles, sample_bilinear_fixed at the exact pixels): the CUDA kernel's algorithm on the
// CPU. Same bytes as render_equirect_view (tests/kernels/view_render_test). Same argument errors.
void render_view_plan(const uint8_t* src, int W, int H, int channels, int64_t stride, const ViewPlan& plan,
                      const projection::View& view, uint8_t* out, int64_t out_stride);

// Checks every request: image index in range, the image 2:1-capable (positive sizes, even
// width, stride large enough), view sizes positive, output stride large enough. Throws
// std::invalid_argument / std::out_of_range naming the request's index, before any output.
void validate_views_batch(std::span<const ImageRef> images, std::span<const ViewRequest> views);

// render_equirect_view for every request (validated first).
void render_equirect_views(std::span<const ImageRef> images, std::span<const ViewRequest> views);

// The element function of render_camera_view: view pixel (x, y) of a view cut out of a planar
// photo (pinhole or equidistant fisheye, projection::Camera), bilinear with the footprint clamped
// at the photo's border (no wrap); a ray off the photo (beyond its pixel edges, or behind a
// pinhole) gives 0: black, so a detector sees no smeared border, and an object cut by the photo's
// edge stays cut.
GEOSHARD_HD_INLINE void camera_view_pixel_element(const uint8_t* src, const projection::Camera& cam, int channels,
                                                  int64_t stride, const projection::ViewFrame& frame, int x, int y,
                                                  uint8_t* out) {
  double u, v;
  if (!projection::camera_pixel(cam, projection::frame_ray(frame, x, y), &u, &v) || !(u >= -0.5) ||
      !(u <= cam.width - 0.5) || !(v >= -0.5) || !(v <= cam.height - 0.5)) {
    for (int c = 0; c < channels; ++c) out[c] = 0;
    return;
  }
  projection::sample_bilinear_clamp(src, cam.width, cam.height, channels, stride, u, v, out);
}

// Renders a perspective view (yaw / pitch relative to the photo's optical axis) from an 8-bit
// planar photo of cam.width x cam.height pixels, `channels` interleaved, `stride` bytes per row,
// into `out` (view.height rows of `out_stride` bytes): camera_view_pixel_element at every pixel
// (the exact per-pixel math). Throws std::invalid_argument on bad sizes or strides.
void render_camera_view(const uint8_t* src, const projection::Camera& cam, int channels, int64_t stride,
                        const projection::View& view, uint8_t* out, int64_t out_stride);

// One view of a planar photo to render: from images[image] through the photo's camera `cam`
// (cam.width x cam.height must be the image's size), into `out` (view.height rows of
// `out_stride` bytes).
struct CameraViewRequest {
  uint32_t image;
  projection::Camera cam;
  projection::View view;
  uint8_t* out;
  int64_t out_stride;
};

// Checks every request (image index, 1-4 channels, the camera's size equal to the image's, a
// positive focal length, strides) and throws std::invalid_argument / std::out_of_range naming
// the request's index, before any output.
void validate_camera_views_batch(std::span<const ImageRef> images, std::span<const CameraViewRequest> views);

// render_camera_view for every request (validated first). The GPU version runs
// camera_view_pixel_element per pixel of every view in one launch.
void render_camera_views(std::span<const ImageRef> images, std::span<const CameraViewRequest> views);

struct RegionBlurOptions {
  blur::Mode mode = blur::Mode::kGaussian;
  double strength = 0.25;   // gaussian: sigma = strength * smaller side of the region's box (>= 2 px)
  int pixel_cells = 8;      // pixelate: cells across the smaller side (cell >= 2 px)
  uint8_t solid[4] = {0, 0, 0, 0};  // solid: the fill per channel
};

// Anonymises one region of an 8-bit image (W x H, `channels` interleaved, `stride` bytes per
// row) in place: every pixel whose centre the polygon (u, v, n vertices) covers gets the
// gaussian / pixelated / solid value; no other pixel is written. The gaussian is three box
// passes per axis (horizontal r0 r1 r2, then vertical r0 r1 r2, each rounded to 8 bits) over the
// region's box grown by 3 sigma, edges replicated at the image border: running sums here, the
// per-element blur::box_element on the GPU, identical bytes. Returns the pixels written.
// Throws std::invalid_argument on bad sizes or fewer than 3 vertices.
uint64_t blur_region(uint8_t* img, int W, int H, int channels, int64_t stride, const double* u, const double* v, int n,
                     const RegionBlurOptions& opt);

// The arithmetic of one region of blur_region, before any pixel: the pixels whose centres can be
// inside (the write box [x0, x1] x [y0, y1], clipped to the image; none when x0 > x1 or
// y0 > y1, also for NaN vertices), the pixels read (the window [wx0, wx1] x [wy0, wy1]: the
// write box grown by r[0] + r[1] + r[2] for the gaussian, else the write box), the gaussian's
// box radii and the pixelate cell side. Shared by blur_region and the GPU batch.
struct RegionPlan {
  int x0 = 0, x1 = -1, y0 = 0, y1 = -1;
  int wx0 = 0, wx1 = -1, wy0 = 0, wy1 = -1;
  int r[3] = {0, 0, 0};
  int cell = 0;
  bool empty() const { return x0 > x1 || y0 > y1; }
};
RegionPlan plan_region(int W, int H, const double* u, const double* v, int n, const RegionBlurOptions& opt);

// ---- Many regions of many images: the batch the CUDA backend blurs per launch ----

// An 8-bit image edited in place (host memory).
struct ImageBuffer {
  uint8_t* pixels;
  int width, height, channels;
  int64_t stride;
};
// One region: the polygon u[first, first + n), v[same] of the flat vertex arrays, on images[image].
struct RegionRequest {
  uint32_t image;
  uint32_t first;
  int n;
};

// Checks the batch: image indices in range, images of 1-4 channels with strides large enough,
// polygons of >= 3 vertices inside the vertex arrays (u and v of one size). Throws
// std::invalid_argument / std::out_of_range naming the region's index, before any pixel changes.
void validate_regions_batch(std::span<const ImageBuffer> images, std::span<const double> u, std::span<const double> v,
                            std::span<const RegionRequest> regions);

// blur_region for every region in order (validated first); returns the pixels written.
uint64_t blur_regions(std::span<const ImageBuffer> images, std::span<const double> u, std::span<const double> v,
                      std::span<const RegionRequest> regions, const RegionBlurOptions& opt);

// The GPU's schedule: waves of regions that can be blurred at the same time, every region of a
// wave reading the image as the wave found it, with the result of blurring them in order.
// For each earlier region i of its image, region j goes in a later wave than i when i's write
// box meets j's window (j reads or overwrites what i writes), and in no earlier wave than i when
// j's write box meets i's window (i must read the pixels before j writes them). Returns the wave
// of each region (0-based).
std::vector<int> region_waves(std::span<const RegionRequest> regions, std::span<const RegionPlan> plans);

// One region with the per-element functions only -- blur::box_element passes over the window,
// blur::cell_mean, blur::covers -- reading `src` (the image as it was before the region) and
// writing the covered pixels into `dst` (another buffer of the same layout): the GPU kernels'
// algorithm on the CPU. With dst a copy of src it gives blur_region's bytes. Returns the pixels
// written.
uint64_t blur_region_elements(const uint8_t* src, uint8_t* dst, int W, int H, int channels, int64_t stride,
                              const double* u, const double* v, int n, const RegionPlan& plan,
                              const RegionBlurOptions& opt);

// The GPU's whole algorithm on the CPU: region_waves, then per wave every region read from the
// image as the wave found it (a snapshot) and written by blur_region_elements. Same bytes and
// count as blur_regions (tests/kernels/blur_test).
uint64_t blur_regions_in_waves(std::span<const ImageBuffer> images, std::span<const double> u,
                               std::span<const double> v, std::span<const RegionRequest> regions,
                               const RegionBlurOptions& opt);

}  // namespace geoshard
