// Region anonymisation math (DESIGN.md, "The imagery chain", step 5): which pixels a region
// covers, and what they become -- gaussian (three box passes, strength proportional to the
// region's size), pixelate, or solid. Everything is integer arithmetic after the region test, so
// the CPU loop (kernels/batch.h blur_region) and a GPU kernel calling these element functions
// give identical bytes. Pixels outside the region are never written.
//
// A region is a closed polygon in continuous pixel coordinates (pixel centres at integers, as in
// kernels/projection.h): faces arrive as back-projected ellipses, plates as back-projected quads.
// A pixel belongs to the region when its centre is inside (even-odd rule, half-open in x).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace geoshard::blur {

enum class Mode : int { kGaussian = 0, kPixelate = 1, kSolid = 2 };

// Pixel centre (x, y) inside the polygon u/v (n vertices, implicitly closed)? Even-odd with the
// crossing rule (v_i > y) != (v_j > y) and x < x_cross: a fixed expression, so any caller that
// evaluates it for the same numbers gets the same answer.
GEOSHARD_HD_INLINE bool covers(const double* u, const double* v, int n, double x, double y) {
  bool in = false;
  for (int i = 0, j = n - 1; i < n; j = i++) {
    if ((v[i] > y) != (v[j] > y)) {
      const double xc = u[i] + (y - v[i]) * (u[j] - u[i]) / (v[j] - v[i]);
      if (x < xc) in = !in;
    }
  }
  return in;
}

// The ellipse inscribed in the box [x0, x1] x [y0, y1] as an n-vertex polygon (faces).
GEOSHARD_HD_INLINE void ellipse_polygon(double x0, double y0, double x1, double y1, int n, double* u, double* v) {
  const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, rx = (x1 - x0) / 2, ry = (y1 - y0) / 2;
  for (int k = 0; k < n; ++k) {
    const double a = 2 * 3.14159265358979323846 * k / n;
    u[k] = cx + rx * cos(a);
    v[k] = cy + ry * sin(a);
  }
}

// Gaussian strength: sigma = strength * the region's smaller bounding-box side, at least 2 px.
// The default 0.25 leaves no feature finer than the region's quarter (tests/kernels measure the
// residual detail: variance of the Laplacian inside the region, before and after sharpening).
GEOSHARD_HD_INLINE double gaussian_sigma(double w, double h, double strength) {
  const double s = strength * (w < h ? w : h);
  return s < 2 ? 2 : s;
}

// Radii of three box passes whose combination approximates a Gaussian of `sigma` (the
// box-filter cascade of Kovesi 2010: widths wl, wl+2 with m passes of the smaller).
GEOSHARD_HD_INLINE void box_radii(double sigma, int* r) {
  const int n = 3;
  const double ideal = sqrt(12.0 * sigma * sigma / n + 1);
  int wl = static_cast<int>(floor(ideal));
  if (wl % 2 == 0) --wl;
  if (wl < 1) wl = 1;
  const int wu = wl + 2;
  const double m_ideal = (12.0 * sigma * sigma - n * wl * wl - 4.0 * n * wl - 3.0 * n) / (-4.0 * wl - 4.0);
  const int m = static_cast<int>(floor(m_ideal + 0.5));
  for (int i = 0; i < n; ++i) r[i] = ((i < m ? wl : wu) - 1) / 2;
}

// One box-pass element: the rounded mean of `in` over [x - r, x + r] (horizontal, `step` =
// channels) or [y - r, y + r] (vertical, `step` = stride) within the window [lo, hi] of that
// axis, indices clamped to the window (edge replication). `p` points at the element (x, y, c);
// `pos` is x (or y).
GEOSHARD_HD_INLINE uint8_t box_element(const uint8_t* p, int64_t step, int pos, int r, int lo, int hi) {
  int sum = 0;
  for (int k = -r; k <= r; ++k) {
    int q = pos + k;
    q = q < lo ? lo : q > hi ? hi : q;
    sum += p[static_cast<int64_t>(q - pos) * step];
  }
  const int w = 2 * r + 1;
  return static_cast<uint8_t>((sum + w / 2) / w);
}

// The pixelate value of channel c of the cell [cx, ex] x [cy, ey] (inclusive) of `img`: the
// rounded mean of its pixels.
GEOSHARD_HD_INLINE uint8_t cell_mean(const uint8_t* img, int64_t stride, int channels, int c, int cx, int cy, int ex,
                                     int ey) {
  int sum = 0, cnt = 0;
  for (int y = cy; y <= ey; ++y)
    for (int x = cx; x <= ex; ++x) sum += img[y * stride + static_cast<int64_t>(x) * channels + c], ++cnt;
  return static_cast<uint8_t>((sum + cnt / 2) / cnt);
}

}  // namespace geoshard::blur
