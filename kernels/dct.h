// The JPEG forward DCT of one 8×8 block, quantised with a file's own table, and the JFIF colour
// conversion and chroma downsampling: what the lossless JPEG writer (io/jpeg_region.h) needs to
// re-encode only the blocks a blur region touches. Integer arithmetic throughout -- the same
// integers on every CPU, in every SIMD build and in device code (GEOSHARD_HD: the CUDA region
// blur may produce blocks with this code) -- and the arithmetic of libjpeg's default encoder
// (libjpeg-turbo, which cv::imencode uses): its colour conversion (16-bit fixed point, rounded to
// 8-bit samples), its downsampling (the 2×1 and 2×2 averages with alternating rounding bias), its
// "islow" DCT (Loeffler, Ligtenberg and Moschytz's factorisation in 13-bit fixed point,
// outputs scaled by 8) and its quantisation (rounded half away from zero). A re-encoded block
// therefore holds the coefficients libjpeg-turbo gives the same pixels with the same table
// (tests/io/jpeg_region_test.cpp checks that against libjpeg-turbo itself).
//
//   F(u,v) = 1/4 C(u) C(v) Σx Σy (f(x,y) - 128) cos((2x+1)uπ/16) cos((2y+1)vπ/16),
//   C(0) = 1/√2, C(k>0) = 1     (ITU-T T.81, A.3.3); islow computes 8·F to within ±2 (SpliceDct.IslowIsTheDct).
//   coefficient = round(F(u,v) / Q(u,v))   (T.81 A.3.4), natural (row-major) order like libjpeg.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace geoshard::dct {

// JFIF (ITU-R BT.601 full range) RGB -> Y, Cb, Cr in 16-bit fixed point, rounded to 0..255:
// the products k·v with k = round(coefficient · 2^16), summed with the offsets
// (Y: +0.5, Cb and Cr: +128 +0.5 - 2^-16), shifted down. Every sum is >= 0.
constexpr int32_t fix16(double x) { return static_cast<int32_t>(x * 65536.0 + 0.5); }
constexpr int32_t kYr = fix16(0.29900), kYg = fix16(0.58700), kYb = fix16(0.11400);
constexpr int32_t kCbR = fix16(0.16874), kCbG = fix16(0.33126), kHalf = fix16(0.5);  // Cb: -r, -g, +b/2
constexpr int32_t kCrG = fix16(0.41869), kCrB = fix16(0.08131);                     // Cr: +r/2, -g, -b
constexpr int32_t kYOffset = 1 << 15, kCOffset = (128 << 16) + (1 << 15) - 1;
GEOSHARD_HD_INLINE int32_t rgb_to_y(int32_t r, int32_t g, int32_t b) { return (kYr * r + kYg * g + kYb * b + kYOffset) >> 16; }
GEOSHARD_HD_INLINE int32_t rgb_to_cb(int32_t r, int32_t g, int32_t b) { return (kHalf * b - kCbR * r - kCbG * g + kCOffset) >> 16; }
GEOSHARD_HD_INLINE int32_t rgb_to_cr(int32_t r, int32_t g, int32_t b) { return (kHalf * r - kCrG * g - kCrB * b + kCOffset) >> 16; }
// Component ci (0 Y, 1 Cb, 2 Cr) of one pixel.
GEOSHARD_HD_INLINE int32_t rgb_to_component(int ci, int32_t r, int32_t g, int32_t b) {
  return ci == 0 ? rgb_to_y(r, g, b) : ci == 1 ? rgb_to_cb(r, g, b) : rgb_to_cr(r, g, b);
}

// One sample of a component sampled sx × sy times more coarsely than the image, from the sum of
// its sx·sy pixels' (rounded) values; `column`: the sample's column in the component. 2×1 and
// 2×2 round with a bias that alternates by column (2×1: 0, 1; 2×2: 1, 2), so that rounding does
// not drift; any other factors round to nearest, halves up.
GEOSHARD_HD_INLINE int32_t downsample(int32_t sum, int sx, int sy, int column) {
  if (sx == 1 && sy == 1) return sum;
  if (sx == 2 && sy == 1) return (sum + (column & 1)) >> 1;
  if (sx == 2 && sy == 2) return (sum + 1 + (column & 1)) >> 2;
  return (sum + sx * sy / 2) / (sx * sy);
}

// The islow constants: round(k · 2^13).
constexpr int kConstBits = 13, kPass1Bits = 2;
constexpr int32_t kF0_298 = 2446, kF0_390 = 3196, kF0_541 = 4433, kF0_765 = 6270, kF0_899 = 7373, kF1_175 = 9633,
                  kF1_501 = 12299, kF1_847 = 15137, kF1_961 = 16069, kF2_053 = 16819, kF2_562 = 20995, kF3_072 = 25172;

// One 1-D pass of the islow DCT over in[0], in[stride], ..., in[7·stride] (the 8 points of a row
// or a column) into out[0], out[ostride], ...: pass 1 (rows) leaves its outputs scaled up by
// 2^kPass1Bits, pass 2 (columns) removes that and the factorisation's own √8 · √8.
// Descaling rounds half up: (x + 2^(n-1)) >> n.
template <bool kPass1>
GEOSHARD_HD_INLINE void islow_1d(const int32_t* in, int stride, int32_t* out, int ostride) {
  const int32_t tmp0 = in[0] + in[7 * stride], tmp7 = in[0] - in[7 * stride];
  const int32_t tmp1 = in[stride] + in[6 * stride], tmp6 = in[stride] - in[6 * stride];
  const int32_t tmp2 = in[2 * stride] + in[5 * stride], tmp5 = in[2 * stride] - in[5 * stride];
  const int32_t tmp3 = in[3 * stride] + in[4 * stride], tmp4 = in[3 * stride] - in[4 * stride];
  constexpr int n = kPass1 ? kConstBits - kPass1Bits : kConstBits + kPass1Bits;
  auto descale = [](int32_t x, int bits) { return (x + (int32_t{1} << (bits - 1))) >> bits; };
  // even part
  const int32_t tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;
  out[0] = kPass1 ? (tmp10 + tmp11) * (1 << kPass1Bits) : descale(tmp10 + tmp11, kPass1Bits);
  out[4 * ostride] = kPass1 ? (tmp10 - tmp11) * (1 << kPass1Bits) : descale(tmp10 - tmp11, kPass1Bits);
  const int32_t z1 = (tmp12 + tmp13) * kF0_541;
  out[2 * ostride] = descale(z1 + tmp13 * kF0_765, n);
  out[6 * ostride] = descale(z1 - tmp12 * kF1_847, n);
  // odd part
  const int32_t z5 = (tmp4 + tmp6 + tmp5 + tmp7) * kF1_175;
  const int32_t o1 = -(tmp4 + tmp7) * kF0_899, o2 = -(tmp5 + tmp6) * kF2_562;
  const int32_t o3 = z5 - (tmp4 + tmp6) * kF1_961, o4 = z5 - (tmp5 + tmp7) * kF0_390;
  out[7 * ostride] = descale(tmp4 * kF0_298 + o1 + o3, n);
  out[5 * ostride] = descale(tmp5 * kF2_053 + o2 + o4, n);
  out[3 * ostride] = descale(tmp6 * kF3_072 + o2 + o3, n);
  out[ostride] = descale(tmp7 * kF1_501 + o1 + o4, n);
}

// The islow DCT of samples s[y·8 + x] (0..255; the level shift by 128 is applied here) into
// t[v·8 + u] = 8·F(u, v) (natural order), rows first. |t| <= 8192 + a few.
GEOSHARD_HD_INLINE void forward_dct_islow(const int32_t* s, int32_t* t) {
  int32_t d[64], r[64];
  for (int k = 0; k < 64; ++k) d[k] = s[k] - 128;
  for (int y = 0; y < 8; ++y) islow_1d<true>(d + 8 * y, 1, r + 8 * y, 1);
  for (int u = 0; u < 8; ++u) islow_1d<false>(r + u, 8, t + u, 8);
}

// round(t / (8·q)) with halves away from zero, for t from forward_dct_islow, clamped to the int16
// range (a table of 16-bit entries can only shrink the values).
GEOSHARD_HD_INLINE int16_t quantise_one(int32_t t, uint16_t q) {
  const int32_t d = 8 * static_cast<int32_t>(q), a = ((t < 0 ? -t : t) + d / 2) / d;
  const int32_t k = t < 0 ? -a : a;
  return static_cast<int16_t>(k < -32768 ? -32768 : k > 32767 ? 32767 : k);
}

// Forward DCT of samples s (0..255, row-major) quantised with q (natural order, every entry > 0)
// into out (natural order).
GEOSHARD_HD_INLINE void forward_dct_quantise(const int32_t* s, const uint16_t* q, int16_t* out) {
  int32_t t[64];
  forward_dct_islow(s, t);
  for (int k = 0; k < 64; ++k) out[k] = quantise_one(t[k], q[k]);
}

// The inverse of the transform without quantisation (for tests): samples from dequantised
// coefficients, level shift added back, not rounded (double precision, the textbook sum).
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
