#include "io/jpeg_region.h"

// jpeglib.h needs size_t and FILE declared first.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <csetjmp>
#include <cstring>
#include <fstream>
#include <iterator>

#include <jpeglib.h>
#include <jpegint.h>  // jpeg_marker_reader::discarded_bytes (Debian's libjpeg62-turbo-dev installs it)

#include "io/jpeg_bits.h"
#include "io/jpeg_splice.h"
#include "kernels/dct.h"

namespace geoshard::jpeg {

namespace detail {

#ifdef GEOSHARD_HOST_AVX2
// kernels/dct.h quantise with the reciprocals r[k] = 1.0 / q[k] (a multiply instead of a divide, 64
// of which were a fifth of the transform's time). F·r differs from the correctly rounded F / Q by
// at most a few units in the last place: for |F / Q + 0.5| <= 2^15.1 by less than 2^-35, and
// beyond that the clamps give both the same answer. So the floor of F·r + 0.5 is floor(F / Q +
// 0.5) unless F·r + 0.5 lies within 2^-30 of a whole number (a quotient on or near a half): those
// coefficients are quantised again by quantise_one, with the division. The same integers.
__attribute__((target("avx2"))) void quantise_avx2(const double* f, const uint16_t* q, const double* r, int16_t* out) {
  const __m256d half = _mm256_set1_pd(0.5), lo = _mm256_set1_pd(-40000.0), hi = _mm256_set1_pd(40000.0);
  const __m256d near0 = _mm256_set1_pd(0x1p-30), near1 = _mm256_set1_pd(1.0 - 0x1p-30);
  uint64_t redo = 0;
  for (int i = 0; i < 64; i += 8) {
    __m128i k[2];
    for (int h = 0; h < 2; ++h) {
      __m256d y = _mm256_add_pd(_mm256_mul_pd(_mm256_loadu_pd(f + i + 4 * h), _mm256_loadu_pd(r + i + 4 * h)), half);
      y = _mm256_min_pd(_mm256_max_pd(y, lo), hi);
      const __m256d fl = _mm256_floor_pd(y), frac = _mm256_sub_pd(y, fl);
      const __m256d odd = _mm256_or_pd(_mm256_cmp_pd(frac, near0, _CMP_LT_OQ), _mm256_cmp_pd(frac, near1, _CMP_GT_OQ));
      redo |= static_cast<uint64_t>(_mm256_movemask_pd(odd)) << (i + 4 * h);
      k[h] = _mm256_cvtpd_epi32(fl);  // whole numbers within ±40000: exact
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packs_epi32(k[0], k[1]));
  }
  for (; redo; redo &= redo - 1) {
    const int i = __builtin_ctzll(redo);
    out[i] = dct::quantise_one(f[i], q[i]);
  }
}

namespace {

// Component CI's values (kernels/dct.h rgb_to_y/cb/cr, the same operations in the same order) of
// the four RGB pixels in bytes 0..11 of p.
template <int CI>
__attribute__((target("avx2"), always_inline)) inline __m256d component4(__m128i p) {
  const __m128i mr = _mm_setr_epi8(0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1);
  const __m128i mg = _mm_setr_epi8(1, -1, -1, -1, 4, -1, -1, -1, 7, -1, -1, -1, 10, -1, -1, -1);
  const __m128i mb = _mm_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1);
  const __m256d r = _mm256_cvtepi32_pd(_mm_shuffle_epi8(p, mr));
  const __m256d g = _mm256_cvtepi32_pd(_mm_shuffle_epi8(p, mg));
  const __m256d b = _mm256_cvtepi32_pd(_mm_shuffle_epi8(p, mb));
  if constexpr (CI == 0)
    return _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(dct::kYr), r), _mm256_mul_pd(_mm256_set1_pd(dct::kYg), g)),
                         _mm256_mul_pd(_mm256_set1_pd(dct::kYb), b));
  const double kr = CI == 1 ? dct::kCbR : dct::kCrR, kg = CI == 1 ? dct::kCbG : dct::kCrG, kb = CI == 1 ? dct::kCbB : dct::kCrB;
  return _mm256_add_pd(_mm256_sub_pd(_mm256_sub_pd(_mm256_mul_pd(_mm256_set1_pd(kr), r), _mm256_mul_pd(_mm256_set1_pd(kg), g)),
                                     _mm256_mul_pd(_mm256_set1_pd(kb), b)),
                       _mm256_set1_pd(128.0));
}

// Component CI of the eight RGB pixels at p (24 bytes, read exactly): pixels 0-3 in lo, 4-7 in hi.
template <int CI>
__attribute__((target("avx2"), always_inline)) inline void component8(const uint8_t* p, __m256d& lo, __m256d& hi) {
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));        // bytes 0..15
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 16));  // bytes 16..23
  lo = component4<CI>(a);
  hi = component4<CI>(_mm_alignr_epi8(b, a, 12));  // bytes 12..23
}

template <int SX, int SY, int CI>
__attribute__((target("avx2"))) void rgb_samples(const uint8_t* base, size_t stride, double* s) {
  for (int y = 0; y < 8; ++y) {
    __m256d acc[2];  // samples x = 0..3 and 4..7 (for SX = 2 in the order 0, 2, 1, 3 until the end)
    for (int j = 0; j < SY; ++j) {
      const uint8_t* row = base + static_cast<size_t>(y * SY + j) * stride;
      if constexpr (SX == 1) {
        __m256d lo, hi;
        component8<CI>(row, lo, hi);
        acc[0] = j ? _mm256_add_pd(acc[0], lo) : lo;
        acc[1] = j ? _mm256_add_pd(acc[1], hi) : hi;
      } else {  // 16 pixels: the even ones (i = 0) added before the odd ones (i = 1)
        __m256d v0, v1, v2, v3;
        component8<CI>(row, v0, v1);
        component8<CI>(row + 24, v2, v3);
        const __m256d e0 = _mm256_unpacklo_pd(v0, v1), o0 = _mm256_unpackhi_pd(v0, v1);  // samples 0, 2, 1, 3
        const __m256d e1 = _mm256_unpacklo_pd(v2, v3), o1 = _mm256_unpackhi_pd(v2, v3);  // samples 4, 6, 5, 7
        acc[0] = _mm256_add_pd(j ? _mm256_add_pd(acc[0], e0) : e0, o0);
        acc[1] = _mm256_add_pd(j ? _mm256_add_pd(acc[1], e1) : e1, o1);
      }
    }
    for (int h = 0; h < 2; ++h) {
      __m256d v = acc[h];
      if constexpr (SX == 2) v = _mm256_permute4x64_pd(v, 0xD8);  // 0, 2, 1, 3 -> 0, 1, 2, 3
      if constexpr (SX * SY > 1) v = _mm256_mul_pd(v, _mm256_set1_pd(1.0 / (SX * SY)));  // = acc / (SX·SY): a power of two
      _mm256_storeu_pd(s + y * 8 + 4 * h, v);
    }
  }
}

template <int SX, int SY>
__attribute__((target("avx2"))) void rgb_samples_of(int ci, const uint8_t* base, size_t stride, double* s) {
  if (ci == 0) rgb_samples<SX, SY, 0>(base, stride, s);
  else if (ci == 1) rgb_samples<SX, SY, 1>(base, stride, s);
  else rgb_samples<SX, SY, 2>(base, stride, s);
}

}  // namespace

// Edits::samples for an RGB block wholly inside the image in AVX2: four pixels' component from
// their bytes (shuffled apart, converted, multiplied and added in rgb_to_y/cb/cr's order), the
// sx × sy pixels of a sample added in the same order (left then right, top row then bottom), the
// sum scaled by 1 / (sx·sy), a power of two, exactly as divided: the same doubles. (The tabled
// scalar products were a fifth of a re-encoded block's time.) sx × sy in {1×1, 2×1, 2×2}.
__attribute__((target("avx2"))) void rgb_block_samples_avx2(const uint8_t* base, size_t stride, int sx, int sy, int ci,
                                                          double* s) {
  if (sx == 1 && sy == 1) rgb_samples_of<1, 1>(ci, base, stride, s);
  else if (sx == 2 && sy == 1) rgb_samples_of<2, 1>(ci, base, stride, s);
  else rgb_samples_of<2, 2>(ci, base, stride, s);
}

// kernels/dct.h forward_dct_quantise_basis's sums with the eight of a row (then of a column) in
// two 4-lane registers: each sum starts at 0 and adds its products in the same order, and without
// FMA in the target each product and sum is rounded as there, so the same doubles; quantised by
// quantise_avx2 (r: the reciprocals of q). Only these functions are compiled for AVX2, never a
// function shared with other files (the inline quantise_one they call is compiled without it).
__attribute__((target("avx2"))) void forward_dct_avx2(const double ct[8][8], const double* s, const uint16_t* q,
                                                     const double* r, int16_t* out) {
  alignas(32) double tmp[8][8];  // rows transformed: tmp[y][u]
  alignas(32) double f[64];      // F(u, v), natural order
  for (int y = 0; y < 8; ++y) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    for (int x = 0; x < 8; ++x) {
      const __m256d d = _mm256_set1_pd(s[y * 8 + x] - 128.0);
      a0 = _mm256_add_pd(a0, _mm256_mul_pd(_mm256_loadu_pd(&ct[x][0]), d));
      a1 = _mm256_add_pd(a1, _mm256_mul_pd(_mm256_loadu_pd(&ct[x][4]), d));
    }
    _mm256_store_pd(&tmp[y][0], a0);
    _mm256_store_pd(&tmp[y][4], a1);
  }
  for (int v = 0; v < 8; ++v) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    for (int y = 0; y < 8; ++y) {
      const __m256d cy = _mm256_set1_pd(ct[y][v]);
      a0 = _mm256_add_pd(a0, _mm256_mul_pd(cy, _mm256_load_pd(&tmp[y][0])));
      a1 = _mm256_add_pd(a1, _mm256_mul_pd(cy, _mm256_load_pd(&tmp[y][4])));
    }
    _mm256_store_pd(f + v * 8, a0);
    _mm256_store_pd(f + v * 8 + 4, a1);
  }
  quantise_avx2(f, q, r, out);
}
#endif

}  // namespace detail

namespace {

// libjpeg reports errors through error_exit (which must not return: we longjmp back to the
// setjmp of the calling function; C++ exceptions must not unwind through libjpeg's C frames)
// and corrupt-data warnings through emit_message(-1), which we count and turn into an error
// once libjpeg is done: a truncated file decodes "successfully" with grey blocks otherwise.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char warning[JMSG_LENGTH_MAX];
  int warnings;
};

void on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  (*c->err->format_message)(c, e->message);
  std::longjmp(e->jump, 1);
}

void on_message(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  if (e->warnings++ == 0) (*c->err->format_message)(c, e->warning);
}

// Bytes of entropy-coded data that libjpeg skipped without saying so. libjpeg warns about
// extraneous bytes at the end of a restart interval only when it has to search for the RST
// marker; when its bit-buffer fill already met the marker, the count stays in
// discarded_bytes, never reported (found by fuzz_jpeg: such a file decoded "cleanly", the
// splice copied its untouched interval verbatim, and the output then drew the warning at the
// next marker search). Called once libjpeg has read the whole scan: counts as a warning.
void note_unreported_extraneous(jpeg_decompress_struct& d, ErrorManager& e) {
  if (d.marker == nullptr || d.marker->discarded_bytes == 0 || e.warnings) return;
  std::snprintf(e.warning, sizeof e.warning, "Corrupt JPEG data: %u extraneous bytes at the end of a restart interval",
                d.marker->discarded_bytes);
  ++e.warnings;
}

void init_errors(ErrorManager& e) {
  jpeg_std_error(&e.pub);
  e.pub.error_exit = on_error;
  e.pub.emit_message = on_message;
  e.message[0] = e.warning[0] = '\0';
  e.warnings = 0;
}

// Prefix for messages: the file and what went wrong.
std::string where(const std::string& name) { return "JPEG '" + name + "': "; }

// The edit as rewrite_blocks sees it: a map of 8×8-pixel cells holding a changed pixel, and
// the block coefficients computed from the edited pixels. A component's block (bx, by) covers
// pixels [bx·8·sx, (bx+1)·8·sx) × [by·8·sy, (by+1)·8·sy) -- sx × sy whole cells -- where
// sx = max_h / h, sy = max_v / v (integral: fractional factors are refused).
class Edits final : public detail::BlockEdits {
 public:
  Edits(const Image& img, const std::vector<uint8_t>& changed) : img_(img), W_(img.width), H_(img.height) {
    dct::dct_basis(basis_);
    for (int u = 0; u < 8; ++u)
      for (int x = 0; x < 8; ++x) basis_t_[x][u] = basis_[u][x];
    const double k[3][3] = {{dct::kYr, dct::kYg, dct::kYb}, {dct::kCbR, dct::kCbG, dct::kCbB}, {dct::kCrR, dct::kCrG, dct::kCrB}};
    for (int c = 0; c < 3; ++c)  // the products of kernels/dct.h's rgb_to_y/cb/cr, term by term
      for (int i = 0; i < 3; ++i)
        for (int v = 0; v < 256; ++v) prod_[c][i][v] = k[c][i] * static_cast<double>(v);
    cw_ = (W_ + 7) / 8, ch_ = (H_ + 7) / 8;
    cells_.assign(static_cast<size_t>(cw_) * ch_, 0);
    const int full = W_ / 8;
    for (int y = 0; y < H_; ++y) {
      const uint8_t* row = changed.data() + static_cast<size_t>(y) * W_;
      uint8_t* c = cells_.data() + static_cast<size_t>(y / 8) * cw_;
      for (int cx = 0; cx < full; ++cx) {  // eight mask bytes at a time
        uint64_t v;
        std::memcpy(&v, row + cx * 8, 8);
        c[cx] |= v != 0;
      }
      for (int x = full * 8; x < W_; ++x) c[full] |= row[x] != 0;
    }
    row_any_.assign(ch_, 0);  // per row of cells: whether it holds a changed pixel
    for (int cy = 0; cy < ch_; ++cy)
      for (int cx = 0; cx < cw_ && !row_any_[cy]; ++cx) row_any_[cy] = cells_[static_cast<size_t>(cy) * cw_ + cx];
  }
  void set_sampling(int ci, int sx, int sy) { sx_[ci] = sx, sy_[ci] = sy; }

  bool row_touched(int ci, int by, int /*width_in_blocks*/) const override {
    const int cy0 = by * sy_[ci], cy1 = std::min(ch_, cy0 + sy_[ci]);
    for (int cy = cy0; cy < cy1; ++cy)
      if (row_any_[cy]) return true;
    return false;
  }

  bool touched(int ci, int bx, int by) const override {
    const int cx0 = bx * sx_[ci], cy0 = by * sy_[ci];
    const int cx1 = std::min(cw_, cx0 + sx_[ci]), cy1 = std::min(ch_, cy0 + sy_[ci]);
    for (int cy = cy0; cy < cy1; ++cy)
      for (int cx = cx0; cx < cx1; ++cx)
        if (cells_[static_cast<size_t>(cy) * cw_ + cx]) return true;
    return false;
  }

  // The block's samples from the edited pixels: the component's value averaged over its sx × sy
  // pixels, edges replicated beyond the image (as encoders pad); forward DCT, quantised.
  void coefficients(int ci, int bx, int by, const uint16_t* quant, int16_t* out) const override {
    const int sx = sx_[ci], sy = sy_[ci], x0 = bx * 8 * sx, y0 = by * 8 * sy;
    double s[DCTSIZE2];
    // A block inside the image at a common sampling: the same sums with the loops' bounds and the
    // component known at compile time (no edge clamps, no per-pixel branches): with the tabled
    // products, the 400-region 16.6 MP baseline rewrite went from 0.135 s to ≈ 0.118 s (--profile).
    const bool inside = x0 + 8 * sx <= W_ && y0 + 8 * sy <= H_;
#ifdef GEOSHARD_HOST_AVX2
    if (avx2_ && inside && img_.channels == 3 && ((sx == 1 && sy == 1) || (sx == 2 && sy <= 2))) {
      const size_t stride = static_cast<size_t>(W_) * 3;
      detail::rgb_block_samples_avx2(&img_.pixels[static_cast<size_t>(y0) * stride + static_cast<size_t>(x0) * 3], stride,
                                     sx, sy, ci, s);
      return detail::forward_dct_avx2(basis_t_, s, quant, reciprocals(quant), out);
    }
#endif
    if (inside && img_.channels == 1 && sx == 1 && sy == 1) samples<1, 1, -1>(x0, y0, s);
    else if (inside && img_.channels == 3 && sx == 1 && sy == 1) with_component<1, 1>(ci, x0, y0, s);
    else if (inside && img_.channels == 3 && sx == 2 && sy == 2) with_component<2, 2>(ci, x0, y0, s);
    else if (inside && img_.channels == 3 && sx == 2 && sy == 1) with_component<2, 1>(ci, x0, y0, s);
    else samples_any(ci, sx, sy, x0, y0, s);
#ifdef GEOSHARD_HOST_AVX2
    if (avx2_) return detail::forward_dct_avx2(basis_t_, s, quant, reciprocals(quant), out);
#endif
    dct::forward_dct_quantise_basis(basis_, s, quant, out);
  }

 private:
  // 1.0 / q[k] for the table q (forward_dct_avx2), kept for the last four tables seen (compared by
  // content: the libjpeg path passes each component's table in the same array).
  const double* reciprocals(const uint16_t* q) const {
    for (int i = 0; i < nrecip_; ++i)
      if (std::memcmp(recip_[i].q, q, sizeof recip_[i].q) == 0) return recip_[i].r;
    Recip& e = recip_[nrecip_ < 4 ? nrecip_++ : oldest_++ % 4];
    std::memcpy(e.q, q, sizeof e.q);
    for (int k = 0; k < DCTSIZE2; ++k) e.r[k] = 1.0 / q[k];
    return e.r;
  }
  // Component ci's value of the pixel at p (gray: CI < 0).
  template <int CI>
  static double value(const uint8_t* p) {
    if constexpr (CI < 0) return p[0];
    else if constexpr (CI == 0) return dct::rgb_to_y(p[0], p[1], p[2]);
    else if constexpr (CI == 1) return dct::rgb_to_cb(p[0], p[1], p[2]);
    else return dct::rgb_to_cr(p[0], p[1], p[2]);
  }
  // The same from the products tabled (prod_[CI][channel][value], each the very product the
  // expression computes): the same terms combined in the same order, so the same double (the
  // products' conversions and multiplies were most of a re-encoded block's colour conversion).
  template <int CI>
  double value_tabled(const uint8_t* p) const {
    if constexpr (CI < 0) return p[0];
    else if constexpr (CI == 0) return prod_[0][0][p[0]] + prod_[0][1][p[1]] + prod_[0][2][p[2]];
    else return prod_[CI][0][p[0]] - prod_[CI][1][p[1]] - prod_[CI][2][p[2]] + 128.0;
  }
  template <int SX, int SY>
  void with_component(int ci, int x0, int y0, double* s) const {
    if (ci == 0) samples<SX, SY, 0>(x0, y0, s);
    else if (ci == 1) samples<SX, SY, 1>(x0, y0, s);
    else samples<SX, SY, 2>(x0, y0, s);
  }
  // The samples of a block wholly inside the image.
  template <int SX, int SY, int CI>
  void samples(int x0, int y0, double* s) const {
    constexpr int ch = CI < 0 ? 1 : 3;
    const size_t stride = static_cast<size_t>(W_) * ch;
    const uint8_t* base = &img_.pixels[static_cast<size_t>(y0) * stride + static_cast<size_t>(x0) * ch];
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        double acc = 0;
        for (int j = 0; j < SY; ++j)
          for (int i = 0; i < SX; ++i) acc += value_tabled<CI>(base + static_cast<size_t>(y * SY + j) * stride + (x * SX + i) * ch);
        s[y * 8 + x] = acc / (SX * SY);
      }
  }
  // Any block at any sampling: edges replicated.
  void samples_any(int ci, int sx, int sy, int x0, int y0, double* s) const {
    const int ch = img_.channels;
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        double acc = 0;
        for (int j = 0; j < sy; ++j)
          for (int i = 0; i < sx; ++i) {
            const int px = std::min(W_ - 1, x0 + x * sx + i), py = std::min(H_ - 1, y0 + y * sy + j);
            const uint8_t* p = &img_.pixels[(static_cast<size_t>(py) * W_ + px) * ch];
            acc += ch == 1 ? value<-1>(p) : ci == 0 ? value<0>(p) : ci == 1 ? value<1>(p) : value<2>(p);
          }
        s[y * 8 + x] = acc / (sx * sy);
      }
  }

  const Image& img_;
  int W_, H_, cw_, ch_;
  std::vector<uint8_t> cells_;
  std::vector<uint8_t> row_any_;  // per row of cells_: any cell set
  int sx_[4] = {1, 1, 1, 1}, sy_[4] = {1, 1, 1, 1};
  double basis_[8][8];
  double basis_t_[8][8];  // transposed: basis_t_[x][u] = basis_[u][x] (forward_dct_avx2)
  bool avx2_ = cpu_has_avx2();
  double prod_[3][3][256];  // see value_tabled
  struct Recip {
    uint16_t q[DCTSIZE2];
    double r[DCTSIZE2];
  };
  mutable Recip recip_[4];  // see reciprocals
  mutable int nrecip_ = 0, oldest_ = 0;
};

// A zero divisor: libjpeg decodes such a table (every coefficient dequantises to 0) but a block
// cannot be quantised with it (found by fuzz_jpeg: 0/0 in the forward DCT).
bool zero_quant(const JQUANT_TBL& q) {
  for (int k = 0; k < DCTSIZE2; ++k)
    if (q.quantval[k] == 0) return true;
  return false;
}

// Reads the headers (up to the first SOS) with libjpeg and fills `h` if the file is one the
// splice handles: Huffman-coded, 8-bit, gray or YCbCr of the edited image's size, no libjpeg
// warning; baseline/extended sequential with one scan holding all components, or progressive
// (splice_progressive checks the rest of the file itself).
// Errors are not raised here (false): the libjpeg path raises them.
bool splice_header(const std::vector<uint8_t>& bytes, const Image& edited, Edits& edits, detail::SpliceHeader& h) {
  jpeg_decompress_struct d;
  ErrorManager em;
  init_errors(em);
  d.err = &em.pub;
  jpeg_create_decompress(&d);
  if (setjmp(em.jump)) {
    jpeg_destroy_decompress(&d);
    return false;
  }
  jpeg_mem_src(&d, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&d, TRUE);
  const bool gray = d.jpeg_color_space == JCS_GRAYSCALE && d.num_components == 1;
  const bool ycc = d.jpeg_color_space == JCS_YCbCr && d.num_components == 3;
  const bool progressive = d.progressive_mode;
  bool ok = (gray || ycc) && !em.warnings && !d.arith_code && d.data_precision == 8 &&
            (progressive || (d.comps_in_scan == d.num_components && d.Ss == 0 && d.Se == DCTSIZE2 - 1 && d.Ah == 0 &&
                             d.Al == 0)) &&
            static_cast<int>(d.image_width) == edited.width &&
            static_cast<int>(d.image_height) == edited.height && edited.channels == (gray ? 1 : 3) &&
            d.src->next_input_byte >= bytes.data() && d.src->next_input_byte <= bytes.data() + bytes.size();
  if (ok) {
    h.progressive = progressive;
    h.width = static_cast<int>(d.image_width), h.height = static_cast<int>(d.image_height);
    h.hmax = d.max_h_samp_factor, h.vmax = d.max_v_samp_factor;
    h.restart_interval = d.restart_interval;
    h.scan_offset = static_cast<size_t>(d.src->next_input_byte - bytes.data());
    h.comps.clear();
    // Baseline: the components of the (only) scan, in its order; progressive: the frame's, in
    // frame order (splice_progressive reads each scan's header itself).
    const int ncomp = progressive ? d.num_components : d.comps_in_scan;
    for (int i = 0; i < ncomp && ok; ++i) {
      const jpeg_component_info* c = progressive ? &d.comp_info[i] : d.cur_comp_info[i];
      const JQUANT_TBL* q = c->quant_tbl_no >= 0 && c->quant_tbl_no < NUM_QUANT_TBLS ? d.quant_tbl_ptrs[c->quant_tbl_no] : nullptr;
      if (!q || zero_quant(*q) || h.hmax % c->h_samp_factor || h.vmax % c->v_samp_factor) {
        ok = false;
        break;
      }
      detail::SpliceComponent sc;
      sc.index = c->component_index;
      sc.id = c->component_id;
      sc.h = c->h_samp_factor, sc.v = c->v_samp_factor;
      sc.dc_tbl = c->dc_tbl_no, sc.ac_tbl = c->ac_tbl_no;
      for (int k = 0; k < DCTSIZE2; ++k) sc.quant[k] = q->quantval[k];  // natural order
      sc.width_in_blocks = static_cast<int>((d.image_width * sc.h + 8 * h.hmax - 1) / (8 * h.hmax));
      sc.height_in_blocks = static_cast<int>((d.image_height * sc.v + 8 * h.vmax - 1) / (8 * h.vmax));
      edits.set_sampling(sc.index, h.hmax / sc.h, h.vmax / sc.v);
      h.comps.push_back(sc);
    }
    for (int t = 0; t < NUM_HUFF_TBLS && ok; ++t) {
      for (int ac = 0; ac < 2; ++ac) {
        const JHUFF_TBL* src = ac ? d.ac_huff_tbl_ptrs[t] : d.dc_huff_tbl_ptrs[t];
        detail::HuffTable& dst = ac ? h.ac[t] : h.dc[t];
        dst.present = src != nullptr;
        if (src) std::memcpy(dst.bits, src->bits, 17), std::memcpy(dst.vals, src->huffval, 256);
      }
    }
  }
  jpeg_destroy_decompress(&d);
  return ok;
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw JpegError("cannot read '" + path + "'");
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw JpegError("cannot read '" + path + "'");
  return b;
}

Image decode(const std::string& path) { return decode_memory(read_file(path), path); }

Image decode_memory(const std::vector<uint8_t>& bytes, const std::string& name, bool fancy_upsampling) {
  if (bytes.empty()) throw JpegError(where(name) + "empty file");
  Image img;
  jpeg_decompress_struct d;
  ErrorManager em;
  init_errors(em);
  d.err = &em.pub;
  jpeg_create_decompress(&d);
  if (setjmp(em.jump)) {
    jpeg_destroy_decompress(&d);
    throw JpegError(where(name) + em.message);
  }
  jpeg_mem_src(&d, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&d, TRUE);
  const J_COLOR_SPACE cs = d.jpeg_color_space;
  if (cs != JCS_GRAYSCALE && cs != JCS_YCbCr && cs != JCS_RGB) {
    jpeg_destroy_decompress(&d);
    throw JpegError(where(name) + "unsupported colour space (CMYK/YCCK)");
  }
  d.out_color_space = cs == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  d.do_fancy_upsampling = fancy_upsampling ? TRUE : FALSE;
  jpeg_start_decompress(&d);
  img.width = static_cast<int>(d.output_width);
  img.height = static_cast<int>(d.output_height);
  img.channels = d.output_components;
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * img.channels);
  while (d.output_scanline < d.output_height) {
    JSAMPROW row = img.pixels.data() + static_cast<size_t>(d.output_scanline) * img.width * img.channels;
    jpeg_read_scanlines(&d, &row, 1);
  }
  jpeg_finish_decompress(&d);
  note_unreported_extraneous(d, em);
  jpeg_destroy_decompress(&d);
  if (em.warnings) throw JpegError(where(name) + "corrupt data: " + em.warning);
  return img;
}

Size read_size(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) throw JpegError(where(name) + "empty file");
  jpeg_decompress_struct d;
  ErrorManager em;
  init_errors(em);
  d.err = &em.pub;
  jpeg_create_decompress(&d);
  if (setjmp(em.jump)) {
    jpeg_destroy_decompress(&d);
    throw JpegError(where(name) + em.message);
  }
  jpeg_mem_src(&d, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&d, TRUE);
  const Size s{static_cast<int>(d.image_width), static_cast<int>(d.image_height)};
  jpeg_destroy_decompress(&d);
  return s;
}

std::vector<Marker> read_markers(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) throw JpegError(where(name) + "empty file");
  std::vector<Marker> out;
  jpeg_decompress_struct d;
  ErrorManager em;
  init_errors(em);
  d.err = &em.pub;
  jpeg_create_decompress(&d);
  if (setjmp(em.jump)) {
    jpeg_destroy_decompress(&d);
    throw JpegError(where(name) + em.message);
  }
  jpeg_mem_src(&d, bytes.data(), static_cast<unsigned long>(bytes.size()));
  for (int m = 0; m < 16; ++m) jpeg_save_markers(&d, JPEG_APP0 + m, 0xFFFF);
  jpeg_save_markers(&d, JPEG_COM, 0xFFFF);
  jpeg_read_header(&d, TRUE);
  for (jpeg_saved_marker_ptr m = d.marker_list; m; m = m->next)
    out.push_back(Marker{m->marker, std::vector<uint8_t>(m->data, m->data + m->data_length)});
  jpeg_destroy_decompress(&d);
  return out;
}

Coefficients read_coefficients(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) throw JpegError(where(name) + "empty file");
  Coefficients c;
  jpeg_decompress_struct d;
  ErrorManager em;
  init_errors(em);
  d.err = &em.pub;
  jpeg_create_decompress(&d);
  if (setjmp(em.jump)) {
    jpeg_destroy_decompress(&d);
    throw JpegError(where(name) + em.message);
  }
  jpeg_mem_src(&d, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&d, TRUE);
  jvirt_barray_ptr* arrays = jpeg_read_coefficients(&d);
  for (int ci = 0; ci < d.num_components; ++ci) {
    const jpeg_component_info* comp = d.comp_info + ci;
    c.width_in_blocks.push_back(static_cast<int>(comp->width_in_blocks));
    c.height_in_blocks.push_back(static_cast<int>(comp->height_in_blocks));
    c.h_samp.push_back(comp->h_samp_factor);
    c.v_samp.push_back(comp->v_samp_factor);
    c.blocks.emplace_back(static_cast<size_t>(comp->width_in_blocks) * comp->height_in_blocks * DCTSIZE2);
    for (JDIMENSION by = 0; by < comp->height_in_blocks; ++by) {
      JBLOCKARRAY rows = (*d.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&d), arrays[ci], by, 1, FALSE);
      for (JDIMENSION bx = 0; bx < comp->width_in_blocks; ++bx)
        std::memcpy(&c.blocks[ci][(static_cast<size_t>(by) * comp->width_in_blocks + bx) * DCTSIZE2], rows[0][bx],
                    sizeof(JBLOCK));
    }
  }
  jpeg_finish_decompress(&d);
  note_unreported_extraneous(d, em);
  jpeg_destroy_decompress(&d);
  if (em.warnings) throw JpegError(where(name) + "corrupt data: " + em.warning);
  return c;
}

namespace {

// libjpeg's coefficient path: every block decoded, touched blocks replaced, every block encoded.
RewriteStats rewrite_libjpeg(const std::vector<uint8_t>& in_bytes, const std::string& name, const Image& edited,
                             Edits& edits, std::vector<uint8_t>& out_bytes, bool optimize_coding) {
  const int W = edited.width, H = edited.height;
  RewriteStats st;
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  std::string failure;  // a refusal found inside the libjpeg section (thrown after cleanup)
  jpeg_decompress_struct src;
  jpeg_compress_struct dst;
  ErrorManager em;
  init_errors(em);
  src.err = &em.pub;
  dst.err = &em.pub;
  jpeg_create_decompress(&src);
  jpeg_create_compress(&dst);
  if (setjmp(em.jump)) {
    jpeg_destroy_compress(&dst);
    jpeg_destroy_decompress(&src);
    std::free(buf);
    throw JpegError(where(name) + em.message);
  }
  jpeg_mem_src(&src, in_bytes.data(), static_cast<unsigned long>(in_bytes.size()));
  for (int m = 0; m < 16; ++m) jpeg_save_markers(&src, JPEG_APP0 + m, 0xFFFF);
  jpeg_save_markers(&src, JPEG_COM, 0xFFFF);
  jpeg_read_header(&src, TRUE);
  const bool gray = src.jpeg_color_space == JCS_GRAYSCALE && src.num_components == 1;
  const bool ycc = src.jpeg_color_space == JCS_YCbCr && src.num_components == 3;
  if (!gray && !ycc) failure = "unsupported colour space for block rewriting (only YCbCr and grayscale)";
  else if (static_cast<int>(src.image_width) != W || static_cast<int>(src.image_height) != H ||
           edited.channels != (gray ? 1 : 3))
    failure = "edited image is " + std::to_string(W) + "x" + std::to_string(H) + "x" + std::to_string(edited.channels) +
              ", the JPEG " + std::to_string(src.image_width) + "x" + std::to_string(src.image_height) + "x" +
              std::to_string(gray ? 1 : 3);
  if (failure.empty()) {
    jvirt_barray_ptr* arrays = jpeg_read_coefficients(&src);
    note_unreported_extraneous(src, em);
    if (em.warnings) {
      failure = std::string("corrupt data: ") + em.warning;
    } else {
      int16_t q[DCTSIZE2];
      for (int ci = 0; ci < src.num_components && failure.empty(); ++ci) {
        const jpeg_component_info* comp = src.comp_info + ci;
        if (src.max_h_samp_factor % comp->h_samp_factor || src.max_v_samp_factor % comp->v_samp_factor) {
          failure = "fractional chroma sampling factors";
          break;
        }
        edits.set_sampling(ci, src.max_h_samp_factor / comp->h_samp_factor, src.max_v_samp_factor / comp->v_samp_factor);
        if (zero_quant(*comp->quant_table)) {
          failure = "a quantisation table has a zero entry (not a valid JPEG: no block can be re-encoded with it)";
          break;
        }
        uint16_t quant[DCTSIZE2];
        for (int k = 0; k < DCTSIZE2; ++k) quant[k] = comp->quant_table->quantval[k];  // natural order
        st.blocks += static_cast<uint64_t>(comp->width_in_blocks) * comp->height_in_blocks;
        for (JDIMENSION by = 0; by < comp->height_in_blocks; ++by) {
          JBLOCKROW row = nullptr;  // fetched (writable) only for rows with a touched block
          for (JDIMENSION bx = 0; bx < comp->width_in_blocks; ++bx) {
            if (!edits.touched(ci, static_cast<int>(bx), static_cast<int>(by))) continue;
            if (!row)
              row = (*src.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&src), arrays[ci], by, 1, TRUE)[0];
            edits.coefficients(ci, static_cast<int>(bx), static_cast<int>(by), quant, q);
            for (int k = 0; k < DCTSIZE2; ++k) row[bx][k] = q[k];
            ++st.blocks_rewritten;
          }
        }
      }
    }
    if (failure.empty()) {
      jpeg_mem_dest(&dst, &buf, &size);
      jpeg_copy_critical_parameters(&src, &dst);
      dst.optimize_coding = optimize_coding ? TRUE : FALSE;
      // JFIF APP0 and Adobe APP14 are among the copied markers: do not write new ones.
      dst.write_JFIF_header = FALSE;
      dst.write_Adobe_marker = FALSE;
      if (jpeg_has_multiple_scans(&src)) jpeg_simple_progression(&dst);
      jpeg_write_coefficients(&dst, arrays);
      for (jpeg_saved_marker_ptr m = src.marker_list; m; m = m->next) {
        jpeg_write_marker(&dst, m->marker, m->data, m->data_length);
        ++st.markers_copied;
      }
      jpeg_finish_compress(&dst);
      jpeg_finish_decompress(&src);
    }
  }
  jpeg_destroy_compress(&dst);
  jpeg_destroy_decompress(&src);
  if (!failure.empty()) {
    std::free(buf);
    throw JpegError(where(name) + failure);
  }
  out_bytes.assign(buf, buf + size);
  std::free(buf);
  return st;
}

// The APPn and COM segments before the first SOS (what the splice copies with the header bytes).
uint64_t count_markers(const std::vector<uint8_t>& b, size_t end) {
  uint64_t n = 0;
  for (size_t p = 2; p + 4 <= end && b[p] == 0xFF;) {
    const int code = b[p + 1];
    if (code == 0xFF) {  // fill byte
      ++p;
      continue;
    }
    if (code == 0xDA) break;
    n += (code >= 0xE0 && code <= 0xEF) || code == 0xFE;
    p += 2 + (static_cast<size_t>(b[p + 2]) << 8 | b[p + 3]);
  }
  return n;
}

}  // namespace

RewriteStats rewrite_blocks(const std::vector<uint8_t>& in_bytes, const std::string& name, const Image& edited,
                            const std::vector<uint8_t>& changed, std::vector<uint8_t>& out_bytes,
                            const RewriteOptions& options) {
  if (in_bytes.empty()) throw JpegError(where(name) + "empty file");
  const int W = edited.width, H = edited.height;
  if (W <= 0 || H <= 0 || edited.pixels.size() != static_cast<size_t>(W) * H * edited.channels ||
      changed.size() != static_cast<size_t>(W) * H)
    throw std::invalid_argument("rewrite_blocks: edited image and changed mask must be width x height");
  Edits edits(edited, changed);
  detail::SpliceHeader h;
  std::string why = "not a baseline one-scan gray/YCbCr file of the edited image's size";
  if (options.path == RewritePath::automatic && splice_header(in_bytes, edited, edits, h)) {
    detail::SpliceStats ss;
    std::vector<uint8_t> own;  // only if the caller passes the same vector as input and output
    std::vector<uint8_t>& out = &out_bytes == &in_bytes ? own : out_bytes;
    if (!detail::splice(in_bytes, h, edits, out, ss)) {  // (out_bytes is rewritten below)
      why = ss.fallback_reason ? ss.fallback_reason : "splice refused";
    } else {
      RewriteStats st;
      st.blocks = ss.blocks, st.blocks_rewritten = ss.blocks_rewritten;
      st.markers_copied = count_markers(in_bytes, h.scan_offset);
      st.spliced = true;
      if (&out == &own) out_bytes = std::move(own);
      st.mcus = ss.mcus, st.mcus_reencoded = ss.mcus_reencoded;
      st.intervals = ss.intervals, st.intervals_copied = ss.intervals_copied;
      st.codes_added = ss.codes_added;
      st.scans_recoded = ss.scans_recoded;
      return st;
    }
  }
  RewriteStats st = rewrite_libjpeg(in_bytes, name, edited, edits, out_bytes, options.optimize_coding);
  if (options.path == RewritePath::automatic) st.fallback_reason = why;
  return st;
}

}  // namespace geoshard::jpeg
