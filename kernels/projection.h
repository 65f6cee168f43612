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
  if (i >= W) {  // one turn off (the common case) without a division
    i -= W;
    if (i >= W) i %= W;
  } else if (i < 0) {
    i += W;
    if (i < 0) i = i % W + W;
    if (i == W) i = 0;
  }
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

// ---- Fast view rendering: exact coordinates on a sparse grid, interpolated in between ----
//
// What render_equirect_view (kernels/batch.h) runs instead of the exact math at every pixel. The
// view is cut into square tiles of T = 2^shift pixels (16 x 16 at the top level). The source
// coordinates (u, v) -- frame_to_equirect: the frame's ray, two atan2 (atan2_poly, within 1e-14 rad
// of libm's) -- are computed at the tile's four corners only, and bilinearly interpolated in
// between in 64-bit fixed point. A tile is interpolated only when view_tile_error_bound proves the
// interpolation error at most kViewTileTolerance (1/32 px) in u and in v; otherwise it is split in
// four, down to single pixels, which take the exact path (a tile holding a pole always ends there;
// around a pole u curves as 1/distance², so the exact path covers a few degrees there).
//
// Why the bound holds (view_tile_error_bound). Bilinear interpolation of a C² function f on a
// square of side T errs by -(a(T-a)/2 f_xx(ξ) + [b(T-b)/2 f_yy]) at (a, b): interpolate along x,
// then along y (a convex combination of the columns' errors); the mixed derivative plays no part.
// So |error| <= T²/8 (max|f_xx| + max|f_yy|), and T²/8 max(max|f_xx|, max|f_yy|) when f_xx and
// f_yy have opposite signs over the whole tile. Along a pixel row or column the ray is affine,
// r(t) = r0 + t d (d = frame.dx or frame.dy, one pixel). With p, q the horizontal (x, z) parts of
// r and d, the longitude θ = atan2(p_x, p_z) has θ' = (p × q)/|p|² and
// θ'' = -2 (p × q)(p · q)/|p|⁴, also |θ''| <= |q|²/|p|². The latitude φ = atan2(r_y, |p|) has
// φ' = N/|r|² with N = (|p|² d_y - r_y (p · q))/|p| (and |N| <= |r × d|: the latitude moves no
// faster than the direction), N' = -r_y (p × q)²/|p|³, so φ'' = -r_y (p × q)²/(|p|³ |r|²)
// - 2 N (r · d)/|r|⁴. p × q, p · q, r · d and r_y are affine in the pixel, |p|² and |r × d|² convex,
// so their largest magnitudes over a tile are at its corners, and an affine factor keeps its sign
// over the tile when it does at the corners; |r|² = 1 + X² + Y² for the camera-frame ray (X, Y, 1)
// with X affine in x and Y in y; min|p| is the distance of the origin from the parallelogram of the
// corners' horizontal parts (0 when the tile holds a pole: never interpolated). Then
// u'' = W/(2π) θ'' and v'' = -H/π φ''. A sub-tile's bound is at most its parent's x (its side /
// the parent's)²: every factor is taken over less (the renderer uses this to skip bounds).
// The lift of θ over a tile that holds no pole is continuous and spans less than π, so the
// corners' u are unwrapped to within W/2 of the first corner's (make_view_tile): a tile across the
// seam interpolates the continuous u and the sampler wraps it.
//
// Positions and sampling. Corners are rounded to 2^-kViewCoordBits px; a pixel's interpolated
// position is rounded to nearest 2^-kViewSampleBits = 1/128 px (view_tile_position; the exact path
// rounds the same way: view_position_exact), and sample_bilinear_fixed reads the 2 x 2 footprint
// with 7-bit integer weights (cv::remap uses 5 bits: INTER_BITS), exact integer sums, rounded to
// nearest. Guaranteed: the position sampled for every view pixel is within
// kViewPositionErrorBound = 1/32 + 2^-17 + 1/256 < 0.0352 px (up to double rounding, ~1e-9 px) of
// the exact (u, v) (libm's atan2) in each coordinate (modulo W in u);
// tests/kernels/view_render_test.cpp checks it over random views. Everything after the corners
// is integer, and the corners use only + - * / sqrt, so the CPU loop and a GPU kernel calling
// view_tile_position + sample_bilinear_fixed (built with --fmad=false) give identical bytes.

constexpr int kViewCoordBits = 16;      // corner coordinates: units of 2^-16 px
constexpr int kViewSampleBits = 7;      // sample positions: units of 1/128 px (7-bit weights)
constexpr int kViewSampleOne = 1 << kViewSampleBits;
constexpr int kViewTileShift = 4;       // top-level tiles of 16 x 16 pixels
constexpr double kViewTileTolerance = 1.0 / 32;  // interpolation error allowed per coordinate, px
// Largest distance between a sampled position and the exact one, per coordinate (px).
constexpr double kViewPositionErrorBound =
    kViewTileTolerance + 0.5 / (1 << kViewCoordBits) + 0.5 / kViewSampleOne;

// A view's rays in the form the tiles need: world ray of pixel (x, y) = frame_ray(frame, x, y),
// camera-frame ray (X0 + x Xs, Y0 + y Ys, 1).
struct ViewRays {
  ViewFrame frame;
  double X0, Xs, Y0, Ys;
};
GEOSHARD_HD_INLINE ViewRays view_rays(const View& w) {
  const double tx = tan(w.hfov / 2), ty = tan(w.vfov / 2);
  return ViewRays{view_frame(w), (0.5 / w.width * 2 - 1) * tx, 2 * tx / w.width, (1 - 0.5 / w.height * 2) * ty,
                  -2 * ty / w.height};
}

// atan2 from + - * / and comparisons only, so host and device give the same bits (libm's and
// CUDA's atan2 may differ in the last place), and ~3x cheaper than libm's: |t| <= tan(π/8) after
// reduction (atan r = π/4 + atan((r - 1)/(r + 1)) for r > tan(π/8)), then t P(t²) with P of
// degree 8 interpolating atan(t)/t at Chebyshev nodes of t² in [0, tan²(π/8)]. Within 1e-14 rad
// of atan2 (tests: kernels_view_render_test).
GEOSHARD_HD_INLINE double atan2_poly(double y, double x) {
  const double ax = fabs(x), ay = fabs(y);
  const double mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax;
  if (!(mx > 0)) return 0;
  double t, base;
  if (mn > 0.41421356237309503 * mx) {
    t = (mn - mx) / (mn + mx), base = kPi / 4;
  } else {
    t = mn / mx, base = 0;
  }
  const double z = t * t;
  double p = 0.030662440370424447;
  p = p * z - 0.058745056213078309;
  p = p * z + 0.075637035519151921;
  p = p * z - 0.090783920729434239;
  p = p * z + 0.11110385046148014;
  p = p * z - 0.14285690423839287;
  p = p * z + 0.19999999604891977;
  p = p * z - 0.33333333330803444;
  p = p * z + 0.99999999999997324;
  double a = base + t * p;
  if (ay > ax) a = kPi / 2 - a;
  if (x < 0) a = kPi - a;
  return y < 0 ? -a : a;
}

// Source coordinates of view pixel (x, y) as the tiles' corners and the exact path compute them:
// equirect_pixel of the frame's ray with atan2_poly (within ~1e-14 rad, i.e. 1e-11 px for W <
// 10^5, of view_pixel_element's libm coordinates).
GEOSHARD_HD_INLINE void frame_to_equirect(const ViewFrame& f, const Equirect& e, double x, double y, double* u,
                                          double* v) {
  const Vec3 d = frame_ray(f, x, y);
  *u = (atan2_poly(d.x, d.z) + kPi) / (2 * kPi) * e.width - 0.5;
  *v = (kPi / 2 - atan2_poly(d.y, sqrt(d.x * d.x + d.z * d.z))) / kPi * e.height - 0.5;
}

// Squared distance of the origin from the convex quadrilateral (px[k], pz[k]), k = 0..3 in order
// around it; 0 when the quadrilateral holds the origin (or it lies on an edge).
GEOSHARD_HD_INLINE double origin_distance2_quad(const double* px, const double* pz) {
  bool pos = true, neg = true;
  double best = 1e300;
  for (int i = 0; i < 4; ++i) {
    const int j = (i + 1) & 3;
    const double ex = px[j] - px[i], ez = pz[j] - pz[i];
    const double cr = ez * px[i] - ex * pz[i];  // edge x (origin - vertex)
    if (!(cr > 0)) pos = false;
    if (!(cr < 0)) neg = false;
    const double len2 = ex * ex + ez * ez, proj = -(px[i] * ex + pz[i] * ez);
    const double t = !(proj > 0) ? 0 : proj >= len2 ? 1 : proj / len2;
    const double dx = px[i] + t * ex, dz = pz[i] + t * ez, d2 = dx * dx + dz * dz;
    if (d2 < best) best = d2;
  }
  return pos || neg ? 0 : best;
}

// Upper bound (px) on |bilinear interpolation from the corners - exact| of u and of v over the
// tile with corners at pixel centres (x0, y0) .. (x0 + side, y0 + side) (the derivation above).
// Returns 1e300 when the tile holds a pole or comes within 1e-6 of one. A sub-tile's bound is at
// most its parent's times (its side / the parent's side)² (the same derivatives over less).
GEOSHARD_HD_INLINE double view_tile_error_bound(const ViewRays& r, const Equirect& e, double x0, double y0,
                                                double side) {
  // |r|² = 1 + X² + Y²: X and Y monotone along the tile's sides.
  const double xa = r.X0 + x0 * r.Xs, xb = r.X0 + (x0 + side) * r.Xs;
  const double ya = r.Y0 + y0 * r.Ys, yb = r.Y0 + (y0 + side) * r.Ys;
  const double x2min = (xa <= 0) != (xb <= 0) ? 0 : (xa * xa < xb * xb ? xa * xa : xb * xb);
  const double y2min = (ya <= 0) != (yb <= 0) ? 0 : (ya * ya < yb * yb ? ya * ya : yb * yb);
  const double r2min = 1 + x2min + y2min;
  const Vec3 dx = r.frame.dx, dy = r.frame.dy;
  const double dx2 = dot(dx, dx), dy2 = dot(dy, dy);
  // Largest magnitudes over the corners (affine functions of the pixel); crosses of 3-vectors squared.
  double hx_cross = 0, hx_dot = 0, hy_cross = 0, hy_dot = 0, rx_cross2 = 0, rx_dot = 0, ry_cross2 = 0, ry_dot = 0,
         ymax = 0, pp2max = 0;
  bool nonneg[4] = {true, true, true, true}, nonpos[4] = {true, true, true, true};
  double px[4], pz[4];
  for (int k = 0; k < 4; ++k) {
    // Corners in order around the tile: (0,0), (1,0), (1,1), (0,1).
    const double cx = x0 + ((k == 1 || k == 2) ? side : 0), cy = y0 + (k >= 2 ? side : 0);
    const Vec3 c = frame_ray(r.frame, cx, cy);
    px[k] = c.x, pz[k] = c.z;
    pp2max = c.x * c.x + c.z * c.z > pp2max ? c.x * c.x + c.z * c.z : pp2max;
    const double s1 = c.x * dx.z - c.z * dx.x, s2 = c.x * dx.x + c.z * dx.z;
    const double s3 = c.x * dy.z - c.z * dy.x, s4 = c.x * dy.x + c.z * dy.z;
    const double a1 = fabs(s1), a2 = fabs(s2), a3 = fabs(s3), a4 = fabs(s4);
    // Whether each factor keeps a sign over the tile (affine: when it does at the corners).
    nonneg[0] &= s1 >= 0, nonpos[0] &= s1 <= 0, nonneg[1] &= s2 >= 0, nonpos[1] &= s2 <= 0;
    nonneg[2] &= s3 >= 0, nonpos[2] &= s3 <= 0, nonneg[3] &= s4 >= 0, nonpos[3] &= s4 <= 0;
    // |c × d|² = |c|² |d|² - (c · d)² (Lagrange), clamped at 0 against rounding.
    const double c2 = dot(c, c), cdx = dot(c, dx), cdy = dot(c, dy);
    const double a5 = c2 * dx2 - cdx * cdx, a6 = fabs(cdx), a7 = c2 * dy2 - cdy * cdy, a8 = fabs(cdy);
    hx_cross = a1 > hx_cross ? a1 : hx_cross, hx_dot = a2 > hx_dot ? a2 : hx_dot;
    hy_cross = a3 > hy_cross ? a3 : hy_cross, hy_dot = a4 > hy_dot ? a4 : hy_dot;
    rx_cross2 = a5 > rx_cross2 ? a5 : rx_cross2, rx_dot = a6 > rx_dot ? a6 : rx_dot;
    ry_cross2 = a7 > ry_cross2 ? a7 : ry_cross2, ry_dot = a8 > ry_dot ? a8 : ry_dot;
    ymax = fabs(c.y) > ymax ? fabs(c.y) : ymax;
  }
  const double p2 = origin_distance2_quad(px, pz);  // min |p|² over the tile
  if (!(p2 > 1e-12)) return 1e300;
  const double p4 = p2 * p2, pmin = sqrt(p2);
  const double qx2 = dx.x * dx.x + dx.z * dx.z, qy2 = dy.x * dy.x + dy.z * dy.z;
  // θ'' = -2 (p × q)(p · q) / |p|⁴, and |θ''| <= |q|² / |p|².
  double txx = 2 * hx_cross * hx_dot / p4, tyy = 2 * hy_cross * hy_dot / p4;
  txx = txx < qx2 / p2 ? txx : qx2 / p2;
  tyy = tyy < qy2 / p2 ? tyy : qy2 / p2;
  // φ'' = -r_y (p × q)² / (|p|³ |r|²) - 2 N (r · d) / |r|⁴ with N = |r|² φ' = (|p|² d_y - r_y (p · q)) / |p|,
  // and |N| <= |r × d| (the latitude moves no faster than the direction).
  const double r4 = r2min * r2min, pr = p2 * pmin * r2min;
  double nx = (pp2max * fabs(dx.y) + ymax * hx_dot) / pmin, ny = (pp2max * fabs(dy.y) + ymax * hy_dot) / pmin;
  const double kx = sqrt(rx_cross2 > 0 ? rx_cross2 : 0), ky = sqrt(ry_cross2 > 0 ? ry_cross2 : 0);
  nx = nx < kx ? nx : kx;
  ny = ny < ky ? ny : ky;
  const double pxx = ymax * hx_cross * hx_cross / pr + 2 * nx * rx_dot / r4;
  const double pyy = ymax * hy_cross * hy_cross / pr + 2 * ny * ry_dot / r4;
  const double t2 = side * side / 8;
  // θ_xx and θ_yy of opposite signs over the whole tile: the two interpolation errors cancel
  // in part, and the larger alone bounds their sum.
  int sg[4];
  for (int i = 0; i < 4; ++i) sg[i] = nonneg[i] ? 1 : nonpos[i] ? -1 : 0;
  const bool opposite = sg[0] * sg[1] * sg[2] * sg[3] < 0;
  const double tsum = opposite ? (txx > tyy ? txx : tyy) : txx + tyy;
  const double eu = t2 * e.width / (2 * kPi) * tsum, ev = t2 * e.height / kPi * (pxx + pyy);
  return eu > ev ? eu : ev;
}

// A tile ready for interpolation: pixels [x0, x0 + 2^shift) x [y0, y0 + 2^shift) of the view,
// corner coordinates (order (x0, y0), (x0 + T, y0), (x0, y0 + T), (x0 + T, y0 + T)) in units of
// 2^-kViewCoordBits px, u unwrapped to within W/2 of the first corner's.
struct ViewTile {
  int x0, y0, shift;
  int64_t u[4], v[4];
};
// floor to an integer by a conversion (floor() is a library call without SSE4.1), |x| < 2^62.
GEOSHARD_HD_INLINE int64_t floor_to_int64(double x) {
  const int64_t i = static_cast<int64_t>(x);
  return i - (static_cast<double>(i) > x ? 1 : 0);
}
GEOSHARD_HD_INLINE int64_t view_coord_fixed(double c) {
  return floor_to_int64(c * static_cast<double>(int64_t{1} << kViewCoordBits) + 0.5);
}
// From the exact corner coordinates (frame_to_equirect of the four corners, same order).
GEOSHARD_HD_INLINE ViewTile make_view_tile(const Equirect& e, int x0, int y0, int shift, const double* cu,
                                           const double* cv) {
  ViewTile t;
  t.x0 = x0, t.y0 = y0, t.shift = shift;
  for (int k = 0; k < 4; ++k) {
    double u = cu[k];
    if (k > 0) {
      while (u - cu[0] > e.width / 2.0) u -= e.width;
      while (cu[0] - u > e.width / 2.0) u += e.width;
    }
    t.u[k] = view_coord_fixed(u);
    t.v[k] = view_coord_fixed(cv[k]);
  }
  return t;
}
// The shift from a tile's interpolation sums (units 2^-kViewCoordBits / T²) to sample positions.
GEOSHARD_HD_INLINE int view_tile_sum_shift(int shift) { return kViewCoordBits + 2 * shift - kViewSampleBits; }
// Sample position (units 1/kViewSampleOne px, rounded to nearest) of the tile's pixel
// (x0 + a, y0 + b), 0 <= a, b < 2^shift: the bilinear interpolation of the corners, exact in
// integers. The CPU loop steps the same sums incrementally (identical values).
GEOSHARD_HD_INLINE void view_tile_position(const ViewTile& t, int a, int b, int64_t* qu, int64_t* qv) {
  const int64_t T = int64_t{1} << t.shift;
  const int64_t w0 = (T - a) * (T - b), w1 = a * (T - b), w2 = (T - a) * b, w3 = int64_t{a} * b;
  const int sh = view_tile_sum_shift(t.shift);
  const int64_t half = int64_t{1} << (sh - 1);
  *qu = (t.u[0] * w0 + t.u[1] * w1 + t.u[2] * w2 + t.u[3] * w3 + half) >> sh;
  *qv = (t.v[0] * w0 + t.v[1] * w1 + t.v[2] * w2 + t.v[3] * w3 + half) >> sh;
}
// The exact path's sample position: (u, v) rounded to nearest 1/kViewSampleOne px.
GEOSHARD_HD_INLINE void view_position_exact(double u, double v, int64_t* qu, int64_t* qv) {
  *qu = floor_to_int64(u * kViewSampleOne + 0.5);
  *qv = floor_to_int64(v * kViewSampleOne + 0.5);
}
// Bilinear sample of an 8-bit image (as sample_bilinear_equirect: wraps at the seam and across
// the poles) at the fixed-point position (qu, qv) (units 1/kViewSampleOne px; qu may be off the
// image by up to W on either side, qv within [-H, 2H - 1)). 7-bit weights, exact integer sums
// ((128 - a) p00 + a p10) (128 - b) + (...) b, rounded to nearest: a constant image stays constant,
// at a position on a pixel centre the pixel itself.
GEOSHARD_HD_INLINE void sample_bilinear_fixed(const uint8_t* img, int W, int H, int channels, int64_t stride,
                                              int64_t qu, int64_t qv, uint8_t* out) {
  const int i0 = static_cast<int>(qu >> kViewSampleBits), j0 = static_cast<int>(qv >> kViewSampleBits);
  const int a = static_cast<int>(qu & (kViewSampleOne - 1)), b = static_cast<int>(qv & (kViewSampleOne - 1));
  int xi[4], yj[4];
  if (i0 >= 0 && i0 + 1 < W && j0 >= 0 && j0 + 1 < H) {
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
  const int na = kViewSampleOne - a, nb = kViewSampleOne - b;
  constexpr int kHalf = 1 << (2 * kViewSampleBits - 1);
  for (int c = 0; c < channels; ++c) {
    const int top = na * p00[c] + a * p10[c], bot = na * p01[c] + a * p11[c];
    out[c] = static_cast<uint8_t>((top * nb + bot * b + kHalf) >> (2 * kViewSampleBits));
  }
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


// ---- Wide perspective and fisheye photos: cameras, their views, back-projection ----
//
// A planar photo W x H is a camera looking along +z of its own frame (x right, y up: the frame
// views are defined in, so a View's yaw / pitch are taken relative to the photo's optical axis),
// principal point at the image centre, square pixels, pixel centres at integers, image y down:
//  - pinhole (projection "perspective"): f = (W / 2) / tan(hfov / 2) px;
//    pixel (u, v) <-> ray (X, Y, 1) with X = (u + 0.5 - W/2) / f, Y = -(v + 0.5 - H/2) / f.
//  - equidistant fisheye (projection "fisheye"): r = f θ, θ the angle from the optical axis and r
//    the distance (px) from the image centre, f = W / hfov px per radian, i.e. hfov is the field
//    across the image's full width ("full frame": for a circular fisheye whose image circle just
//    fits the width, hfov is the circle's field; the black corners outside the circle are then
//    views of nothing and cost only time). Rays up to θ < π (hfov < 360°) are valid.
// The source's angular resolution is not uniform: at angle α off axis a pinhole has f / cos²α px
// per radian radially (f / cos α tangentially), a fisheye f radially and f θ / sin θ tangentially.

enum CameraModel : int { kPinholeCamera = 0, kFisheyeCamera = 1 };

struct Camera {
  int model;          // CameraModel
  int width, height;  // pixels
  double f;           // pinhole: focal length (px); fisheye: px per radian
};

GEOSHARD_HD_INLINE Camera pinhole_camera(int width, int height, double hfov) {
  return Camera{kPinholeCamera, width, height, width / 2.0 / tan(hfov / 2)};
}
GEOSHARD_HD_INLINE Camera fisheye_camera(int width, int height, double hfov) {
  return Camera{kFisheyeCamera, width, height, width / hfov};
}

// Unit ray in the camera frame of source pixel (u, v) (continuous, centres at integers).
GEOSHARD_HD_INLINE Vec3 camera_ray(const Camera& c, double u, double v) {
  const double px = u + 0.5 - c.width / 2.0, py = -(v + 0.5 - c.height / 2.0);
  if (c.model == kPinholeCamera) {
    const double X = px / c.f, Y = py / c.f, n = sqrt(X * X + Y * Y + 1);
    return Vec3{X / n, Y / n, 1 / n};
  }
  const double r = sqrt(px * px + py * py);
  if (!(r > 0)) return Vec3{0, 0, 1};
  const double t = r / c.f, s = sin(t) / r;
  return Vec3{px * s, py * s, cos(t)};
}

// Source pixel of a camera-frame direction (need not be unit). False when it has none: behind a
// pinhole (z <= 0) or straight behind a fisheye. The pixel may lie outside the image.
GEOSHARD_HD_INLINE bool camera_pixel(const Camera& c, const Vec3& d, double* u, double* v) {
  double sx, sy;
  if (c.model == kPinholeCamera) {
    if (!(d.z > 0)) return false;
    sx = c.f * d.x / d.z, sy = c.f * d.y / d.z;
  } else {
    const double rho = sqrt(d.x * d.x + d.y * d.y);
    if (!(rho > 0)) {
      if (!(d.z > 0)) return false;
      sx = 0, sy = 0;
    } else {
      const double t = atan2(rho, d.z);  // θ in [0, π]
      sx = c.f * t * d.x / rho, sy = c.f * t * d.y / rho;
    }
  }
  *u = sx + c.width / 2.0 - 0.5;
  *v = -sy + c.height / 2.0 - 0.5;
  return true;
}

// The source's finest angular resolution (px per radian, the larger of radial and tangential) in
// direction d (camera frame). Infinite behind a pinhole.
GEOSHARD_HD_INLINE double camera_density(const Camera& c, const Vec3& d) {
  const double n = sqrt(dot(d, d)), rho = sqrt(d.x * d.x + d.y * d.y);
  if (c.model == kPinholeCamera) {
    const double ca = d.z / n;
    return ca > 0 ? c.f / (ca * ca) : 1e300;
  }
  const double t = atan2(rho, d.z);
  return t < 1e-8 ? c.f : c.f * t / sin(t);
}

// Bilinear sample at continuous (u, v) with the position clamped to the image (no wrap): a
// position off the image repeats the border. 8-bit, `channels` interleaved, `stride` bytes per
// row; rounded to nearest, fixed order of operations (bit-identical on host and device).
GEOSHARD_HD_INLINE void sample_bilinear_clamp(const uint8_t* img, int W, int H, int channels, int64_t stride, double u,
                                              double v, uint8_t* out) {
  if (!(u > 0)) u = 0;  // (also NaN)
  if (!(v > 0)) v = 0;
  if (u > W - 1) u = W - 1;
  if (v > H - 1) v = H - 1;
  const double fu = floor(u), fv = floor(v);
  const int i0 = static_cast<int>(fu), j0 = static_cast<int>(fv);
  const int i1 = i0 + 1 < W ? i0 + 1 : i0, j1 = j0 + 1 < H ? j0 + 1 : j0;
  const double a = u - fu, b = v - fv;
  const double w00 = (1 - a) * (1 - b), w10 = a * (1 - b), w01 = (1 - a) * b, w11 = a * b;
  const uint8_t* p00 = img + j0 * stride + static_cast<int64_t>(i0) * channels;
  const uint8_t* p10 = img + j0 * stride + static_cast<int64_t>(i1) * channels;
  const uint8_t* p01 = img + j1 * stride + static_cast<int64_t>(i0) * channels;
  const uint8_t* p11 = img + j1 * stride + static_cast<int64_t>(i1) * channels;
  for (int ch = 0; ch < channels; ++ch) {
    const double s = w00 * p00[ch] + w10 * p10[ch] + w01 * p01[ch] + w11 * p11[ch];
    const double r = floor(s + 0.5);
    out[ch] = static_cast<uint8_t>(r < 0 ? 0 : r > 255 ? 255 : r);
  }
}

// Source position of view pixel (x, y) of a view cut out of a camera's photo (the view's yaw and
// pitch relative to the camera frame). False when the ray has no source pixel (behind a pinhole).
GEOSHARD_HD_INLINE bool view_to_camera(const View& w, const Camera& c, double x, double y, double* u, double* v) {
  return camera_pixel(c, view_direction(w, x, y), u, v);
}

// The photo's outline as rays: point k of kCameraBorderSamples around the image's edge (pixel
// edges: u in [-0.5, W - 0.5], v in [-0.5, H - 0.5]), clockwise from the top-left corner.
constexpr int kCameraBorderSamples = 2048;
GEOSHARD_HD_INLINE Vec3 camera_border_ray(const Camera& c, int k) {
  const int q = kCameraBorderSamples / 4, side = k / q;
  const double t = static_cast<double>(k % q) / q;
  const double W = c.width, H = c.height;
  double u, v;
  if (side == 0) u = -0.5 + t * W, v = -0.5;
  else if (side == 1) u = W - 0.5, v = -0.5 + t * H;
  else if (side == 2) u = W - 0.5 - t * W, v = H - 0.5;
  else u = -0.5, v = H - 0.5 - t * H;
  return camera_ray(c, u, v);
}

// Square views of field of view `fov` (<= the caller's limit, e.g. 75°) covering a camera's whole
// field of view so that every object up to `overlap` wide whose centre the photo sees lies
// wholly inside at least one view -- the idea of equirect_views restricted to the photo: in the
// camera frame (longitude atan2(x, z), latitude atan2(y, |(x, z)|)) rings of axes at latitudes
// 0, ±rho, ±2rho, ... (rho = (fov - overlap) / 2; each ring's longitude spacing such that its band
// of ±rho/2 is within rho of an axis), but each ring only over the longitudes the photo covers in
// its band, and rings and polar views only where the photo reaches. The photo's extent is taken
// from its border (kCameraBorderSamples rays; the latitude extremes and, within a band, the
// longitude extremes of both models lie on the border), widened by the largest angle between two
// consecutive border samples; a band the border does not cross, a band on the side of a pole the
// photo sees, or a border crossing longitude ±π gets a full ring. View size: the source's finest
// resolution at the view's axis (camera_density), so views never undersample the photo at their
// centres; for an axis off the photo, the resolution at the photo's border point nearest to it.
// Writes at most max_views; returns the count. Requires 0 < overlap < fov < π, hfov < 2π.
GEOSHARD_HD_INLINE int camera_views(const Camera& c, double fov, double overlap, View* out, int max_views) {
  const double rho = (fov - overlap) / 2;
  const double pole_band = kPi / 2 - rho;
  double lat_min = 1e300, lat_max = -1e300, margin = 0, dens_max = 0;
  Vec3 prev = camera_border_ray(c, kCameraBorderSamples - 1);
  for (int k = 0; k < kCameraBorderSamples; ++k) {
    const Vec3 d = camera_border_ray(c, k);
    const double la = latitude(d);
    lat_min = la < lat_min ? la : lat_min, lat_max = la > lat_max ? la : lat_max;
    const double a = angle_between(prev, d);
    margin = a > margin ? a : margin;
    const double de = camera_density(c, d);
    dens_max = de > dens_max ? de : dens_max;
    prev = d;
  }
  double pu, pv;
  const bool north = camera_pixel(c, Vec3{0, 1, 0}, &pu, &pv) && pu >= -0.5 && pu <= c.width - 0.5 && pv >= -0.5 &&
                     pv <= c.height - 0.5;
  const bool south = camera_pixel(c, Vec3{0, -1, 0}, &pu, &pv) && pu >= -0.5 && pu <= c.width - 0.5 && pv >= -0.5 &&
                     pv <= c.height - 0.5;
  if (north) lat_max = kPi / 2;
  if (south) lat_min = -kPi / 2;
  lat_min -= margin, lat_max += margin;
  const double tf = 2 * tan(fov / 2);
  int n = 0;
  auto emit = [&](double yaw, double pitch) {
    const Vec3 axis = direction(yaw, pitch);
    double de = dens_max, au, av;
    if (camera_pixel(c, axis, &au, &av) && au >= -0.5 && au <= c.width - 0.5 && av >= -0.5 && av <= c.height - 0.5) {
      de = camera_density(c, axis);
    } else {  // the axis is off the photo: the resolution at the photo's point nearest to it
      double best = 1e300;
      for (int b = 0; b < kCameraBorderSamples; ++b) {
        const Vec3 d = camera_border_ray(c, b);
        const double a = angle_between(d, axis);
        if (a < best) best = a, de = camera_density(c, d);
      }
    }
    de = de < dens_max ? de : dens_max;
    const int size = static_cast<int>(ceil(de * tf));
    if (n < max_views) out[n] = View{yaw, pitch, fov, fov, size < 16 ? 16 : size, size < 16 ? 16 : size};
    ++n;
  };
  for (int k = 0;; ++k) {
    const double p = k * rho;
    if (k > 0 && p - rho / 2 >= pole_band) break;
    double delta = kPi;  // longitude half-spacing, as equirect_views
    for (int s = -1; s <= 1; s += 2) {
      double phi = p + s * rho / 2;
      if (phi > kPi / 2) phi = kPi / 2;
      const double den = cos(phi) * cos(p);
      if (den <= 0) continue;
      double cc = (cos(rho) - sin(phi) * sin(p)) / den;
      cc = cc < -1 ? -1 : cc > 1 ? 1 : cc;
      const double dl = acos(cc);
      if (dl < delta) delta = dl;
    }
    for (int s = (k == 0 ? 1 : -1); s <= 1; s += 2) {
      const double lo = s * p - rho / 2, hi = s * p + rho / 2;
      if (hi < lat_min || lo > lat_max) continue;  // the photo does not reach this band
      // Longitude extent of the border within the band (widened by the margin).
      double L = -1;
      bool full = (s > 0 && north) || (s < 0 && south) || (k == 0 && (north || south));
      double prev_lon = 0;
      bool have_prev = false;
      for (int b = 0; b < kCameraBorderSamples && !full; ++b) {
        const Vec3 d = camera_border_ray(c, b);
        const double la = latitude(d);
        if (la < lo - margin || la > hi + margin) {
          have_prev = false;
          continue;
        }
        const double lon = longitude(d);
        if (have_prev && fabs(lon - prev_lon) > kPi) full = true;  // crosses ±π
        prev_lon = lon, have_prev = true;
        L = fabs(lon) > L ? fabs(lon) : L;
      }
      if (L < 0) full = true;  // the band lies inside the photo's outline: all longitudes
      L += margin;
      if (full || L >= kPi - 1e-9) {
        const int count = static_cast<int>(ceil(kPi / delta - 1e-12));
        for (int i = 0; i < count; ++i) emit(-kPi + (i + 0.5) * 2 * kPi / count, s * p);
      } else {
        const int count = static_cast<int>(ceil(L / delta - 1e-12));
        for (int i = 0; i < count; ++i) emit(-L + (i + 0.5) * 2 * L / count, s * p);
      }
    }
  }
  if (lat_max > pole_band) emit(0, kPi / 2);
  if (lat_min < -pole_band) emit(0, -kPi / 2);
  return n;
}

// View pixels per radian at the view's centre over the source's (camera_density) in the
// direction of the view's axis: >= 1 means the view does not undersample the photo there.
GEOSHARD_HD_INLINE double camera_view_oversampling(const View& w, const Camera& c) {
  return w.width / (2 * tan(w.hfov / 2)) / camera_density(c, direction(w.yaw, w.pitch));
}

// The outline of a closed polygon given in a view's continuous pixel coordinates (xs, ys: m
// vertices) in the source photo's pixel coordinates, sampled densely (`per_edge` points per edge:
// a view's straight edge is curved in a fisheye photo). Behind a pinhole there is no source
// pixel: the densely sampled outline is first clipped (in view coordinates, where the source's z
// is affine in the pixel) to the half-plane where the source's z >= 1e-6 of the view's unnormalised
// ray (length 1 .. 1/cos(fov/2)): clipped parts lie far outside the photo (|source offset| >= 1e6
// f), so the caller clips the result to the image. A fisheye maps the direction straight behind
// it to the whole circle r = π f: a polygon holding that direction covers the outside of its
// outline, so the ring is then closed around that circle (a cut from the first point out to the
// circle, kFisheyeBackSamples points around it, back; the doubled cut cancels under even-odd) --
// the photo's pixels inside r < π f, i.e. a diagonal field under 360°, are then covered right.
// Writes at most max_points; returns the count (<= 2 m per_edge + kFisheyeBackSamples + 2).
constexpr int kFisheyeBackSamples = 64;
GEOSHARD_HD_INLINE int view_polygon_to_camera(const View& w, const Camera& c, const double* xs, const double* ys, int m,
                                              int per_edge, double* u, double* v, int max_points) {
  const int n = m * per_edge;
  const ViewFrame fr = view_frame(w);
  const double eps = c.model == kPinholeCamera ? 1e-6 : -1e300;  // fisheye: every ray has a pixel
  int out = 0;
  auto sample = [&](int k, double* x, double* y) {
    const int edge = k / per_edge, next = edge + 1 == m ? 0 : edge + 1;
    const double t = static_cast<double>(k % per_edge) / per_edge;
    *x = xs[edge] + t * (xs[next] - xs[edge]), *y = ys[edge] + t * (ys[next] - ys[edge]);
  };
  auto put = [&](double x, double y) {
    double pu = 0, pv = 0;
    Vec3 d = frame_ray(fr, x, y);
    if (c.model == kPinholeCamera && !(d.z > 0)) d.z = 1e-300;  // on the clip line: rounding only
    camera_pixel(c, d, &pu, &pv);
    if (out < max_points) u[out] = pu, v[out] = pv;
    ++out;
  };
  double px, py;
  sample(n - 1, &px, &py);
  double pz = frame_ray(fr, px, py).z - eps;
  for (int k = 0; k < n; ++k) {
    double x, y;
    sample(k, &x, &y);
    const double z = frame_ray(fr, x, y).z - eps;
    const bool in = z >= 0, pin = pz >= 0;
    if (in != pin) {  // the edge crosses the clip line: its crossing point
      const double t = pz / (pz - z);
      put(px + t * (x - px), py + t * (y - py));
    }
    if (in) put(x, y);
    px = x, py = y, pz = z;
  }
  if (c.model == kFisheyeCamera && out > 0) {
    double bx, by;
    bool back = false;
    if (view_pixel(w, Vec3{0, 0, -1}, &bx, &by)) {
      for (int i = 0, j = m - 1; i < m; j = i++)
        if ((ys[i] > by) != (ys[j] > by) && bx < xs[i] + (by - ys[i]) * (xs[j] - xs[i]) / (ys[j] - ys[i])) back = !back;
    }
    if (back && max_points > 0) {
      const double cx = c.width / 2.0 - 0.5, cy = c.height / 2.0 - 0.5, R = kPi * c.f;
      const double u0 = u[0], v0 = v[0], a0 = atan2(v0 - cy, u0 - cx);
      for (int k = 0; k <= kFisheyeBackSamples; ++k) {
        const double a = a0 + 2 * kPi * k / kFisheyeBackSamples;
        if (out < max_points) u[out] = cx + R * cos(a), v[out] = cy + R * sin(a);
        ++out;
      }
      if (out < max_points) u[out] = u0, v[out] = v0;
      ++out;
    }
  }
  return out;
}

}  // namespace geoshard::projection
