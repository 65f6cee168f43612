#include "io/jpeg_region.h"

// jpeglib.h needs size_t and FILE declared first.
#include <algorithm>
#include <atomic>
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

namespace {
std::atomic<bool> g_simd_blocks_allowed{true};
}  // namespace
void set_simd_blocks(bool on) { g_simd_blocks_allowed.store(on, std::memory_order_relaxed); }

bool zigzag_avx512() {
#ifdef GEOSHARD_HOST_AVX2
  static const bool cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return cpu && g_simd_blocks_allowed.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

#ifdef GEOSHARD_HOST_AVX2
namespace {
struct ZigzagIndex {  // kNatural as 16-bit permute indices (0..31: the first register, 32..63: the second)
  alignas(64) int16_t v[64];
  constexpr ZigzagIndex() : v() {
    for (int k = 0; k < 64; ++k) v[k] = static_cast<int16_t>(kNatural[k]);
  }
};
constexpr ZigzagIndex kZigzagIndex;
}  // namespace

__attribute__((target("avx512f,avx512bw"))) void to_zigzag_avx512(const int16_t* natural, int16_t* zz) {
  const __m512i a = _mm512_loadu_si512(natural), b = _mm512_loadu_si512(natural + 32);
  _mm512_storeu_si512(zz, _mm512_permutex2var_epi16(a, _mm512_load_si512(kZigzagIndex.v), b));
  _mm512_storeu_si512(zz + 32, _mm512_permutex2var_epi16(a, _mm512_load_si512(kZigzagIndex.v + 32), b));
}
#endif

#ifdef GEOSHARD_HOST_AVX2
IslowDivisors::IslowDivisors(const uint16_t* q) {
  simd = true;
  for (int k = 0; k < 64; ++k) {
    const int32_t d = 8 * q[k];
    // 2^l < d <= 2^(l+1); m = ceil(2^(16+l) / d) < 2^16 (see forward_dct_avx2)
    const int l = d > 1 ? 31 - __builtin_clz(static_cast<uint32_t>(d - 1)) : 0;
    half[k] = d / 2;
    m[k] = static_cast<int32_t>(((int64_t{1} << (16 + l)) + d - 1) / d);
    shift[k] = 16 + l;
    simd &= q[k] >= 1 && q[k] <= 255;
  }
}

namespace {

#define GEOSHARD_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline
GEOSHARD_AVX2_INLINE __m256i add(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
GEOSHARD_AVX2_INLINE __m256i sub(__m256i a, __m256i b) { return _mm256_sub_epi32(a, b); }
GEOSHARD_AVX2_INLINE __m256i mul(__m256i a, int32_t k) { return _mm256_mullo_epi32(a, _mm256_set1_epi32(k)); }
template <int kBits>
GEOSHARD_AVX2_INLINE __m256i descale(__m256i x) {  // (x + 2^(bits-1)) >> bits
  return _mm256_srai_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(1 << (kBits - 1))), kBits);
}

// The eight 32-bit lanes of eight registers transposed (r[i] lane j <- r[j] lane i).
__attribute__((target("avx2"), always_inline)) inline void transpose8(__m256i* r) {
  __m256i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
  }
}

// kernels/dct.h islow_1d over registers: d[i] holds point i of eight rows (or columns), one per
// lane. 32-bit integers as there (no value comes near 2^31), so the same integers.
template <bool kPass1>
__attribute__((target("avx2"), always_inline)) inline void islow_avx2(__m256i* d) {
  using namespace dct;
  constexpr int n = kPass1 ? kConstBits - kPass1Bits : kConstBits + kPass1Bits;
  const __m256i tmp0 = add(d[0], d[7]), tmp7 = sub(d[0], d[7]), tmp1 = add(d[1], d[6]), tmp6 = sub(d[1], d[6]);
  const __m256i tmp2 = add(d[2], d[5]), tmp5 = sub(d[2], d[5]), tmp3 = add(d[3], d[4]), tmp4 = sub(d[3], d[4]);
  const __m256i tmp10 = add(tmp0, tmp3), tmp13 = sub(tmp0, tmp3), tmp11 = add(tmp1, tmp2), tmp12 = sub(tmp1, tmp2);
  d[0] = kPass1 ? _mm256_slli_epi32(add(tmp10, tmp11), kPass1Bits) : descale<kPass1Bits>(add(tmp10, tmp11));
  d[4] = kPass1 ? _mm256_slli_epi32(sub(tmp10, tmp11), kPass1Bits) : descale<kPass1Bits>(sub(tmp10, tmp11));
  const __m256i z1 = mul(add(tmp12, tmp13), kF0_541);
  d[2] = descale<n>(add(z1, mul(tmp13, kF0_765)));
  d[6] = descale<n>(sub(z1, mul(tmp12, kF1_847)));
  const __m256i z5 = mul(add(add(tmp4, tmp6), add(tmp5, tmp7)), kF1_175);
  const __m256i o1 = mul(add(tmp4, tmp7), -kF0_899), o2 = mul(add(tmp5, tmp6), -kF2_562);
  const __m256i o3 = sub(z5, mul(add(tmp4, tmp6), kF1_961)), o4 = sub(z5, mul(add(tmp5, tmp7), kF0_390));
  d[7] = descale<n>(add(add(mul(tmp4, kF0_298), o1), o3));
  d[5] = descale<n>(add(add(mul(tmp5, kF2_053), o2), o4));
  d[3] = descale<n>(add(add(mul(tmp6, kF3_072), o2), o3));
  d[1] = descale<n>(add(add(mul(tmp7, kF1_501), o1), o4));
}

// Bytes C, C + 3, C + 6, C + 9 of each 128-bit half of v (one channel of four RGB pixels), one per
// 32-bit lane.
template <char C>
GEOSHARD_AVX2_INLINE __m256i channel(__m256i v) {
  const __m128i m = _mm_setr_epi8(C, -1, -1, -1, C + 3, -1, -1, -1, C + 6, -1, -1, -1, C + 9, -1, -1, -1);
  return _mm256_shuffle_epi8(v, _mm256_broadcastsi128_si256(m));
}

// Component CI (kernels/dct.h rgb_to_y/cb/cr: the same integers) of the eight RGB pixels at p
// (24 bytes, read exactly), one per 32-bit lane.
template <int CI>
__attribute__((target("avx2"), always_inline)) inline __m256i component8(const uint8_t* p) {
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));        // bytes 0..15
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 16));  // bytes 16..23
  const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(a), _mm_alignr_epi8(b, a, 12), 1);  // px 0-3 | 4-7
  const __m256i r = channel<0>(v), g = channel<1>(v), bl = channel<2>(v);
  __m256i s;
  if constexpr (CI == 0)
    s = _mm256_add_epi32(_mm256_add_epi32(mul(r, dct::kYr), mul(g, dct::kYg)),
                         _mm256_add_epi32(mul(bl, dct::kYb), _mm256_set1_epi32(dct::kYOffset)));
  else if constexpr (CI == 1)
    s = _mm256_sub_epi32(_mm256_add_epi32(mul(bl, dct::kHalf), _mm256_set1_epi32(dct::kCOffset)),
                         _mm256_add_epi32(mul(r, dct::kCbR), mul(g, dct::kCbG)));
  else
    s = _mm256_sub_epi32(_mm256_add_epi32(mul(r, dct::kHalf), _mm256_set1_epi32(dct::kCOffset)),
                         _mm256_add_epi32(mul(g, dct::kCrG), mul(bl, dct::kCrB)));
  return _mm256_srli_epi32(s, 16);
}

template <int SX, int SY, int CI>
__attribute__((target("avx2"))) void rgb_samples(const uint8_t* base, size_t stride, int32_t* s) {
  // kernels/dct.h downsample: 2×1 bias 0, 1; 2×2 bias 1, 2 (even, odd columns)
  const __m256i bias = SX * SY == 2 ? _mm256_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1) : _mm256_setr_epi32(1, 2, 1, 2, 1, 2, 1, 2);
  for (int y = 0; y < 8; ++y) {
    __m256i acc;
    for (int j = 0; j < SY; ++j) {
      const uint8_t* row = base + static_cast<size_t>(y * SY + j) * stride;
      __m256i v;
      if constexpr (SX == 1) {
        v = component8<CI>(row);
      } else {  // pixel pairs summed: samples 0, 1, 4, 5 | 2, 3, 6, 7, then put in order
        v = _mm256_permute4x64_epi64(_mm256_hadd_epi32(component8<CI>(row), component8<CI>(row + 24)), 0xD8);
      }
      acc = j ? _mm256_add_epi32(acc, v) : v;
    }
    if constexpr (SX * SY > 1) acc = _mm256_srli_epi32(_mm256_add_epi32(acc, bias), SX * SY == 2 ? 1 : 2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(s + y * 8), acc);
  }
}

template <int SX, int SY>
__attribute__((target("avx2"))) void rgb_samples_of(int ci, const uint8_t* base, size_t stride, int32_t* s) {
  if (ci == 0) rgb_samples<SX, SY, 0>(base, stride, s);
  else if (ci == 1) rgb_samples<SX, SY, 1>(base, stride, s);
  else rgb_samples<SX, SY, 2>(base, stride, s);
}

}  // namespace

__attribute__((target("avx2"))) void rgb_block_samples_avx2(const uint8_t* base, size_t stride, int sx, int sy, int ci,
                                                          int32_t* s) {
  if (sx == 1 && sy == 1) rgb_samples_of<1, 1>(ci, base, stride, s);
  else if (sx == 2 && sy == 1) rgb_samples_of<2, 1>(ci, base, stride, s);
  else rgb_samples_of<2, 2>(ci, base, stride, s);
}

namespace {

// The transform outputs d[v] (row v, natural order) quantised into out[8·v ...]: see
// forward_dct_avx2.
__attribute__((target("avx2"), always_inline)) inline void quantise_rows(const __m256i* d, const IslowDivisors& dv, int16_t* out) {
  for (int v = 0; v < 8; v += 2) {
    __m256i k[2];
    for (int h = 0; h < 2; ++h) {
      const int i = 8 * (v + h);
      const __m256i t = d[v + h];
      const __m256i a = _mm256_add_epi32(_mm256_abs_epi32(t), _mm256_load_si256(reinterpret_cast<const __m256i*>(dv.half + i)));
      const __m256i qa = _mm256_srlv_epi32(_mm256_mullo_epi32(a, _mm256_load_si256(reinterpret_cast<const __m256i*>(dv.m + i))),
                                           _mm256_load_si256(reinterpret_cast<const __m256i*>(dv.shift + i)));
      k[h] = _mm256_sign_epi32(qa, t);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * v), _mm256_permute4x64_epi64(_mm256_packs_epi32(k[0], k[1]), 0xD8));
  }
}

}  // namespace

// Rows first, as kernels/dct.h forward_dct_islow: the block transposed so that a register holds
// one column of the eight rows, pass 1, transposed back, pass 2; then each row of coefficients
// quantised in its register. Quantisation: a = |t| + d/2 (d = 8·q <= 2040, |t| <= 8192 + a few, so
// a < 2^15) divided by d as (a·m) >> (16 + l), m = ceil(2^(16+l) / d), 2^l < d <= 2^(l+1): with
// a = k·d + j, a·m / 2^(16+l) = k + j/d + a·e / 2^(16+l) for some 0 <= e < 1, and since
// a·d < 2^15 · 2^(l+1), the last term is below 1/d: the floor is k, exactly. a·m < 2^31.
__attribute__((target("avx2"))) void forward_dct_avx2(const int32_t* s, const IslowDivisors& dv, int16_t* out) {
  __m256i d[8];
  const __m256i centre = _mm256_set1_epi32(128);
  for (int y = 0; y < 8; ++y)
    d[y] = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 8 * y)), centre);
  transpose8(d);
  islow_avx2<true>(d);
  transpose8(d);
  islow_avx2<false>(d);  // d[v]: coefficients (0..7, v)
  quantise_rows(d, dv, out);
}

__attribute__((target("avx2"))) void quantise_avx2(const int32_t* t, const IslowDivisors& dv, int16_t* out) {
  __m256i d[8];
  for (int v = 0; v < 8; ++v) d[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 8 * v));
  quantise_rows(d, dv, out);
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

  // The block's samples from the edited pixels, as libjpeg's encoder makes them (kernels/dct.h):
  // each pixel's component value rounded, downsampled over the sx × sy pixels of a sample, the
  // image's edges replicated (see samples_any); islow DCT, quantised.
  void coefficients(int ci, int bx, int by, const uint16_t* quant, int16_t* out) const override {
    const int sx = sx_[ci], sy = sy_[ci], x0 = bx * 8 * sx, y0 = by * 8 * sy;
    alignas(32) int32_t s[DCTSIZE2];
#ifdef GEOSHARD_HOST_AVX2
    if (avx2_) {
      const bool inside = x0 + 8 * sx <= W_ && y0 + 8 * sy <= H_;
      if (inside && img_.channels == 3 && ((sx == 1 && sy == 1) || (sx == 2 && sy <= 2))) {
        const size_t stride = static_cast<size_t>(W_) * 3;
        detail::rgb_block_samples_avx2(&img_.pixels[static_cast<size_t>(y0) * stride + static_cast<size_t>(x0) * 3], stride,
                                       sx, sy, ci, s);
      } else {
        samples_any(ci, sx, sy, x0, y0, s);
      }
      const detail::IslowDivisors& dv = divisors(quant);
      if (dv.simd) return detail::forward_dct_avx2(s, dv, out);
      return dct::forward_dct_quantise(s, quant, out);
    }
#endif
    samples_any(ci, sx, sy, x0, y0, s);
    dct::forward_dct_quantise(s, quant, out);
  }

 private:
#ifdef GEOSHARD_HOST_AVX2
  // The divisors of the table q (forward_dct_avx2), kept for the last four tables seen (compared
  // by content: the libjpeg path passes each component's table in the same array).
  const detail::IslowDivisors& divisors(const uint16_t* q) const {
    for (size_t i = 0; i < divisors_.size(); ++i)
      if (std::memcmp(divisors_[i].q, q, sizeof divisors_[i].q) == 0) return divisors_[i].dv;
    if (divisors_.size() == 4) divisors_.erase(divisors_.begin());
    divisors_.push_back(Divisors{{}, detail::IslowDivisors(q)});
    std::memcpy(divisors_.back().q, q, sizeof divisors_.back().q);
    return divisors_.back().dv;
  }
#endif
  // Any block at any sampling, as libjpeg pads the image: columns beyond the image repeat its
  // last column and rows its last row before downsampling, and sample rows wholly below the
  // image repeat the last sample row that holds an image row (libjpeg pads the downsampled
  // rows of the last MCU row with it).
  void samples_any(int ci, int sx, int sy, int x0, int y0, int32_t* s) const {
    const int ch = img_.channels;
    for (int y = 0; y < 8; ++y) {
      const int ry = std::min(y0 / sy + y, (H_ - 1) / sy);  // sample row
      for (int x = 0; x < 8; ++x) {
        const int cx = x0 / sx + x;  // sample column
        int32_t sum = 0;
        for (int j = 0; j < sy; ++j)
          for (int i = 0; i < sx; ++i) {
            const int px = std::min(W_ - 1, cx * sx + i), py = std::min(H_ - 1, ry * sy + j);
            const uint8_t* p = &img_.pixels[(static_cast<size_t>(py) * W_ + px) * ch];
            sum += ch == 1 ? p[0] : dct::rgb_to_component(ci, p[0], p[1], p[2]);
          }
        s[y * 8 + x] = dct::downsample(sum, sx, sy, cx);
      }
    }
  }

  const Image& img_;
  int W_, H_, cw_, ch_;
  std::vector<uint8_t> cells_;
  std::vector<uint8_t> row_any_;  // per row of cells_: any cell set
  int sx_[4] = {1, 1, 1, 1}, sy_[4] = {1, 1, 1, 1};
#ifdef GEOSHARD_HOST_AVX2
  bool avx2_ = cpu_has_avx2() && detail::g_simd_blocks_allowed.load(std::memory_order_relaxed);
  struct Divisors {
    uint16_t q[DCTSIZE2];
    detail::IslowDivisors dv;
  };
  mutable std::vector<Divisors> divisors_;  // see divisors()
#endif
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
