// Image projection math for the imagery chain (DESIGN.md, "The imagery chain", steps 2 and 4):
// equirectangular (360°) images, pinhole perspective views cut out of them, bilinear sampling
// that wraps at the ±180° seam and continues across the poles, the layout of views that covers
// the whole sphere with a guaranteed overlap, and the inverse mapping of view pixels back into
// the source image. Pure functions on plain numbers (GEOSHARD_HD): the CUDA view projection
// runs exactly this code.
//
// Conventions.
//  - World frame: y up, z towards longitude 0 on the horizon (the equirect image's centre
//    column), x towards longitude +90° (the right half of the image). A direction is a unit
//    vector d = (cos φ sin θ, sin φ, cos φ cos θ) for longitude θ ∈ [-π, π), latitude φ ∈ [-π/2, π/2].
//  - Equirect image W × H: continuous pixel coordinates with integer values at pixel CENTRES:
//    u = (θ + π) / 2π · W − 0.5, v = (π/2 − φ) / π · H − 0.5. Column 0's left edge is θ = −π;
//    row 0's top edge is the north pole.
//  - A view looks along yaw ψ (longitude of its axis) and pitch τ (latitude of its axis), no
//    roll; a pinhole camera with horizontal / vertical fields of view, w × h pixels, principal
//    point at the image centre, x right and y down in the image, square pixels only when
//    tan(hfov/2)/w == tan(vfov/2)/h (views made by equirect_views are square).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace geoshard::projection {

constexpr double kPi = 3.14159265358979323846;

struct Vec3 {
  double x, y, z;
};

GEOSHARD_HD_INLINE double deg(double rad) { return rad * (180.0 / kPi); }
GEOSHARD_HD_INLINE double rad(double deg) { return deg * (kPi / 180.0); }

GEOSHARD_HD_INLINE Vec3 direction(double lon, double lat) {
  const double c = cos(lat);
  return Vec3{c * sin(lon), sin(lat), c * cos(lon)};
}
// Longitude in [-π, π] and latitude of a (not necessarily unit) direction; atan2 forms are exact
// near the poles where asin would lose precision.
GEOSHARD_HD_INLINE double longitude(const Vec3& d) { return atan2(d.x, d.z); }
GEOSHARD_HD_INLINE double latitude(const Vec3& d) { return atan2(d.y, sqrt(d.x * d.x + d.z * d.z)); }
GEOSHARD_HD_INLINE double dot(const Vec3& a, const Vec3& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
// Angle between two unit directions, accurate for small and large angles.
GEOSHARD_HD_INLINE double angle_between(const Vec3& a, const Vec3& b) {
  const Vec3 c{a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
  return atan2(sqrt(dot(c, c)), dot(a, b));
}

// ---- Equirectangular images ----

struct Equirect {
  int width, height;  // 2:1 for a full sphere
};

// Continuous pixel coordinates (centres at integers) of a direction. u in [-0.5, W - 0.5].
GEOSHARD_HD_INLINE void equirect_pixel(const Equirect& e, const Vec3& d, double* u, double* v) {
  *u = (longitude(d) + kPi) / (2 * kPi) * e.width - 0.5;
  *v = (kPi / 2 - latitude(d)) / kPi * e.height - 0.5;
}
GEOSHARD_HD_INLINE Vec3 equirect_direction(const Equirect& e, double u, double v) {
  const double lon = (u + 0.5) / e.width * 2 * kPi - kPi;
  const double lat = kPi / 2 - (v + 0.5) / e.height * kPi;
  return direction(lon, lat);
}

// The pixel (i, j) of an equirect image as the sphere sees it: columns wrap at the seam; a row
// above the north pole (j < 0) is row -1-j on the meridian opposite (i + W/2), likewise below
// the south pole. Valid for any integer i and for j in [-H, 2H). W must be even for the pole
// rule to land on pixel columns exactly (equirect images are 2:1).
GEOSHARD_HD_INLINE void equirect_wrap(int W, int H, int i, int j, int* wi, int* wj) {
  if (j < 0) {
    j = -1 - j;
    i += W / 2;
  } else if (j >= H) {
    j = 2 * H - 1 - j;
    i += W / 2;
  }
  i %= W;
  if (i < 0) i += W;
  *wi = i;
  *wj = j;
}

// Bilinear sample at continuous (u, v) of an 8-bit image with `channels` interleaved channels
// and `stride` bytes per row, wrapping as equirect_wrap. Writes `channels` bytes, rounded to
// nearest. Weights and the sum are computed in one fixed order (bit-identical on host and device
// without fused multiply-add: the CUDA build uses --fmad=false).
GEOSHARD_HD_INLINE void sample_bilinear_equirect(const uint8_t* img, int W, int H, int channels, int64_t stride,
                                                 double u, double v, uint8_t* out) {
  const double fu = floor(u), fv = floor(v);
  const int i0 = static_cast<int>(fu), j0 = static_cast<int>(fv);
  const double a = u - fu, b = v - fv;
  const double w00 = (1 - a) * (1 - b), w10 = a * (1 - b), w01 = (1 - a) * b, w11 = a * b;
  int xi[4], yj[4];
  if (i0 >= 0 && i0 + 1 < W && j0 >= 0 && j0 + 1 < H) {  // inside: no wrapping needed (same result)
    xi[0] = xi[2] = i0, xi[1] = xi[3] = i0 + 1, yj[0] = yj[1] = j0, yj[2] = yj[3] = j0 + 1;
  } else {
    equirect_wrap(W, H, i0, j0, &xi[0], &yj[0]);
    equirect_wrap(W, H, i0 + 1, j0, &xi[1], &yj[1]);
    equirect_wrap(W, H, i0, j0 + 1, &xi[2], &yj[2]);
    equirect_wrap(W, H, i0 + 1, j0 + 1, &xi[3], &yj[3]);
  }
  const uint8_t* p00 = img + yj[0] * stride + static_cast<int64_t>(xi[0]) * channels;
  const uint8_t* p10 = img + yj[1] * stride + static_cast<int64_t>(xi[1]) * channels;
  const uint8_t* p01 = img + yj[2] * stride + static_cast<int64_t>(xi[2]) * channels;
  const uint8_t* p11 = img + yj[3] * stride + static_cast<int64_t>(xi[3]) * channels;
  for (int c = 0; c < channels; ++c) {
    const double s = w00 * p00[c] + w10 * p10[c] + w01 * p01[c] + w11 * p11[c];
    const double r = floor(s + 0.5);
    out[c] = static_cast<uint8_t>(r < 0 ? 0 : r > 255 ? 255 : r);
  }
}

// ---- Perspective views ----

struct View {
  double yaw, pitch;    // axis direction, radians (longitude, latitude)
  double hfov, vfov;    // full fields of view, radians, each < π
  int width, height;    // pixels
};

// Camera-frame ray (not normalised) of the view pixel at continuous (x, y) (centres at integers).
GEOSHARD_HD_INLINE Vec3 view_ray_camera(const View& w, double x, double y) {
  const double tx = tan(w.hfov / 2), ty = tan(w.vfov / 2);
  return Vec3{((x + 0.5) / w.width * 2 - 1) * tx, (1 - (y + 0.5) / w.height * 2) * ty, 1.0};
}
// Camera frame -> world: pitch about x (up positive), then yaw about y.
GEOSHARD_HD_INLINE Vec3 camera_to_world(const View& w, const Vec3& c) {
  const double cp = cos(w.pitch), sp = sin(w.pitch), cy = cos(w.yaw), sy = sin(w.yaw);
  const double y1 = c.y * cp + c.z * sp, z1 = -c.y * sp + c.z * cp;
  return Vec3{c.x * cy + z1 * sy, y1, -c.x * sy + z1 * cy};
}
GEOSHARD_HD_INLINE Vec3 world_to_camera(const View& w, const Vec3& d) {
  const double cp = cos(w.pitch), sp = sin(w.pitch), cy = cos(w.yaw), sy = sin(w.yaw);
  const double x1 = d.x * cy - d.z * sy, z1 = d.x * sy + d.z * cy;
  return Vec3{x1, d.y * cp - z1 * sp, d.y * sp + z1 * cp};
}
// World direction of view pixel (x, y).
GEOSHARD_HD_INLINE Vec3 view_direction(const View& w, double x, double y) {
  return camera_to_world(w, view_ray_camera(w, x, y));
}
// View pixel of a world direction; false when the direction is behind the camera (or on its
// plane). The pixel may lie outside the view's rectangle.
GEOSHARD_HD_INLINE bool view_pixel(const View& w, const Vec3& d, double* x, double* y) {
  const Vec3 c = world_to_camera(w, d);
  if (!(c.z > 0)) return false;
  const double tx = tan(w.hfov / 2), ty = tan(w.vfov / 2);
  *x = (c.x / c.z / tx + 1) / 2 * w.width - 0.5;
  *y = (1 - c.y / c.z / ty) / 2 * w.height - 0.5;
  return true;
}
// A view's rays as an affine function of the pixel, precomputed once per view (the renderers'
// form: no trigonometry per pixel): ray(x, y) = o + x * dx + y * dy, world frame, not unit.
// Equal to view_direction up to rounding (~1e-16 relative): the camera ray is affine in (x, y)
// and the rotation is linear.
struct ViewFrame {
  Vec3 o, dx, dy;
};
GEOSHARD_HD_INLINE ViewFrame view_frame(const View& w) {
  const double tx = tan(w.hfov / 2), ty = tan(w.vfov / 2);
  const Vec3 c0{(0.5 / w.width * 2 - 1) * tx, (1 - 0.5 / w.height * 2) * ty, 1.0};
  const Vec3 cx{2 * tx / w.width, 0, 0}, cy{0, -2 * ty / w.height, 0};
  const Vec3 o = camera_to_world(w, c0);
  // The rotation of a pure direction (no translation): camera_to_world is linear.
  return ViewFrame{o, camera_to_world(w, cx), camera_to_world(w, cy)};
}
GEOSHARD_HD_INLINE Vec3 frame_ray(const ViewFrame& f, double x, double y) {
  return Vec3{f.o.x + x * f.dx.x + y * f.dy.x, f.o.y + x * f.dx.y + y * f.dy.y, f.o.z + x * f.dx.z + y * f.dy.z};
}

// Equirect source position of view pixel (x, y): what a renderer samples.
GEOSHARD_HD_INLINE void view_to_equirect(const View& w, const Equirect& e, double x, double y, double* u, double* v) {
  equirect_pixel(e, view_direction(w, x, y), u, v);
}

// Sampling density: source pixels per radian at the view's centre over the view's own
// (f = w / (2 tan(hfov/2)) pixels per radian at its centre, more towards its edges). >= 1 means
// the view never undersamples the source.
GEOSHARD_HD_INLINE double view_oversampling(const View& w, const Equirect& e) {
  const double view_px_per_rad = w.width / (2 * tan(w.hfov / 2));
  const double src_px_per_rad = e.width / (2 * kPi);
  return view_px_per_rad / src_px_per_rad;
}

// Square views of field of view `fov` covering the whole sphere so that every spherical cap of
// angular diameter `overlap` (an object up to that size) lies wholly inside at least one view.
// Why it holds: a square pinhole view of half-angle a contains the cone of half-angle a around
// its axis, so a cap of radius r around d is inside the view when angle(d, axis) <= a - r. The
// axes are therefore laid out so that every direction is within rho = (fov - overlap) / 2 of an
// axis: rings of views at latitudes 0, ±rho, ±2rho, ... (each ring's count chosen so that its
// latitude band of ±rho/2 is within rho of an axis even halfway between two axes), up to where
// the polar views (zenith and nadir: the camera operator sits at the nadir) take over, and the
// polar views themselves. View size: the source's resolution at the view's centre
// (view_oversampling == 1, rounded up), never less.
// Writes at most `max_views` views and returns how many the layout has (call with max_views = 0
// to size the buffer). Requires 0 < overlap < fov < π.
GEOSHARD_HD_INLINE int equirect_views(const Equirect& e, double fov, double overlap, View* out, int max_views) {
  const double rho = (fov - overlap) / 2;
  const double pole_band = kPi / 2 - rho;  // |latitude| >= this: within rho of a pole view
  const int size = static_cast<int>(ceil(e.width / (2 * kPi) * 2 * tan(fov / 2)));
  int n = 0;
  auto emit = [&](double yaw, double pitch) {
    if (n < max_views) out[n] = View{yaw, pitch, fov, fov, size, size};
    ++n;
  };
  // Rings at k * rho while their band (k rho ± rho/2) still reaches below the polar band.
  for (int k = 0;; ++k) {
    const double p = k * rho;
    if (k > 0 && p - rho / 2 >= pole_band) break;
    // Longitude half-spacing delta such that points at latitude p ± rho/2 and longitude offset
    // delta are within rho of the axis: cos(rho) <= sin(phi) sin(p) + cos(phi) cos(p) cos(delta).
    double delta = kPi;
    for (int s = -1; s <= 1; s += 2) {
      double phi = p + s * rho / 2;
      if (phi > kPi / 2) phi = kPi / 2;
      const double den = cos(phi) * cos(p);
      if (den <= 0) continue;
      double c = (cos(rho) - sin(phi) * sin(p)) / den;
      if (c < -1) c = -1;
      if (c > 1) c = 1;  // (cannot happen for |phi - p| <= rho/2)
      const double dl = acos(c);
      if (dl < delta) delta = dl;
    }
    const int count = static_cast<int>(ceil(kPi / delta - 1e-12));
    for (int s = (k == 0 ? 1 : -1); s <= 1; s += 2)
      for (int i = 0; i < count; ++i) emit(-kPi + (i + 0.5) * 2 * kPi / count, s * p);
  }
  emit(0, kPi / 2);
  emit(0, -kPi / 2);
  return n;
}

// ---- Back-projection of a region found in a view ----

// The outline of a closed polygon given in a view's continuous pixel coordinates (xs, ys: m
// vertices; a box, or an ellipse's vertices) in equirect pixel coordinates, sampled densely:
// `per_edge` points per polygon edge (edges of a view polygon are curves in the equirect image,
// so vertices alone are wrong on a sphere). u is unwrapped (each point within W/2 of the one
// before), so an outline across the seam runs past u = -0.5 or W - 0.5 -- the caller splits it
// by clipping at the image's side edges with copies shifted by ±W. A polygon holding a pole
// winds once around it: then the outline is closed along the first point's meridian and that
// pole's edge row (v = -0.5 north, H - 0.5 south), so the result is always one simple ring
// covering the region. `inside_x/inside_y`: a point inside the polygon (view coordinates), used
// to tell which pole a winding outline holds. Writes at most `max_points` points; returns how
// many the outline has (m * per_edge, + 3 around a pole).
GEOSHARD_HD_INLINE int view_polygon_outline(const View& w, const Equirect& e, const double* xs, const double* ys, int m,
                                            int per_edge, double* u, double* v, int max_points) {
  const int n = m * per_edge;
  double prev_u = 0, first_u = 0, first_v = 0;
  for (int k = 0; k < n; ++k) {
    const int edge = k / per_edge, next = edge + 1 == m ? 0 : edge + 1;
    const double t = static_cast<double>(k % per_edge) / per_edge;
    const double x = xs[edge] + t * (xs[next] - xs[edge]), y = ys[edge] + t * (ys[next] - ys[edge]);
    double pu, pv;
    view_to_equirect(w, e, x, y, &pu, &pv);
    if (k > 0) {
      while (pu - prev_u > e.width / 2.0) pu -= e.width;
      while (prev_u - pu > e.width / 2.0) pu += e.width;
    } else {
      first_u = pu;
      first_v = pv;
    }
    if (k < max_points) u[k] = pu, v[k] = pv;
    prev_u = pu;
  }
  // Closing the ring: where would the first point be, unwrapped after the last one?
  double close_u = first_u;
  while (close_u - prev_u > e.width / 2.0) close_u -= e.width;
  while (prev_u - close_u > e.width / 2.0) close_u += e.width;
  if (fabs(close_u - first_u) < e.width / 2.0) return n;  // no pole inside
  // A pole inside: north when the north pole's direction projects inside the polygon.
  double px, py;
  bool north = false;
  if (view_pixel(w, Vec3{0, 1, 0}, &px, &py)) {
    for (int i = 0, j = m - 1; i < m; j = i++)
      if ((ys[i] > py) != (ys[j] > py) && px < xs[i] + (py - ys[i]) * (xs[j] - xs[i]) / (ys[j] - ys[i])) north = !north;
  }
  const double vp = north ? -0.5 : e.height - 0.5;
  // The cut along the first point's meridian: (first point, one turn on) -> pole row -> back.
  if (n < max_points) u[n] = close_u, v[n] = first_v;
  if (n + 1 < max_points) u[n + 1] = close_u, v[n + 1] = vp;
  if (n + 2 < max_points) u[n + 2] = first_u, v[n + 2] = vp;
  return n + 3;
}

// The box [x0, x1] x [y0, y1] (continuous view coordinates of its edges), clockwise from
// (x0, y0): view_polygon_outline of its four corners.
GEOSHARD_HD_INLINE int view_box_outline(const View& w, const Equirect& e, double x0, double y0, double x1, double y1,
                                        int per_edge, double* u, double* v, int max_points) {
  const double xs[4] = {x0, x1, x1, x0}, ys[4] = {y0, y0, y1, y1};
  return view_polygon_outline(w, e, xs, ys, 4, per_edge, u, v, max_points);
}

}  // namespace geoshard::projection
