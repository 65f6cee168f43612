// Bit-level pieces shared by the two splices (io/jpeg_splice.cpp: baseline; io/jpeg_splice_progressive.cpp:
// progressive): Huffman tables as decoder and encoder, an MSB-first bit reader over unstuffed
// entropy-coded data and a bit writer, stuffing. Internal to io/ (no libjpeg calls).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <iterator>
#include <utility>
#include <vector>

#include "io/jpeg_splice.h"
#include "kernels/cpu.h"

namespace geoshard::jpeg::detail {

// Zigzag position k -> natural (row-major) index (T.81 figure A.6; libjpeg's jpeg_natural_order).
constexpr int kNatural[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
                              41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
                              30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

// A block's 64 values from natural (row-major) into zigzag order, as the entropy coders visit them.
inline void to_zigzag(const int16_t* natural, int16_t* zz) {
  for (int k = 0; k < 64; ++k) zz[k] = natural[kNatural[k]];
}

// The same with AVX-512BW's two-register word permute (two permutes for the 64 values; the copy
// above was ≈ 5 % of a 400-region baseline rewrite), defined in io/jpeg_region.cpp. Called only
// when zigzag_avx512(): the CPU has AVX-512BW and set_simd_blocks() has not switched SIMD off.
#ifdef GEOSHARD_HOST_AVX2
void to_zigzag_avx512(const int16_t* natural, int16_t* zz);
#endif
bool zigzag_avx512();

inline uint64_t load_be64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// Bits set in x. Without -mpopcnt (the x86-64 baseline) __builtin_popcountll is a call into
// libgcc, ~5 % of a progressive splice; this is the same count inline (Hacker's Delight 5-1).
inline int popcount(uint64_t x) {
#ifdef __POPCNT__
  return __builtin_popcountll(x);
#else
  x -= (x >> 1) & 0x5555555555555555ULL;
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
  return static_cast<int>((x * 0x0101010101010101ULL) >> 56);
#endif
}

// Bit k set when v[k] != 0 (64 values): the encoders visit a block's nonzero coefficients only
// (a loop over all 64 tested each one, ~85 % of the progressive AC encoder's instructions).
inline uint64_t nonzero_mask(const int16_t* v) {
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  uint64_t zeros = 0;
  for (int i = 0; i < 4; ++i) {
    const __m128i a = _mm_cmpeq_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + 16 * i)), zero);
    const __m128i b = _mm_cmpeq_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + 16 * i + 8)), zero);
    zeros |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_packs_epi16(a, b)))) << (16 * i);
  }
  return ~zeros;
#else
  uint64_t m = 0;
  for (int k = 0; k < 64; ++k) m |= static_cast<uint64_t>(v[k] != 0) << k;
  return m;
#endif
}

// kSelectInByte[v][j]: the position of the j-th (from 0) set bit of the byte v (0 past its last).
struct SelectInByte {
  uint8_t at[256][8];
  constexpr SelectInByte() : at() {
    for (int v = 0; v < 256; ++v)
      for (int b = 0, j = 0; b < 8; ++b)
        if (v >> b & 1) at[v][j++] = static_cast<uint8_t>(b);
  }
};
inline constexpr SelectInByte kSelectInByte{};

// The position of the n-th (from 0, n <= 15) set bit of x, or 64 when x has n or fewer set bits.
// Without branches on the data: the progressive walk's loop that cleared the n lowest bits one
// by one mispredicted its exit on nearly every symbol (perf: ≈ 19 % of the refinement walk's samples
// on the instruction after it; the 40-region panorama went from 0.092 s to 0.089 s). Bytes'
// bit counts, their prefix sums (one multiply), the first byte whose sum exceeds n, then a table.
inline int select_bit(uint64_t x, int n) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  uint64_t c = x - ((x >> 1) & 0x5555555555555555ULL);
  c = (c & 0x3333333333333333ULL) + ((c >> 2) & 0x3333333333333333ULL);
  c = (c + (c >> 4)) & 0x0F0F0F0F0F0F0F0FULL;  // set bits per byte
  const uint64_t prefix = c * kOnes;            // byte i: set bits in bytes 0..i (at most 64)
  // Byte i's high bit: prefix_i >= n + 1 (each byte is at least 0x80 before the subtraction, and
  // n + 1 <= 16: no borrow crosses bytes).
  const uint64_t ge = ((prefix | kHigh) - kOnes * static_cast<uint64_t>(n + 1)) & kHigh;
  if (ge == 0) return 64;
  const int byte = __builtin_ctzll(ge) >> 3;
  const int before = static_cast<int>(((prefix << 8) >> (byte * 8)) & 0xFF);  // bytes 0..byte-1
  return byte * 8 + kSelectInByte.at[(x >> (byte * 8)) & 0xFF][n - before];
}

// The same two counts with the x86 instructions made for them (POPCNT, and BMI2's PDEP for the
// select), for the progressive walk on CPUs that have them (hw_bits()): functions compiled for
// those instructions only (target attribute), never the whole file, so that no inline function
// shared with other files is compiled for a CPU the program may not run on. On the 40-region
// progressive panorama the walk with them is ≈ 20 % faster (docs/jpeg_rewrite.md).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GEOSHARD_JPEG_HW_BITS 1
#define GEOSHARD_TARGET_HW_BITS __attribute__((target("popcnt,bmi,bmi2")))
GEOSHARD_TARGET_HW_BITS inline int popcount_hw(uint64_t x) { return __builtin_popcountll(x); }
GEOSHARD_TARGET_HW_BITS inline int select_bit_hw(uint64_t x, int n) {
  const uint64_t d = _pdep_u64(uint64_t{1} << n, x);  // the n-th set bit of x, alone
  return d ? __builtin_ctzll(d) : 64;
}
#else
#define GEOSHARD_TARGET_HW_BITS
#endif

// kernels/dct.h forward_dct_quantise in AVX2 (io/jpeg_region.cpp): the islow transform in 32-bit
// lanes (the same integers), quantised with the divisions done as multiplies by IslowDivisors
// (exact: the proof is at forward_dct_avx2), for tables whose entries are all 1..255
// (IslowDivisors::simd; other tables take the scalar code). For the re-encoded blocks, called
// only when cpu_has_avx2() (kernels/cpu.h).
#ifdef GEOSHARD_HOST_AVX2
struct IslowDivisors {
  explicit IslowDivisors(const uint16_t* q);
  alignas(32) int32_t half[64], m[64], shift[64];  // per coefficient: d/2, the multiplier, 16 + l (d = 8·q)
  bool simd;                                        // every q in 1..255
};
void forward_dct_avx2(const int32_t* s, const IslowDivisors& dv, int16_t* out);
// Its quantisation alone: t[64] (kernels/dct.h forward_dct_islow's outputs, |t| <= 16384) -> out.
void quantise_avx2(const int32_t* t, const IslowDivisors& dv, int16_t* out);
// The samples s[y·8 + x] of component ci (0 Y, 1 Cb, 2 Cr) of a block of an RGB image wholly
// inside it: kernels/dct.h's rgb_to_y/cb/cr of each pixel, downsampled over sx × sy pixels (1×1,
// 2×1 or 2×2) by kernels/dct.h downsample, from the block's first pixel `base` (rows `stride`
// bytes apart); the same integers as that plain loop (io/jpeg_region.cpp).
void rgb_block_samples_avx2(const uint8_t* base, size_t stride, int sx, int sy, int ci, int32_t* s);
#endif

// Whether re-encoded blocks use the AVX2 code (where the CPU has it, cpu_has_avx2());
// set_simd_blocks(false) makes them use kernels/dct.h's portable code (tests run both ways).
void set_simd_blocks(bool on);

// Whether this CPU has POPCNT and BMI2 (checked once) and the walk uses them; set_hw_bits(false)
// makes it use the portable counts (tests run both ways). False on other architectures.
bool hw_bits();
void set_hw_bits(bool on);

// Canonical Huffman codes of a DHT table (T.81 annex C). False if the table is over-full
// (libjpeg rejects those too).
inline bool canonical_codes(const HuffTable& t, uint16_t* code, uint8_t* len, int* count) {
  int n = 0;
  uint32_t c = 0;
  for (int l = 1; l <= 16; ++l) {
    for (int i = 0; i < t.bits[l]; ++i) {
      if (n >= 256) return false;
      code[n] = static_cast<uint16_t>(c++);
      len[n++] = static_cast<uint8_t>(l);
    }
    if (c >= (1u << l) && t.bits[l]) return false;  // all-ones code used: libjpeg's JERR_BAD_HUFF_TABLE
    c <<= 1;
  }
  *count = n;
  return true;
}

// A DC difference or AC coefficient from its s extra bits v (T.81 F.2.2.1 EXTEND).
inline int extend(int v, int s) { return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v; }

// How far an AC symbol moves the coefficient index when walked: run + 1 for a coefficient, 16
// for ZRL, 0 for EOB (a run of one block); -1 for what a walk table leaves to the slow path
// (EOB runs with extra bits, coefficients of more than 10 bits).
inline int ac_advance(int sym) {
  const int size = sym & 15;
  return size ? (size > 10 ? -1 : (sym >> 4) + 1) : sym == 0 ? 0 : sym == 0xF0 ? 16 : -1;
}

// Decoding: a kLutBits-bit lookup for short codes, the T.81 F.2.2.3 maxcode walk for longer ones.
constexpr int kLutBits = 10;
constexpr int kMultiBits = 13;
constexpr int kFirstBits = 11, kFirstSpan = 21;
struct Decoder {
  uint16_t lut[1 << kLutBits];  // (length << 8) | symbol; 0: code longer than kLutBits (or invalid)
  // For skipping AC coefficients: (code length + extra bits) << 8 | advance, where advance is
  // run + 1, 0 for EOB, 0x80 | 16 for ZRL; 0: take the slow path.
  uint16_t skip[1 << kLutBits];
  // For skipping several AC symbols per lookup: the symbols (code + extra bits) that fit whole
  // in the next kMultiBits bits, as far as the first one `skip` has no entry for and up to an
  // EOB: bits 0-3 their total length, bits 4-10 their summed coefficient advance, bit 11 set
  // when the last of them is EOB; 0 when not even the first one fits (take `skip`). Built for
  // AC tables only (build(t, true)).
  uint16_t multi[1 << kMultiBits];
  // For walking a block of a progressive AC first scan (T.81 G.1.2.2; io/jpeg_splice_progressive.cpp),
  // which needs where its coefficients are, not only how many: the symbols (code + extra bits)
  // that fit whole in the next kFirstBits bits, as far as the first one `skip` has no entry for
  // (a long code, an EOB run of more than one block), an EOB, or a summed advance past
  // kFirstSpan: bits 0-20 the coefficients they code (bit i: position k + i, k where they
  // start); bits 21-25 their summed coefficient advance, plus one when the last of them is EOB
  // (an EOB needs a position in the band, as a coefficient does: with k + this <= Se + 1 all of
  // them belong to the block); bits 26-29 their total length; bit 30 set when the last of them
  // is EOB; 0 when not even the first one fits (take `skip`). Built by build(t, false, true) only.
  uint32_t first[1 << kFirstBits];
  // For walking a progressive DC first scan's untouched blocks two at a time (two blocks of one
  // component in a row): when two DC differences (code + extra bits each) fit whole in the next
  // kFirstBits bits, their total length in bits 0-4 and their sum from bit 5 (signed: >> 5);
  // 0 otherwise. Built by build(t, false, false, true) only.
  int32_t dc_pair[1 << kFirstBits];
  int32_t maxcode[18];          // largest code of each length, -1 if none
  int32_t valoff[18];           // index into vals of the first code of each length, minus that code
  uint8_t vals[256];

  bool build(const HuffTable& t, bool ac, bool first_scan = false, bool dc_pairs = false) {
    uint16_t code[256];
    uint8_t len[256];
    int n = 0;
    if (!t.present || !canonical_codes(t, code, len, &n)) return false;
    std::memcpy(vals, t.vals, 256);
    std::fill(std::begin(lut), std::end(lut), 0);
    std::fill(std::begin(skip), std::end(skip), 0);
    for (int l = 0; l < 18; ++l) maxcode[l] = -1, valoff[l] = 0;
    for (int i = 0; i < n; ++i) {
      const int l = len[i];
      if (maxcode[l] < 0) valoff[l] = i - code[i];
      maxcode[l] = code[i];
      if (l <= kLutBits) {
        const int shift = kLutBits - l;
        const int sym = t.vals[i], size = sym & 15;
        const int adv = sym == 0xF0 ? 0x80 | 16 : ac_advance(sym);
        for (int j = 0; j < (1 << shift); ++j) {
          lut[(code[i] << shift) | j] = static_cast<uint16_t>((l << 8) | sym);
          if (adv >= 0) skip[(code[i] << shift) | j] = static_cast<uint16_t>(((l + size) << 8) | adv);
        }
      }
    }
    for (uint32_t v = 0; ac && v < (1u << kMultiBits); ++v) {
      int used = 0, adv = 0;
      bool eob = false;
      while (!eob && used < kMultiBits) {  // (a shift by 32 would be undefined)
        int l = 0;
        const int sym = decode(static_cast<uint32_t>(v << (32 - kMultiBits + used)), &l);
        if (sym < 0) break;
        const int size = sym & 15;
        const int a = ac_advance(sym);
        if (a < 0 || used + l + size > kMultiBits) break;
        used += l + size;
        adv += a;
        eob = sym == 0;
      }
      multi[v] = static_cast<uint16_t>(used | adv << 4 | (eob ? 1 << 11 : 0));
    }
    for (uint32_t v = 0; first_scan && v < (1u << kFirstBits); ++v) {
      uint32_t used = 0, adv = 0, at = 0;
      bool eob = false;
      while (!eob && used < kFirstBits) {
        int l = 0;
        const int sym = decode(v << (32 - kFirstBits + used), &l);
        if (sym < 0) break;
        const int size = sym & 15;
        const int a = ac_advance(sym);
        if (a < 0 || used + l + size > kFirstBits || adv + a > kFirstSpan) break;
        if (size) at |= 1u << (adv + (sym >> 4));
        used += l + size;
        adv += a;
        eob = sym == 0;
      }
      first[v] = used ? at | (adv + eob) << 21 | used << 26 | (eob ? 1u << 30 : 0) : 0;
    }
    for (uint32_t v = 0; dc_pairs && v < (1u << kFirstBits); ++v) {
      uint32_t used = 0;
      int sum = 0, n = 0;
      for (; n < 2 && used < kFirstBits; ++n) {  // (a shift by 32 would be undefined)
        int l = 0;
        const int s = decode(v << (32 - kFirstBits + used), &l);
        if (s < 0 || s > 11 || used + l + s > kFirstBits) break;
        const uint32_t bits = s ? (v >> (kFirstBits - used - l - s)) & ((1u << s) - 1) : 0;
        if (s) sum += extend(static_cast<int>(bits), s);
        used += l + s;
      }
      dc_pair[v] = n == 2 ? static_cast<int32_t>(static_cast<uint32_t>(sum) << 5 | used) : 0;
    }
    return true;
  }
  // The symbol at the top of `w` (32 bits, MSB first); its code length in *l. -1: no such code.
  inline int decode(uint32_t w, int* l) const {
    const uint16_t e = lut[w >> (32 - kLutBits)];
    if (e) {
      *l = e >> 8;
      return e & 0xFF;
    }
    for (int k = kLutBits + 1; k <= 16; ++k) {
      const int32_t c = static_cast<int32_t>(w >> (32 - k));
      if (c <= maxcode[k]) {
        *l = k;
        return vals[valoff[k] + c];
      }
    }
    return -1;
  }
};

struct Encoder {
  uint16_t code[256];
  uint8_t len[256];  // 0: symbol absent from the table
  int count = 0;     // symbols in the table
  uint32_t next = 0;  // the first free code of length 16 (codes fill the code space in canonical order)
  uint8_t added[256];
  int nadded = 0;  // symbols add()ed, in code order
  uint32_t* freq = nullptr;  // counting(): symbol counts (put_symbol adds to them)
  bool build(const HuffTable& t) {
    uint16_t c[256];
    uint8_t l[256];
    int n = 0;
    if (!t.present || !canonical_codes(t, c, l, &n)) return false;
    std::memset(len, 0, sizeof len);
    for (int i = 0; i < n; ++i) code[t.vals[i]] = c[i], len[t.vals[i]] = l[i];
    count = n, nadded = 0, next = 0;
    for (int k = 1; k <= 16; ++k) next += static_cast<uint32_t>(t.bits[k]) << (16 - k);
    return true;
  }
  // An encoder that counts the symbols put (into freq[256]) instead of coding them: every symbol
  // present, with a 1-bit code.
  void counting(uint32_t* f) {
    std::fill(std::begin(code), std::end(code), uint16_t{0});
    std::fill(std::begin(len), std::end(len), uint8_t{1});
    count = 256, nadded = 0, next = 0xFFFF, freq = f;
  }
  // Gives a symbol the table lacks the next free code of length 16. Canonical codes (T.81 C.2)
  // are assigned in order of length, so every code of the table keeps its value: data coded with
  // the table decodes the same with the grown one (grow_table()). The all-ones code stays unused
  // (T.81 C: no code consists of all 1-bits). False when no code is left.
  bool add(int sym) {
    if (count + nadded >= 256 || next >= 0xFFFF) return false;
    code[sym] = static_cast<uint16_t>(next++);
    len[sym] = 16;
    added[nadded++] = static_cast<uint8_t>(sym);
    return true;
  }
};

// The optimal table for symbol counts freq[256], code lengths at most 16, the all-ones code unused:
// the procedure of T.81 annex K.2 (figures K.1 to K.3; as libjpeg's jpeg_gen_optimal_table). False
// if no symbol occurs or a code would be longer than 32 bits before K.3 (libjpeg refuses those too).
inline bool optimal_table(const uint32_t* freq_in, HuffTable& t) {
  uint64_t freq[257];
  int size[257], others[257];
  for (int i = 0; i < 256; ++i) freq[i] = freq_in[i];
  freq[256] = 1;  // a reserved symbol: it takes the all-ones code, which no real symbol then gets
  std::fill(std::begin(size), std::end(size), 0);
  std::fill(std::begin(others), std::end(others), -1);
  for (;;) {
    int c1 = -1, c2 = -1;  // the least and next least nonzero frequencies (ties: the larger index)
    for (int i = 0; i <= 256; ++i)
      if (freq[i] && (c1 < 0 || freq[i] <= freq[c1])) c1 = i;
    for (int i = 0; i <= 256; ++i)
      if (freq[i] && i != c1 && (c2 < 0 || freq[i] <= freq[c2])) c2 = i;
    if (c2 < 0) break;
    freq[c1] += freq[c2];
    freq[c2] = 0;
    for (++size[c1]; others[c1] >= 0;) ++size[c1 = others[c1]];
    others[c1] = c2;
    for (++size[c2]; others[c2] >= 0;) ++size[c2 = others[c2]];
  }
  int bits[33] = {};
  for (int i = 0; i <= 256; ++i)
    if (size[i]) {
      if (size[i] > 32) return false;  // (cannot happen with 32-bit counts; K.2 assumes it)
      ++bits[size[i]];
    }
  for (int i = 32; i > 16; --i)  // K.3: lengths over 16 moved up the tree
    while (bits[i] > 0) {
      int j = i - 2;
      while (bits[j] == 0) --j;
      bits[i] -= 2;
      ++bits[i - 1];
      bits[j + 1] += 2;
      --bits[j];
    }
  int longest = 16;
  while (longest > 0 && bits[longest] == 0) --longest;
  if (longest == 0) return false;
  --bits[longest];  // the reserved symbol's code
  int n = 0;
  for (int l = 1; l <= 16; ++l) t.bits[l] = static_cast<uint8_t>(bits[l]), n += bits[l];
  if (n == 0) return false;
  t.bits[0] = 0;
  int k = 0;
  for (int l = 1; l <= 32; ++l)
    for (int i = 0; i < 256; ++i)
      if (size[i] == l) t.vals[k++] = static_cast<uint8_t>(i);
  t.present = true;
  return true;
}

// The table `t` with the symbols `e` added (Encoder::add) appended at length 16.
inline void grow_table(HuffTable& t, const Encoder& e) {
  int n = 0;
  for (int k = 1; k <= 16; ++k) n += t.bits[k];
  for (int i = 0; i < e.nadded; ++i) t.vals[n + i] = e.added[i];
  t.bits[16] = static_cast<uint8_t>(t.bits[16] + e.nadded);
}

// A DHT segment (marker, length and payload) defining tables (Tc << 4 | Th, table).
inline std::vector<uint8_t> dht_segment(const std::vector<std::pair<uint8_t, HuffTable>>& tables) {
  std::vector<uint8_t> o = {0xFF, 0xC4, 0, 0};
  for (const auto& [tcth, t] : tables) {
    o.push_back(tcth);
    o.insert(o.end(), t.bits + 1, t.bits + 17);
    int n = 0;
    for (int k = 1; k <= 16; ++k) n += t.bits[k];
    o.insert(o.end(), t.vals, t.vals + n);
  }
  o[2] = static_cast<uint8_t>((o.size() - 2) >> 8), o[3] = static_cast<uint8_t>(o.size() - 2);
  return o;
}

// The DHT segments of an output file, so that tables which gained symbols are written anew once
// the output is complete (DHT segments grow: they are patched in at the end, not in place).
class OutTables {
 public:
  // A DHT segment (payload `seg`, `n` bytes) copied to out[at, at + n + 4). False if malformed.
  bool record(const uint8_t* seg, size_t n, size_t at) {
    Seg s{at, n + 4, {}, false};
    while (n > 0) {
      if (n < 17) return false;
      const int tc = seg[0] >> 4, th = seg[0] & 15;
      if (tc > 1 || th > 3) return false;
      HuffTable t;
      size_t count = 0;
      for (int l = 1; l <= 16; ++l) count += t.bits[l] = seg[l];
      if (count > 256 || n < 17 + count) return false;
      std::memcpy(t.vals, seg + 17, count);
      t.present = true;
      cur_[tc * 4 + th] = {segs_.size(), s.tables.size()};
      s.tables.push_back({static_cast<uint8_t>(seg[0]), t});
      seg += 17 + count;
      n -= 17 + count;
    }
    segs_.push_back(std::move(s));
    return true;
  }
  // The current definition of table `id` of class `tc` (0 DC, 1 AC), grown as it has been so
  // far; nullptr if none.
  const HuffTable* get(int tc, int id) const {
    const Ref r = cur_[tc * 4 + id];
    return r.seg == kNone ? nullptr : &segs_[r.seg].tables[r.tab].second;
  }
  // Appends the symbols `e` added to that definition. False if there is none to grow.
  bool grow(int tc, int id, const Encoder& e) {
    if (e.nadded == 0) return true;
    const Ref r = cur_[tc * 4 + id];
    if (r.seg == kNone) return false;
    grow_table(segs_[r.seg].tables[r.tab].second, e);
    segs_[r.seg].grown = true;
    added_ += static_cast<uint64_t>(e.nadded);
    return true;
  }
  uint64_t added() const { return added_; }
  // `out` with every grown segment written anew.
  void rewrite(std::vector<uint8_t>& out) const {
    if (added_ == 0) return;
    std::vector<uint8_t> o;
    o.reserve(out.size() + added_ + 16);
    size_t from = 0;
    for (const Seg& s : segs_) {
      if (!s.grown) continue;
      o.insert(o.end(), out.begin() + static_cast<std::ptrdiff_t>(from), out.begin() + static_cast<std::ptrdiff_t>(s.at));
      const std::vector<uint8_t> seg = dht_segment(s.tables);
      o.insert(o.end(), seg.begin(), seg.end());
      from = s.at + s.bytes;
    }
    o.insert(o.end(), out.begin() + static_cast<std::ptrdiff_t>(from), out.end());
    out.swap(o);
  }

 private:
  static constexpr size_t kNone = ~size_t{0};
  struct Seg {
    size_t at, bytes;
    std::vector<std::pair<uint8_t, HuffTable>> tables;  // (Tc << 4 | Th, table)
    bool grown;
  };
  struct Ref {
    size_t seg = kNone, tab = 0;
  };
  std::vector<Seg> segs_;
  Ref cur_[8];
  uint64_t added_ = 0;
};

// Reads an unstuffed bit stream (0xFF00 -> 0xFF already undone). Overrun is checked once per
// MCU, so `data` has kPad zero bytes past `nbits`: more than one MCU can read (10 blocks × 64
// symbols × 27 bits ≈ 2.2 KB) + the 8 bytes of a peek.
constexpr size_t kPad = 4096;
struct BitReader {
  const uint8_t* data;
  size_t nbits, pos = 0;
  inline uint32_t peek32() const { return static_cast<uint32_t>((load_be64(data + (pos >> 3)) << (pos & 7)) >> 32); }
  inline void skip(size_t n) { pos += n; }
};

// A BitReader for walks: the next >= 27 bits (a symbol takes at most 16 + 11) kept in a 64-bit
// register across symbols, blocks and MCUs and reloaded only when they run low, so that a
// symbol's decode does not wait on a load from its bit position. BitReader's interface.
struct BitWindow {
  const uint8_t* data;
  size_t nbits, pos;
  uint64_t win;
  int avail;  // bits of win that are the stream's (the rest are zero)
  explicit BitWindow(const BitReader& r) : data(r.data), nbits(r.nbits), pos(r.pos) { load(); }
  inline void load() {
    win = load_be64(data + (pos >> 3)) << (pos & 7);
    avail = 64 - static_cast<int>(pos & 7);
  }
  inline void need() {
    if (avail < 27) load();
  }
  inline void drop(int n) { win <<= n, avail -= n, pos += static_cast<size_t>(n); }  // n <= 27 after need()
  // (Up to 27 valid bits: as many as a code + extra bits need.)
  inline uint32_t peek32() {
    need();
    return static_cast<uint32_t>(win >> 32);
  }
  inline void skip(size_t n) {
    if (n < static_cast<size_t>(avail)) drop(static_cast<int>(n));
    else pos += n, load();
  }
};

// Writes an unstuffed bit stream into `buf[0, len)` (stuffing is added when the interval is
// emitted). `buf` only grows (ensure()); put() and copy() write through a raw pointer.
struct BitWriter {
  std::vector<uint8_t> buf;
  size_t len = 0;  // bytes written
  uint64_t acc = 0;
  int n = 0;  // bits in acc (< 32 between calls)
  // Room for `bytes` more bytes.
  void ensure(size_t bytes) {
    if (buf.size() < len + bytes) buf.resize(std::max(buf.size() * 2, len + bytes));
  }
  // At most (ensure()d) 4 bytes.
  inline void put(uint32_t bits, int nb) {  // nb <= 32, bits < 2^nb
    acc = (acc << nb) | bits;
    n += nb;
    if (n >= 32) {
      n -= 32;
      const uint32_t w = __builtin_bswap32(static_cast<uint32_t>(acc >> n));
      std::memcpy(buf.data() + len, &w, 4);
      len += 4;
    }
  }
  // Bits [from, to) of an unstuffed stream, verbatim.
  void copy(const BitReader& r, size_t from, size_t to) {
    ensure((to - from) / 8 + 8);
    BitReader c = r;
    c.pos = from;
    while (to - c.pos >= 32) {
      put(c.peek32(), 32);
      c.pos += 32;
    }
    const int rest = static_cast<int>(to - c.pos);
    if (rest) put(c.peek32() >> (32 - rest), rest);
  }
  // Pads to a byte boundary with 1-bits (T.81 F.1.2.3) and flushes.
  void finish() {
    ensure(8);
    if (n % 8) put((1u << (8 - n % 8)) - 1, 8 - n % 8);
    while (n >= 8) {
      n -= 8;
      buf[len++] = static_cast<uint8_t>(acc >> n);
    }
  }
};

// Writes symbol `sym`'s code; a symbol the table lacks is added to it first (Encoder::add; the
// caller writes the grown table: OutTables). False if the table has no code left for it.
// put_symbol_bits writes the code followed by the low `nb` (<= 11) bits of `bits` in one put (a
// code has at most 16 bits).
inline bool put_symbol_bits(BitWriter& w, Encoder& e, int sym, uint32_t bits, int nb) {
  if (!e.len[sym] && !e.add(sym)) return false;
  if (e.freq) ++e.freq[sym];
  w.put(static_cast<uint32_t>(e.code[sym]) << nb | (bits & ((1u << nb) - 1)), e.len[sym] + nb);
  return true;
}
inline bool put_symbol(BitWriter& w, Encoder& e, int sym) { return put_symbol_bits(w, e, sym, 0, 0); }

inline int bit_length(unsigned v) { return v ? 32 - __builtin_clz(v) : 0; }

// Appends `n` unstuffed bytes to `out`, inserting 0x00 after each 0xFF.
inline void append_stuffed(std::vector<uint8_t>& out, const uint8_t* p, size_t n) {
  const uint8_t* end = p + n;
  size_t ffs = 0;
  for (const uint8_t* q = p; (q = static_cast<const uint8_t*>(std::memchr(q, 0xFF, end - q))) != nullptr; ++q) ++ffs;
  size_t at = out.size();
  out.resize(at + n + ffs);
  uint8_t* o = out.data();
  while (p < end) {
    const uint8_t* ff = static_cast<const uint8_t*>(std::memchr(p, 0xFF, end - p));
    const uint8_t* stop = ff ? ff + 1 : end;
    std::memcpy(o + at, p, stop - p);
    at += stop - p;
    if (ff) o[at++] = 0;
    p = stop;
  }
}

// The end of entropy-coded data starting at p: the first 0xFF not followed by 0x00 (the marker
// after the data, or fill bytes before it). False when the data runs to the end of the file.
inline bool entropy_end(const uint8_t* d, size_t size, size_t p, size_t* end) {
  size_t e = p;
  for (;;) {
    const void* ff = std::memchr(d + e, 0xFF, size - e);
    if (!ff) return false;
    e = static_cast<const uint8_t*>(ff) - d;
    if (e + 1 >= size) return false;
    if (d[e + 1] != 0x00) break;
    e += 2;
  }
  *end = e;
  return true;
}

// Entropy-coded bytes [p, e) with their stuffing (0xFF00 -> 0xFF) undone into `clean`, followed
// by kPad zero bytes; returns the unstuffed length. `clean` only grows (resizing from empty would
// zero megabytes on every call).
inline size_t unstuff(const uint8_t* d, size_t p, size_t e, std::vector<uint8_t>& clean) {
  if (clean.size() < e - p + kPad) clean.resize(e - p + kPad);
  size_t n = 0;
  for (size_t i = p; i < e;) {
    const void* ff = std::memchr(d + i, 0xFF, e - i);
    const size_t j = ff ? static_cast<const uint8_t*>(ff) - d + 1 : e;  // through the 0xFF
    std::memcpy(clean.data() + n, d + i, j - i);
    n += j - i;
    i = j + 1;  // skip the stuffed 0x00
  }
  std::memset(clean.data() + n, 0, kPad);
  return n;
}

inline bool fail(SpliceStats& st, const char* why) {
  st.fallback_reason = why;
  return false;
}

}  // namespace geoshard::jpeg::detail
