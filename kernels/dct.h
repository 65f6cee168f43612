// The JPEG forward DCT of one 8×8 block, quantised with a file's own table, and the JFIF colour
// conversion: what the lossless JPEG writer (io/jpeg_region.h) needs to re-encode only the
// blocks a blur region touches. Plain double precision, one fixed operation order
// (GEOSHARD_HD: the CUDA region blur may produce blocks with the same code).
//
//   F(u,v) = 1/4 C(u) C(v) Σx Σy (f(x,y) - 128) cos((2x+1)uπ/16) cos((2y+1)vπ/16),
//   C(0) = 1/√2, C(k>0) = 1     (ITU-T T.81, A.3.3)
//   coefficient = round(F(u,v) / Q(u,v))   (T.81 A.3.4), natural (row-major) order like libjpeg.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

#if defined(__SSE2__) && !defined(__CUDACC__)
#include <emmintrin.h>
#endif

namespace geoshard::dct {

// JFIF (ITU-R BT.601 full range) RGB -> Y, Cb, Cr as doubles (not rounded).
// One component alone (a caller that needs one computes only it): the same expressions.
// The coefficients by magnitude, as scalars (usable in device code): a Cb or Cr value is
// k_r·r - k_g·g - k_b·b + 128 (Cb: k_r negative, k_b = -0.5), in that order of operations.
constexpr double kYr = 0.299, kYg = 0.587, kYb = 0.114;
constexpr double kCbR = -0.168735892, kCbG = 0.331264108, kCbB = -0.5;
constexpr double kCrR = 0.5, kCrG = 0.418687589, kCrB = 0.081312411;
GEOSHARD_HD_INLINE double rgb_to_y(double r, double g, double b) { return kYr * r + kYg * g + kYb * b; }
GEOSHARD_HD_INLINE double rgb_to_cb(double r, double g, double b) { return kCbR * r - kCbG * g - kCbB * b + 128.0; }
GEOSHARD_HD_INLINE double rgb_to_cr(double r, double g, double b) { return kCrR * r - kCrG * g - kCrB * b + 128.0; }
GEOSHARD_HD_INLINE void rgb_to_ycbcr(double r, double g, double b, double* y, double* cb, double* cr) {
  *y = rgb_to_y(r, g, b);
  *cb = rgb_to_cb(r, g, b);
  *cr = rgb_to_cr(r, g, b);
}

// The DCT basis c[u][x] = C(u)/2 cos((2x+1)uπ/16). forward_dct_quantise() computes it on every
// call (64 cos); callers transforming many blocks compute it once and call
// forward_dct_quantise_basis() -- the same numbers, so the same coefficients.
GEOSHARD_HD_INLINE void dct_basis(double c[8][8]) {
  const double kPi = 3.14159265358979323846;
  for (int u = 0; u < 8; ++u)
    for (int x = 0; x < 8; ++x) c[u][x] = (u == 0 ? 0.35355339059327373 : 0.5) * cos((2 * x + 1) * u * kPi / 16);
}

// round(F / Q) as floor(F / Q + 0.5) (T.81 A.3.4), clamped to the int16 range, for 64
// coefficients in natural order. Without floor() (SSE2, the x86-64 baseline, has no rounding
// instruction; the scalar divides, floors and clamps were ≈ 40 % of the transform's time):
// y = F / Q + 0.5 limited to ±40000 (beyond, the clamp gives the same answer), truncated, one
// less where truncation rounded up (y negative, not whole) -- the integer floor() gives, for
// every y. On the host with SSE2 two lanes at a time (divpd: the same quotients), the clamp
// a saturating pack.
GEOSHARD_HD_INLINE int16_t quantise_one(double f, uint16_t q) {
  double y = f / q + 0.5;
  y = y < -40000.0 ? -40000.0 : y > 40000.0 ? 40000.0 : y;
  int32_t k = static_cast<int32_t>(y);
  k -= static_cast<double>(k) > y;
  k = k < -32768 ? -32768 : k > 32767 ? 32767 : k;
  return static_cast<int16_t>(k);
}

GEOSHARD_HD_INLINE void quantise_scalar(const double* f, const uint16_t* q, int16_t* out) {
  for (int i = 0; i < 64; ++i) out[i] = quantise_one(f[i], q[i]);
}

GEOSHARD_HD_INLINE void quantise(const double* f, const uint16_t* q, int16_t* out) {
#if defined(__SSE2__) && !defined(__CUDACC__)
  const __m128d half = _mm_set1_pd(0.5), lo = _mm_set1_pd(-40000.0), hi = _mm_set1_pd(40000.0);
  const __m128i zero = _mm_setzero_si128();
  for (int i = 0; i < 64; i += 8) {
    const __m128i q16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i));
    const __m128i qa = _mm_unpacklo_epi16(q16, zero), qb = _mm_unpackhi_epi16(q16, zero);  // 4 + 4 int32
    __m128i k4[2];
    for (int h = 0; h < 2; ++h) {
      const __m128i q4 = h ? qb : qa;
      __m128i k2[2];
      for (int j = 0; j < 2; ++j) {
        const __m128d qd = _mm_cvtepi32_pd(j ? _mm_shuffle_epi32(q4, 0x0E) : q4);
        __m128d y = _mm_add_pd(_mm_div_pd(_mm_loadu_pd(f + i + 4 * h + 2 * j), qd), half);
        y = _mm_min_pd(_mm_max_pd(y, lo), hi);
        const __m128i t = _mm_cvttpd_epi32(y);                                   // lanes 0, 1
        const __m128i up = _mm_castpd_si128(_mm_cmpgt_pd(_mm_cvtepi32_pd(t), y));  // 64-bit masks
        k2[j] = _mm_add_epi32(t, _mm_shuffle_epi32(up, 0x08));                   // (-1 where rounded up)
      }
      k4[h] = _mm_unpacklo_epi64(k2[0], k2[1]);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packs_epi32(k4[0], k4[1]));
  }
#else
  quantise_scalar(f, q, out);
#endif
}

// Forward DCT of samples s[y*8 + x] (0..255, level shift applied here), quantised with q[k]
// (natural order, > 0); out[k] in natural order, clamped to the int16 range (libjpeg's JCOEF
// holds the quantised value; the baseline range is checked by the entropy coder).
GEOSHARD_HD_INLINE void forward_dct_quantise_basis(const double c[8][8], const double* s, const uint16_t* q,
                                                   int16_t* out) {
  // Each sum runs over x (then y) in increasing order, from 0, exactly as the plain double loop
  // "for u: acc = 0; for x: acc += c[u][x] * (s[x] - 128)" -- the loops are only nested the other
  // way, so that the eight sums of a row are independent (pipelined / vectorised) rather than one
  // 8-long dependency chain after another. Same operations, same order: same results.
  // The eight sums are named variables, not an array, so that they stay in registers.
  double tmp[8][8];  // rows transformed: tmp[y][u]
  double f[64];      // the coefficients F(u,v), natural order
  for (int y = 0; y < 8; ++y) {
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (int x = 0; x < 8; ++x) {
      const double d = s[y * 8 + x] - 128.0;
      a0 += c[0][x] * d, a1 += c[1][x] * d, a2 += c[2][x] * d, a3 += c[3][x] * d;
      a4 += c[4][x] * d, a5 += c[5][x] * d, a6 += c[6][x] * d, a7 += c[7][x] * d;
    }
    tmp[y][0] = a0, tmp[y][1] = a1, tmp[y][2] = a2, tmp[y][3] = a3;
    tmp[y][4] = a4, tmp[y][5] = a5, tmp[y][6] = a6, tmp[y][7] = a7;
  }
  for (int v = 0; v < 8; ++v) {
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (int y = 0; y < 8; ++y) {
      const double cy = c[v][y];
      a0 += cy * tmp[y][0], a1 += cy * tmp[y][1], a2 += cy * tmp[y][2], a3 += cy * tmp[y][3];
      a4 += cy * tmp[y][4], a5 += cy * tmp[y][5], a6 += cy * tmp[y][6], a7 += cy * tmp[y][7];
    }
    double* fv = f + v * 8;
    fv[0] = a0, fv[1] = a1, fv[2] = a2, fv[3] = a3, fv[4] = a4, fv[5] = a5, fv[6] = a6, fv[7] = a7;
  }
  quantise(f, q, out);
}

GEOSHARD_HD_INLINE void forward_dct_quantise(const double* s, const uint16_t* q, int16_t* out) {
  double c[8][8];
  dct_basis(c);
  forward_dct_quantise_basis(c, s, q, out);
}

// The inverse of the above without quantisation (for tests): samples from dequantised
// coefficients, level shift added back, not rounded.
GEOSHARD_HD_INLINE void inverse_dct(const int16_t* coef, const uint16_t* q, double* s) {
  const double kPi = 3.14159265358979323846;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      double acc = 0;
      for (int v = 0; v < 8; ++v)
        for (int u = 0; u < 8; ++u)
          acc += (u == 0 ? 0.70710678118654752 : 1.0) * (v == 0 ? 0.70710678118654752 : 1.0) * coef[v * 8 + u] *
                 q[v * 8 + u] * cos((2 * x + 1) * u * kPi / 16) * cos((2 * y + 1) * v * kPi / 16);
      s[y * 8 + x] = acc / 4 + 128.0;
    }
}

}  // namespace geoshard::dct
