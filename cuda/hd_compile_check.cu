// Compile-time check that every GEOSHARD_HD function of kernels/ builds as device code under
// nvcc (with -Werror all-warnings). The kernel is never launched; it only has to compile, so a
// host-only construct slipping into a kernels/ header breaks the CUDA build at once.
#include "kernels/batch.h"
#include "kernels/blur.h"
#include "kernels/dct.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"
#include "kernels/polygon.h"
#include "kernels/predicates.h"
#include "kernels/projection.h"
#include "kernels/segment_walk.h"

namespace geoshard::cuda {

__global__ void hd_compile_check_kernel(RingSet rings, const double* lon, const double* lat, double* scratch,
                                        TInterval* intervals, double* out, uint64_t n) {
  const uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x;
  if (i + 1 >= n) return;
  double acc = 0.0;
  // geohash
  const geohash::Cell c = geohash::Cell::from_point(lon[i], lat[i], 7);
  geohash::Cell nb[8];
  acc += c.neighbours(nb);
  char buf[geohash::kMaxPrecision + 1];
  geohash::encode(lon[i], lat[i], 9, buf);
  geohash::Cell d;
  acc += static_cast<int>(geohash::decode(buf, 9, &d));
  acc += c.bounds().west + static_cast<double>(c.parent().child(3).key_hi() & 1u) + (c < d) + c.contains(d);
  // geodesic
  const double len = haversine_m(lon[i], lat[i], lon[i + 1], lat[i + 1]);
  acc += polyline_length_m(lon, lat, n) + len;
  // segment walk
  SegmentWalker walker(lon[i], lat[i], lon[i + 1], lat[i + 1], 6);
  for (Piece p; walker.next(p);) acc += piece_length_m(len, p.t0, p.t1);
  // predicates and polygons
  acc += orient2d(lon[0], lat[0], lon[i], lat[i], lon[i + 1], lat[i + 1]);
  acc += static_cast<int>(point_in_rings(rings, lon[i], lat[i]));
  uint64_t n_out = 0;
  acc += static_cast<int>(clip_segment(rings, lon[i], lat[i], lon[i + 1], lat[i + 1], scratch, 64, intervals, 16, &n_out));
  // projection (imagery): views, sampling, layout, back-projected outlines
  const projection::Equirect eq{64, 32};
  const projection::View view{lon[i], lat[i], 1.3, 1.3, 16, 16};
  uint8_t px[3];
  const uint8_t img[64 * 32 * 3] = {};
  view_pixel_element(img, 64, 32, 3, 64 * 3, projection::view_frame(view), 3, 4, px);
  projection::View views[40];
  acc += projection::equirect_views(eq, 1.3, 0.26, views, 40) + px[0];
  // fast view rendering: exact corners (atan2_poly), the tile bound, fixed-point positions and sampler
  const projection::ViewRays rays = projection::view_rays(view);
  double cu[4], cv[4];
  for (int k = 0; k < 4; ++k) projection::frame_to_equirect(rays.frame, eq, (k & 1) * 8, (k >> 1) * 8, &cu[k], &cv[k]);
  acc += projection::view_tile_error_bound(rays, eq, 0, 0, 8) + projection::atan2_poly(lat[i], lon[i]);
  const projection::ViewTile tile = projection::make_view_tile(eq, 0, 0, 3, cu, cv);
  int64_t qu, qv;
  projection::view_tile_position(tile, 2, 5, &qu, &qv);
  projection::view_position_exact(cu[0], cv[0], &qu, &qv);
  projection::sample_bilinear_fixed(img, 64, 32, 3, 64 * 3, qu, qv, px);
  view_tile_pixel_element(img, 64, 32, 3, 64 * 3, tile, 1, 6, px);
  view_exact_pixel_element(img, 64, 32, 3, 64 * 3, rays.frame, 3, 4, px);
  acc += px[1] + static_cast<double>(qu + qv);
  double bu[32], bv[32], vx, vy;
  acc += projection::view_box_outline(view, eq, 2, 2, 9, 9, 4, bu, bv, 32);
  acc += projection::view_pixel(view, projection::direction(lon[i], lat[i]), &vx, &vy) + projection::view_oversampling(view, eq);
  // wide perspective and fisheye photos: cameras, their views, back-projection, clamped sampling
  for (int model = 0; model < 2; ++model) {
    const projection::Camera cam = model == 0 ? projection::pinhole_camera(64, 32, 2.1) : projection::fisheye_camera(64, 32, 3.1);
    double cx, cy;
    const projection::Vec3 ray = projection::camera_ray(cam, lon[i], lat[i]);
    acc += projection::camera_pixel(cam, ray, &cx, &cy) + cx + cy + projection::camera_density(cam, ray);
    acc += projection::camera_views(cam, 1.3, 0.26, views, 40) + projection::camera_view_oversampling(views[0], cam);
    acc += projection::view_to_camera(view, cam, 3, 4, &cx, &cy);
    const double pxs[4] = {2, 9, 9, 2}, pys[4] = {2, 2, 9, 9};
    acc += projection::view_polygon_to_camera(view, cam, pxs, pys, 4, 4, bu, bv, 32);
    projection::sample_bilinear_clamp(img, 64, 32, 3, 64 * 3, cx, cy, px);
    camera_view_pixel_element(img, cam, 3, 64 * 3, projection::view_frame(view), 3, 4, px);
    acc += projection::camera_border_ray(cam, 5).z + px[2];
  }
  // JPEG block re-encoding
  int32_t blk[64], t[64];
  uint16_t qt[64];
  int16_t coef[64];
  for (int k = 0; k < 64; ++k) blk[k] = dct::rgb_to_component(k % 3, k, 2 * k, 255 - k) + dct::downsample(4 * k, 2, 2, k), qt[k] = static_cast<uint16_t>(k + 1);
  dct::forward_dct_quantise(blk, qt, coef);
  dct::forward_dct_islow(blk, t);
  double back[64];
  dct::inverse_dct(coef, qt, back);
  acc += dct::rgb_to_y(1, 2, 3) + dct::rgb_to_cb(1, 2, 3) + dct::rgb_to_cr(1, 2, 3) + back[5] + coef[0] + t[3];
  // segment x edge cuts
  const EdgeCut ec = edge_cut(lon[i], lat[i], lon[i + 1], lat[i + 1], 0.5, 0.5, 1.5, 2.5, 0.25, 1.0);
  acc += ec.ta + ec.tb + ec.kind;
  // region blur
  double eu[8], ev[8];
  int radii[3];
  blur::ellipse_polygon(0, 0, 10, 8, 8, eu, ev);
  blur::box_radii(blur::gaussian_sigma(10, 8, 0.25), radii);
  acc += blur::covers(eu, ev, 8, 5, 4) + blur::box_element(img + 30, 3, 10, radii[0], 0, 63) + radii[2];
  out[i] = acc + static_cast<double>(n_out);
}

}  // namespace geoshard::cuda
