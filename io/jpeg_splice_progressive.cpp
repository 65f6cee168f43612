// The splice for progressive JPEG files (io/jpeg_splice.h splice_progressive): ITU-T T.81 annex G,
// Huffman coding, 8-bit, no restart intervals.
//
// A progressive file codes each block in several scans: DC first (the DC values' high bits,
// MCU-interleaved, predicted like baseline), DC refinement (one raw bit per block), AC first
// (one component, a spectral band Ss..Se at point transform Al, with end-of-band runs EOBRUN
// that cover many blocks with one symbol) and AC refinement (one more bit of precision: new
// nonzero coefficients coded with run/sign symbols, a correction bit for every coefficient that
// was already nonzero -- the "history" --, those of a whole EOB run placed after its EOB symbol).
//
// Every scan is walked with its own Huffman tables. A block's place in the bit stream depends on
// the blocks before it only through the DC predictor (DC first), the EOB run in progress (AC
// scans) and, in refinement scans, its own history (which coefficients earlier scans made
// nonzero: kept per block, 64 bits, from the input's scans). So a stretch of blocks is re-encoded
// -- a window -- from where the input is at a clean state (an MCU start with equal predictors; an
// AC block that is not inside an EOB run) to the next such place after the touched blocks; the
// input's values of the untouched blocks in it are decoded, the touched ones take their new
// coefficients, and the window is encoded like an encoder would (T.81 G.1.2.2, G.1.2.3), with the
// scan's own tables. Outside windows the input's bits are copied; a scan with no touched block is
// copied byte for byte. EOB runs the tables cannot code at their length are coded as several
// shorter runs. A progressive file's tables are optimised for its own data, so a re-encoded block
// may need a symbol they lack: the table gains it with a free code of length 16 (Encoder::add;
// every code it had keeps its value, so the copied bits of this and later scans still decode the
// same) and its DHT segment is rewritten once the file is done (OutTables). When the table has no
// free code left, the scan is walked again and re-encoded whole with a table of its own (counted,
// built as T.81 K.2), defined by a DHT inserted before its SOS.
//
// Checked as libjpeg checks, and stricter (anything unusual fails the splice; the libjpeg path
// then decides): scan parameters (G.1.1.1.1), the order of scans per coefficient (a refinement
// needs the scan before it; a second first scan of a coefficient is refused), tables present,
// Huffman codes valid, data ending with the last block, no DNL, no DRI, no DQT between scans,
// a single SOF2.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "io/jpeg_bits.h"
#include "io/jpeg_splice.h"

namespace geoshard::jpeg::detail {
namespace {

struct Scan {
  int ns = 0;
  int comp[4] = {};  // indexes into SpliceHeader::comps (frame order)
  int td[4] = {}, ta[4] = {};
  int ss = 0, se = 0, ah = 0, al = 0;
};

// The most one AC block takes in the output: 64 symbols of at most 16 + 10 bits, each ZRL (at most
// 4) 16 more, and in a refinement scan 63 correction bits -- with room to spare.
constexpr size_t kMaxBlockBytesAc = (64 * 26 + 4 * 16 + 63) / 8 + 16;

// (R: a BitReader, or a BitWindow for walks.)
template <class R>
inline uint32_t get_bits(R& r, int n) {  // n <= 16
  if (n == 0) return 0;
  const uint32_t v = r.peek32() >> (32 - n);
  r.skip(static_cast<size_t>(n));
  return v;
}

template <class R>
inline int get_symbol(R& r, const Decoder& d) {
  int l = 0;
  const int s = d.decode(r.peek32(), &l);
  if (s >= 0) r.skip(static_cast<size_t>(l));
  return s;
}

// The bit counts of the refinement walk: portable, or POPCNT + BMI2 (io/jpeg_bits.h hw_bits()).
struct PortableBits {
  static int count(uint64_t x) { return popcount(x); }
  static int select(uint64_t x, int n) { return select_bit(x, n); }
};
#ifdef GEOSHARD_JPEG_HW_BITS
struct HwBits {
  GEOSHARD_TARGET_HW_BITS static int count(uint64_t x) { return popcount_hw(x); }
  GEOSHARD_TARGET_HW_BITS static int select(uint64_t x, int n) { return select_bit_hw(x, n); }
};
#endif

constexpr const char* kNoFreeCode = "a Huffman table with no free code for a symbol it lacks";

// What the walk keeps between scans and calls (per thread: reused, so that the multi-megabyte
// arrays are not page-faulted in anew for every photo).
struct State {
  std::vector<std::vector<int32_t>> slot;   // per component, per block (row-major): index of its new coefficients, or -1
  std::vector<std::vector<uint64_t>> hist;  // per component, per block: bit k set when zigzag coefficient k is nonzero so far
  std::vector<uint8_t> mcu_any;              // per MCU of the frame (an interleaved scan's MCU): 1 when a block of it is touched
  std::vector<int16_t> coefs;               // 64 per touched block, zigzag order
  std::vector<int16_t> dc;                  // per touched block: coefs[64 k] again, packed (all a DC scan reads)
  std::vector<uint8_t> clean;               // the scan's entropy-coded data, unstuffed, + kPad zero bytes
  std::vector<uint8_t> wbuf;                // BitWriter buffer
  std::vector<uint64_t> hist_saved;         // a component's history before an AC scan that may be walked twice
};

// The output side of an AC scan: the EOB run being built and, in a refinement scan, the
// correction bits of its blocks (one byte per bit, in order) with their count per block.
struct EobOut {
  uint32_t run = 0;
  std::vector<uint8_t> bits;
  std::vector<uint8_t> per_block;
};

class ScanSplicer {
 public:
  ScanSplicer(const SpliceHeader& h, State& s, SpliceStats& st) : h_(h), s_(s), st_(st) {}
  const char* why = nullptr;
  bool whole = false;  // re-encode every block of the scan (the scan gets a table of its own)

  // DC first scan (Ss = Se = 0, Ah = 0).
  bool dc_first(const Scan& sc, const Decoder* dec, Encoder* const* enc, BitReader& r, BitWriter& w, bool& changed);
  // DC refinement (Ss = Se = 0, Ah > 0): one raw bit per block.
  bool dc_refine(const Scan& sc, BitReader& r, BitWriter& w, bool& changed);
  // AC first (Ah = 0) or refinement (Ah > 0) scan of one component.
  bool ac(const Scan& sc, const Decoder& dec, Encoder& enc, BitReader& r, BitWriter& w, bool& changed);

 private:
  bool bad(const char* reason) {
    why = reason;
    return false;
  }
  // The blocks of MCU (mx, my) of a DC scan in coding order: component (scan position) and
  // block coordinates; -1 slot for blocks outside the component (MCU padding) or untouched.
  int mcu_blocks(const Scan& sc, int mx, int my, int* pos, int32_t* slot) const;
  void mcu_grid(const Scan& sc, int* mx, int* my) const;
  // Whether MCU m (row-major in the scan's MCU grid) of a DC scan holds a touched block; the
  // component (scan position) of each block of an MCU in coding order into pat (returns their count).
  bool mcu_touched(const Scan& sc, size_t m) const {
    return sc.ns == 1 ? s_.slot[sc.comp[0]][m] >= 0 : s_.mcu_any[m] != 0;
  }
  int mcu_pattern(const Scan& sc, int* pat) const;

  // Walks one AC block of the input. v (zigzag, may be null): AC first -- the values at the
  // scan's precision; refinement -- 0 zero, +1 / -1 newly nonzero, 2 / 3 history with correction
  // bit 0 / 1. `eob` is the input's EOB run count (blocks left after the current one).
  bool parse_first(BitReader& r, const Decoder& d, int ss, int se, uint32_t& eob, uint64_t& hist, int16_t* v);
  bool parse_refine(BitReader& r, const Decoder& d, int ss, int se, uint32_t& eob, uint64_t& hist, int16_t* v);
#ifdef GEOSHARD_JPEG_HW_BITS
  // The same, compiled for POPCNT + BMI2 (called only when hw_bits()).
  GEOSHARD_TARGET_HW_BITS bool parse_refine_hw(BitReader& r, const Decoder& d, int ss, int se, uint32_t& eob,
                                               uint64_t& hist, int16_t* v);
#endif
  // Their bodies, called on local copies of r, eob and hist (which then stay in registers: through
  // the references every bit position would be stored and reloaded).
  // (R: BitReader for the parses, BitWindow for the walks.)
  template <class R>
  [[gnu::always_inline]] inline bool first_body(R& r, const Decoder& d, int ss, int se, uint32_t& eob,
                                                 uint64_t& hist, int16_t* v);
  template <class Bits, class R>
  [[gnu::always_inline]] inline bool refine_body(R& r, const Decoder& d, int ss, int se, uint32_t& eob,
                                                  uint64_t& hist, int16_t* v);
  // ac()'s fast path: from block t.b, outside a window, walks the untouched blocks (their values
  // not needed, runs' members at once) up to the next touched block or the scan's end; t keeps
  // the input's EOB run and its first block as ac() does. One loop per kind of scan, so that the
  // walk's state stays in registers and nothing is dispatched per block.
  struct Stretch {
    size_t b;
    uint32_t eob;
    size_t run_block, run_pos;
    uint64_t run_hist;
  };
  template <bool Refine, class Bits>
  [[gnu::always_inline]] inline bool stretch_body(BitReader& r, const Decoder& d, int ss, int se, const int32_t* slot,
                                                   uint64_t* hist, size_t nblocks, Stretch& t);
  bool stretch_first(BitReader& r, const Decoder& d, int ss, int se, const int32_t* slot, uint64_t* hist,
                     size_t nblocks, Stretch& t);
  bool stretch_refine(BitReader& r, const Decoder& d, int ss, int se, const int32_t* slot, uint64_t* hist,
                      size_t nblocks, Stretch& t);
#ifdef GEOSHARD_JPEG_HW_BITS
  GEOSHARD_TARGET_HW_BITS bool stretch_refine_hw(BitReader& r, const Decoder& d, int ss, int se, const int32_t* slot,
                                                 uint64_t* hist, size_t nblocks, Stretch& t);
#endif
  // Encodes one block's values (as parse_*) into the output.
  bool encode_first(BitWriter& w, Encoder& e, int ss, int se, const int16_t* v, EobOut& o);
  bool encode_refine(BitWriter& w, Encoder& e, int ss, int se, const int16_t* v, EobOut& o);
  bool flush_eob(BitWriter& w, Encoder& e, EobOut& o, bool refine);
  // The new values of touched block `slot` at the scan's precision (as parse_* gives them).
  void new_values(int32_t slot, const Scan& sc, int16_t* v) const;

  const SpliceHeader& h_;
  State& s_;
  SpliceStats& st_;
};

void ScanSplicer::mcu_grid(const Scan& sc, int* mx, int* my) const {
  if (sc.ns == 1) {
    *mx = h_.comps[sc.comp[0]].width_in_blocks;
    *my = h_.comps[sc.comp[0]].height_in_blocks;
  } else {
    *mx = (h_.width + 8 * h_.hmax - 1) / (8 * h_.hmax);
    *my = (h_.height + 8 * h_.vmax - 1) / (8 * h_.vmax);
  }
}

int ScanSplicer::mcu_pattern(const Scan& sc, int* pat) const {
  int n = 0;
  for (int i = 0; i < sc.ns; ++i) {
    const SpliceComponent& c = h_.comps[sc.comp[i]];
    for (int k = 0; k < (sc.ns == 1 ? 1 : c.h * c.v); ++k) pat[n++] = i;
  }
  return n;
}

int ScanSplicer::mcu_blocks(const Scan& sc, int mx, int my, int* pos, int32_t* slot) const {
  int n = 0;
  for (int i = 0; i < sc.ns; ++i) {
    const SpliceComponent& c = h_.comps[sc.comp[i]];
    const int bh = sc.ns == 1 ? 1 : c.h, bv = sc.ns == 1 ? 1 : c.v;
    for (int j = 0; j < bv; ++j)
      for (int k = 0; k < bh; ++k) {
        const int bx = mx * bh + k, by = my * bv + j;
        pos[n] = i;
        slot[n++] = bx < c.width_in_blocks && by < c.height_in_blocks
                        ? s_.slot[sc.comp[i]][static_cast<size_t>(by) * c.width_in_blocks + bx]
                        : -1;
      }
  }
  return n;
}

bool ScanSplicer::dc_first(const Scan& sc, const Decoder* dec, Encoder* const* enc, BitReader& r, BitWriter& w,
                           bool& changed) {
  int mx, my;
  mcu_grid(sc, &mx, &my);
  int pred_in[4] = {0, 0, 0, 0}, pred_out[4] = {0, 0, 0, 0};
  int pos[10], val[10];
  int32_t slot[10];
  size_t copy_from = r.pos;
  int pat[10];
  const int npat = mcu_pattern(sc, pat);
  bool pair_next[10];  // block b and b + 1 of an MCU belong to one component (Decoder::dc_pair)
  for (int b = 0; b < npat; ++b) pair_next[b] = b + 1 < npat && pat[b + 1] == pat[b];
  bool in_step = true;  // pred_out equals pred_in (pred_out not updated while it holds)
  for (int y = 0; y < my; ++y) {
    for (int x = 0; x < mx; ++x) {
      if (in_step && !whole && !mcu_touched(sc, static_cast<size_t>(y) * mx + x)) {
        // Untouched MCUs up to the next touched one or the row's end, the predictions in step:
        // decoded only (their bits are copied with the next re-encoded MCU's or the scan's end),
        // code and extra bits from one lookup.
        BitWindow bw(r);
        for (;;) {
          for (int b = 0; b < npat; ++b) {
            const Decoder& dd = dec[pat[b]];
            const uint32_t w32 = bw.peek32();
            if (pair_next[b]) {  // this block and the next, of the same component, in one lookup
              const int32_t p2 = dd.dc_pair[w32 >> (32 - kFirstBits)];
              if (p2) {
                pred_in[pat[b]] += p2 >> 5;
                bw.drop(p2 & 31);
                ++b;
                continue;
              }
            }
            const uint16_t e = dd.lut[w32 >> (32 - kLutBits)];
            int s;
            if (e) {
              const int l = e >> 8;
              s = e & 0xFF;
              if (s > 11) return bad("corrupt data");
              if (s) pred_in[pat[b]] += extend(static_cast<int>((w32 << l) >> (32 - s)), s);
              bw.drop(l + s);
            } else {
              s = get_symbol(bw, dd);
              if (s < 0 || s > 11) return bad("corrupt data");
              if (s) pred_in[pat[b]] += extend(static_cast<int>(get_bits(bw, s)), s);
            }
          }
          if (bw.pos > r.nbits) return bad("corrupt data (past the end)");
          ++st_.mcus;
          if (x + 1 == mx || mcu_touched(sc, static_cast<size_t>(y) * mx + x + 1)) break;
          ++x;
        }
        r.pos = bw.pos;
        continue;
      }
      if (in_step) std::memcpy(pred_out, pred_in, sizeof pred_in);
      const int n = mcu_blocks(sc, x, y, pos, slot);
      bool re = whole || std::memcmp(pred_in, pred_out, sizeof pred_in) != 0;
      for (int b = 0; b < n; ++b) re |= slot[b] >= 0;
      const size_t start = r.pos;
      for (int b = 0; b < n; ++b) {
        const int s = get_symbol(r, dec[pos[b]]);
        if (s < 0 || s > 11) return bad("corrupt data");
        if (s) pred_in[pos[b]] += extend(static_cast<int>(get_bits(r, s)), s);
        val[b] = pred_in[pos[b]];
      }
      if (r.pos > r.nbits) return bad("corrupt data (past the end)");
      ++st_.mcus;
      if (!re) {
        in_step = true;
        continue;
      }
      w.copy(r, copy_from, start);
      w.ensure(10 * 8);
      for (int b = 0; b < n; ++b) {
        const int v = slot[b] >= 0 ? s_.dc[static_cast<size_t>(slot[b])] >> sc.al : val[b];
        const int diff = v - pred_out[pos[b]];
        pred_out[pos[b]] = v;
        const int nb = bit_length(static_cast<unsigned>(diff < 0 ? -diff : diff));
        if (nb > 11 || !put_symbol(w, *enc[pos[b]], nb)) return bad(nb > 11 ? "a DC difference out of range" : kNoFreeCode);
        if (nb) w.put(static_cast<uint32_t>(diff < 0 ? diff - 1 : diff) & ((1u << nb) - 1), nb);
      }
      ++st_.mcus_reencoded;
      changed = true;
      copy_from = r.pos;
      in_step = std::memcmp(pred_in, pred_out, sizeof pred_in) == 0;
    }
  }
  w.copy(r, copy_from, r.pos);
  return true;
}

bool ScanSplicer::dc_refine(const Scan& sc, BitReader& r, BitWriter& w, bool& changed) {
  int mx, my;
  mcu_grid(sc, &mx, &my);
  int pos[10];
  int32_t slot[10];
  size_t copy_from = r.pos;
  int pat[10];
  const int npat = mcu_pattern(sc, pat);
  for (int y = 0; y < my; ++y) {
    for (int x = 0; x < mx; ++x) {
      if (!mcu_touched(sc, static_cast<size_t>(y) * mx + x)) {  // one raw bit per block, copied
        r.pos += static_cast<size_t>(npat);
        ++st_.mcus;
        continue;
      }
      if (r.pos > r.nbits) return bad("corrupt data (past the end)");  // (before copying up to r.pos)
      const int n = mcu_blocks(sc, x, y, pos, slot);
      ++st_.mcus;
      bool any = false;
      for (int b = 0; b < n; ++b) {
        if (slot[b] >= 0) {
          w.copy(r, copy_from, r.pos);
          w.ensure(8);
          w.put(static_cast<uint32_t>(s_.dc[static_cast<size_t>(slot[b])] >> sc.al) & 1u, 1);
          copy_from = r.pos + 1;
          any = true;
        }
        ++r.pos;
      }
      if (any) ++st_.mcus_reencoded, changed = true;
    }
    if (r.pos > r.nbits) return bad("corrupt data (past the end)");
  }
  w.copy(r, copy_from, r.pos);
  return true;
}

// Runs `body` on local copies of the bit reader, EOB run and history, then stores them back.
template <class Body>
[[gnu::always_inline]] inline bool on_locals(BitReader& r0, uint32_t& eob0, uint64_t& hist0, Body&& body) {
  BitReader r = r0;
  uint32_t eob = eob0;
  uint64_t hist = hist0;
  const bool ok = body(r, eob, hist);
  r0.pos = r.pos, eob0 = eob, hist0 = hist;
  return ok;
}

bool ScanSplicer::parse_first(BitReader& r0, const Decoder& d, int ss, int se, uint32_t& eob0, uint64_t& hist0,
                              int16_t* v) {
  return on_locals(r0, eob0, hist0, [&](BitReader& r, uint32_t& eob, uint64_t& hist) { return first_body(r, d, ss, se, eob, hist, v); });
}

bool ScanSplicer::parse_refine(BitReader& r0, const Decoder& d, int ss, int se, uint32_t& eob0, uint64_t& hist0,
                               int16_t* v) {
  return on_locals(r0, eob0, hist0,
                   [&](BitReader& r, uint32_t& eob, uint64_t& hist) { return refine_body<PortableBits>(r, d, ss, se, eob, hist, v); });
}

#ifdef GEOSHARD_JPEG_HW_BITS
// on_locals by hand: a lambda's body would not be compiled for the target (and the counts would
// stay calls).
bool ScanSplicer::parse_refine_hw(BitReader& r0, const Decoder& d, int ss, int se, uint32_t& eob0, uint64_t& hist0,
                                  int16_t* v) {
  BitReader r = r0;
  uint32_t eob = eob0;
  uint64_t hist = hist0;
  const bool ok = refine_body<HwBits>(r, d, ss, se, eob, hist, v);
  r0.pos = r.pos, eob0 = eob, hist0 = hist;
  return ok;
}
#endif

template <class R>
bool ScanSplicer::first_body(R& r, const Decoder& d, int ss, int se, uint32_t& eob, uint64_t& hist,
                             int16_t* v) {
  if (v) std::fill(v + ss, v + se + 1, int16_t{0});
  if (eob > 0) {
    --eob;
    return true;
  }
  for (int k = ss; k <= se; ++k) {
    if (!v) {  // walking only
      const uint32_t w = r.peek32();
      // Several symbols in one lookup when they stay within the band (so each passes the checks
      // below; Decoder::first).
      const uint32_t m = d.first[w >> (32 - kFirstBits)];
      const int madv = static_cast<int>(m >> 21 & 31);  // (one more when ended by EOB)
      if (m && k + madv <= se + 1) {
        hist |= static_cast<uint64_t>(m & ((1u << kFirstSpan) - 1)) << k;
        r.skip(m >> 26 & 15);
        if (m >> 30 & 1) break;  // ended by EOB (a run of this block alone)
        k += madv - 1;
        continue;
      }
      // Else one symbol: code + extra bits and the coefficient advance in one lookup.
      const uint16_t e = d.skip[w >> (32 - kLutBits)];
      const int adv = e & 0xFF;
      if (adv > 0 && !(adv & 0x80)) {  // a coefficient (not EOB, ZRL or a long code)
        k += adv - 1;
        if (k > se) return bad("corrupt data");
        hist |= uint64_t{1} << k;
        r.skip(e >> 8);
        continue;
      }
    }
    const int sym = get_symbol(r, d);
    if (sym < 0) return bad("corrupt data");
    const int run = sym >> 4, s = sym & 15;
    if (s) {
      k += run;
      if (k > se || s > 10) return bad("corrupt data");
      const int val = extend(static_cast<int>(get_bits(r, s)), s);
      hist |= uint64_t{1} << k;  // (s > 0: never zero)
      if (v) v[k] = static_cast<int16_t>(val);
    } else if (run == 15) {
      k += 15;  // ZRL: 16 zeros (the loop adds one)
      if (k > se) return bad("corrupt data (zero run past the band)");
    } else {
      eob = (1u << run) + get_bits(r, run) - 1;  // this block is the run's first
      break;
    }
  }
  return true;
}

template <class Bits, class R>
bool ScanSplicer::refine_body(R& r, const Decoder& d, int ss, int se, uint32_t& eob, uint64_t& hist,
                              int16_t* v) {
  int k = ss;
  if (eob == 0) {
    for (; k <= se; ++k) {
      const int sym = get_symbol(r, d);
      if (sym < 0) return bad("corrupt data");
      int run = sym >> 4;
      const int s = sym & 15;
      int sign = 0;
      if (s) {
        if (s != 1) return bad("corrupt data");
        if (v) sign = get_bits(r, 1) ? 1 : -1;
        else r.skip(1);
      } else if (run != 15) {
        eob = (1u << run) + get_bits(r, run);
        break;
      }
      // Over the coefficients: history ones take a correction bit; the run counts zero ones,
      // the new coefficient (or the end of a ZRL) is the zero one after it.
      if (!v) {  // walking only: the same with bit masks (the run + 1-th zero; ones before it)
        const uint64_t from = ~uint64_t{0} << k, band = se == 63 ? ~uint64_t{0} : (uint64_t{1} << (se + 1)) - 1;
        const int z = Bits::select(~hist & band & from, run);
        const uint64_t upto = z < 64 ? (uint64_t{1} << z) - 1 : band;  // bits below that zero, or the band
        r.skip(static_cast<size_t>(Bits::count(hist & from & upto)));
        k = z < 64 ? z : se + 1;
      } else {
        for (; k <= se; ++k) {
          if (hist >> k & 1) {
            v[k] = static_cast<int16_t>(2 + get_bits(r, 1));
          } else {
            v[k] = 0;
            if (--run < 0) break;
          }
        }
      }
      if (s) {
        if (k > se) return bad("corrupt data (coefficient past the band)");
        hist |= uint64_t{1} << k;
        if (v) v[k] = static_cast<int16_t>(sign);
      }
    }
  }
  if (eob > 0) {  // the rest of the band: correction bits only
    if (v) {
      for (; k <= se; ++k) {
        if (hist >> k & 1) v[k] = static_cast<int16_t>(2 + get_bits(r, 1));
        else v[k] = 0;
      }
    } else if (k <= se) {
      const uint64_t band = (se == 63 ? ~uint64_t{0} : (uint64_t{1} << (se + 1)) - 1) & ~((uint64_t{1} << k) - 1);
      r.skip(static_cast<size_t>(Bits::count(hist & band)));
    }
    --eob;
  }
  return true;
}

template <bool Refine, class Bits>
bool ScanSplicer::stretch_body(BitReader& r0, const Decoder& d, int ss, int se, const int32_t* slot, uint64_t* hist,
                               size_t nblocks, Stretch& t) {
  BitWindow r(r0);
  uint32_t eob = t.eob;
  size_t b = t.b;
  const uint64_t band = (se == 63 ? ~uint64_t{0} : (uint64_t{1} << (se + 1)) - 1) & (~uint64_t{0} << ss);
  bool ok = true;
  for (; b < nblocks && slot[b] < 0; ++b) {
    if (eob == 0) t.run_block = b, t.run_pos = r.pos, t.run_hist = hist[b];
    uint64_t hb = hist[b];
    ok = Refine ? refine_body<Bits>(r, d, ss, se, eob, hb, nullptr) : first_body(r, d, ss, se, eob, hb, nullptr);
    hist[b] = hb;
    if (!ok) break;
    if (r.pos > r.nbits) {
      ok = bad("corrupt data (past the end)");
      break;
    }
    // The run's members up to the next touched block, at once: no bits in a first scan,
    // their history coefficients' correction bits in a refinement.
    if (eob > 0) {
      const size_t end = std::min(nblocks, b + 1 + eob);
      size_t q = b + 1;
      if (Refine) {
        size_t bits = 0;
        for (; q < end && slot[q] < 0; ++q) bits += static_cast<size_t>(Bits::count(hist[q] & band));
        if (r.pos + bits > r.nbits) {  // (checked before the window loads from there)
          r.pos += bits;
          ok = bad("corrupt data (past the end)");
          break;
        }
        r.skip(bits);
      } else {
        while (q < end && slot[q] < 0) ++q;
      }
      eob -= static_cast<uint32_t>(q - (b + 1));
      b = q - 1;
    }
  }
  r0.pos = r.pos;
  t.b = b, t.eob = eob;
  return ok;
}

bool ScanSplicer::stretch_first(BitReader& r, const Decoder& d, int ss, int se, const int32_t* slot, uint64_t* hist,
                                size_t nblocks, Stretch& t) {
  return stretch_body<false, PortableBits>(r, d, ss, se, slot, hist, nblocks, t);
}

bool ScanSplicer::stretch_refine(BitReader& r, const Decoder& d, int ss, int se, const int32_t* slot, uint64_t* hist,
                                 size_t nblocks, Stretch& t) {
  return stretch_body<true, PortableBits>(r, d, ss, se, slot, hist, nblocks, t);
}

#ifdef GEOSHARD_JPEG_HW_BITS
bool ScanSplicer::stretch_refine_hw(BitReader& r, const Decoder& d, int ss, int se, const int32_t* slot,
                                    uint64_t* hist, size_t nblocks, Stretch& t) {
  return stretch_body<true, HwBits>(r, d, ss, se, slot, hist, nblocks, t);
}
#endif

bool ScanSplicer::flush_eob(BitWriter& w, Encoder& e, EobOut& o, bool refine) {
  if (o.run == 0) return true;
  w.ensure(o.bits.size() / 8 + 8 + 6 * 15);
  uint32_t n = o.run;
  size_t blk = 0, bit = 0;
  while (n > 0) {
    // The longest run the tables code: the exact length's category, else the longest of a
    // lower category (several runs in a row code the same blocks).
    const int want = bit_length(n) - 1;
    int r = want;
    while (r >= 0 && !e.len[r << 4]) --r;
    if (r < 0) {  // not even EOB: the table gains the exact length's category
      if (!e.add(want << 4)) return bad(kNoFreeCode);
      r = want;
    }
    const uint32_t m = r == want ? n : (2u << r) - 1;
    put_symbol(w, e, r << 4);  // (present)
    if (r) w.put(m - (1u << r), r);
    if (refine) {
      size_t nb = 0;
      for (uint32_t i = 0; i < m; ++i) nb += o.per_block[blk++];
      for (size_t i = 0; i < nb; ++i) w.put(o.bits[bit++], 1);
    }
    n -= m;
  }
  o.run = 0;
  o.bits.clear();
  o.per_block.clear();
  return true;
}

bool ScanSplicer::encode_first(BitWriter& w, Encoder& e, int ss, int se, const int16_t* v, EobOut& o) {
  w.ensure(kMaxBlockBytesAc);
  const uint64_t band = (se == 63 ? ~uint64_t{0} : (uint64_t{1} << (se + 1)) - 1) & (~uint64_t{0} << ss);
  uint64_t nz = nonzero_mask(v) & band;
  int last = ss - 1;  // the last coefficient coded
  while (nz) {
    const int k = __builtin_ctzll(nz);
    nz &= nz - 1;
    const int val = v[k];
    int run = k - last - 1;
    last = k;
    if (!flush_eob(w, e, o, false)) return false;
    w.ensure(kMaxBlockBytesAc);
    for (; run > 15; run -= 16)
      if (!put_symbol(w, e, 0xF0)) return bad(kNoFreeCode);
    const int nb = bit_length(static_cast<unsigned>(val < 0 ? -val : val));
    if (nb > 10 || !put_symbol(w, e, (run << 4) | nb)) return bad(nb > 10 ? "a coefficient out of range" : kNoFreeCode);
    w.put(static_cast<uint32_t>(val < 0 ? val - 1 : val) & ((1u << nb) - 1), nb);
  }
  if (last < se && ++o.run == 0x7FFF) return flush_eob(w, e, o, false);  // zeros to the band's end: EOB
  return true;
}

bool ScanSplicer::encode_refine(BitWriter& w, Encoder& e, int ss, int se, const int16_t* v, EobOut& o) {
  const uint64_t band = (se == 63 ? ~uint64_t{0} : (uint64_t{1} << (se + 1)) - 1) & (~uint64_t{0} << ss);
  uint64_t nz = nonzero_mask(v) & band;  // the zeros are only counted
  int last_new = ss - 1;
  for (uint64_t m = nz; m; m &= m - 1) {
    const int k = __builtin_ctzll(m);
    if (v[k] == 1 || v[k] == -1) last_new = k;
  }
  uint8_t br[64];
  int nbr = 0, run = 0, prev = ss - 1;
  w.ensure(kMaxBlockBytesAc);
  while (nz) {
    const int k = __builtin_ctzll(nz);
    nz &= nz - 1;
    const int val = v[k];
    run += k - prev - 1;  // the zeros since the last nonzero value
    prev = k;
    while (run > 15 && k <= last_new) {  // zero runs folded into the EOB need no ZRL
      if (!flush_eob(w, e, o, true)) return false;
      w.ensure(kMaxBlockBytesAc);
      if (!put_symbol(w, e, 0xF0)) return bad(kNoFreeCode);
      run -= 16;
      for (int i = 0; i < nbr; ++i) w.put(br[i], 1);
      nbr = 0;
    }
    if (val >= 2) {  // history: its correction bit waits for the next symbol
      br[nbr++] = static_cast<uint8_t>(val - 2);
      continue;
    }
    if (!flush_eob(w, e, o, true)) return false;
    w.ensure(kMaxBlockBytesAc);
    if (!put_symbol(w, e, (run << 4) | 1)) return bad(kNoFreeCode);
    w.put(val > 0 ? 1u : 0u, 1);
    for (int i = 0; i < nbr; ++i) w.put(br[i], 1);
    nbr = 0;
    run = 0;
  }
  run += se - prev;  // the zeros after the last nonzero value
  if (run > 0 || nbr > 0) {
    o.bits.insert(o.bits.end(), br, br + nbr);
    o.per_block.push_back(static_cast<uint8_t>(nbr));
    if (++o.run == 0x7FFF) return flush_eob(w, e, o, true);
  }
  return true;
}

void ScanSplicer::new_values(int32_t slot, const Scan& sc, int16_t* v) const {
  const int16_t* c = &s_.coefs[static_cast<size_t>(slot) * 64];  // zigzag order, like v
  // Without branches on the values (their signs and sizes mispredict), all 64 at once (the
  // encoders use the band only): s = -1 for a negative coefficient, else 0; a = |x|, as an
  // unsigned 16-bit value (|-32768| = 32768), shifted logically.
#if defined(__SSE2__)
  const __m128i al = _mm_cvtsi32_si128(sc.al), ah = _mm_cvtsi32_si128(sc.ah), one = _mm_set1_epi16(1);
  for (int k = 0; k < 64; k += 8) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + k));
    const __m128i sg = _mm_srai_epi16(x, 15), a = _mm_sub_epi16(_mm_xor_si128(x, sg), sg);
    __m128i out;
    if (sc.ah == 0) {  // the magnitude at the scan's precision, with the sign
      const __m128i m = _mm_srl_epi16(a, al);
      out = _mm_sub_epi16(_mm_xor_si128(m, sg), sg);
    } else {  // 2 + the correction bit where an earlier scan made it nonzero, else -1 / 0 / +1
      const __m128i bit = _mm_and_si128(_mm_srl_epi16(a, al), one);
      const __m128i hist = _mm_cmpeq_epi16(_mm_srl_epi16(a, ah), _mm_setzero_si128());  // all ones: no history
      const __m128i fresh = _mm_and_si128(_mm_cmpeq_epi16(bit, one), _mm_or_si128(sg, one));  // bit · (s | 1)
      out = _mm_or_si128(_mm_and_si128(hist, fresh), _mm_andnot_si128(hist, _mm_add_epi16(bit, _mm_set1_epi16(2))));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(v + k), out);
  }
#else
  if (sc.ah == 0) {
    for (int k = sc.ss; k <= sc.se; ++k) {
      const int x = c[k], s = x < 0 ? -1 : 0, m = ((x ^ s) - s) >> sc.al;
      v[k] = static_cast<int16_t>((m ^ s) - s);
    }
  } else {
    for (int k = sc.ss; k <= sc.se; ++k) {
      const int x = c[k], s = x < 0 ? -1 : 0, a = (x ^ s) - s, bit = (a >> sc.al) & 1;
      v[k] = static_cast<int16_t>((a >> sc.ah) ? 2 + bit : bit * (s | 1));
    }
  }
#endif
}

bool ScanSplicer::ac(const Scan& sc, const Decoder& dec, Encoder& enc, BitReader& r, BitWriter& w,
                     bool& changed) {
  const int ci = sc.comp[0];
  const SpliceComponent& c = h_.comps[ci];
  const size_t nblocks = static_cast<size_t>(c.width_in_blocks) * c.height_in_blocks;
  const int32_t* slot = s_.slot[ci].data();
  uint64_t* hist = s_.hist[ci].data();
  const bool refine = sc.ah > 0;
  const int ss = sc.ss, se = sc.se;
  [[maybe_unused]] const bool hw = hw_bits();
  auto parse = [&](BitReader& rd, size_t b, uint32_t& eob, int16_t* v) {
    if (!refine) return parse_first(rd, dec, ss, se, eob, hist[b], v);
#ifdef GEOSHARD_JPEG_HW_BITS
    if (hw) return parse_refine_hw(rd, dec, ss, se, eob, hist[b], v);
#endif
    return parse_refine(rd, dec, ss, se, eob, hist[b], v);
  };
  auto encode = [&](const int16_t* v, EobOut& o) {
    return refine ? encode_refine(w, enc, ss, se, v, o) : encode_first(w, enc, ss, se, v, o);
  };
  const uint64_t band = (se == 63 ? ~uint64_t{0} : (uint64_t{1} << (se + 1)) - 1) & (~uint64_t{0} << ss);
  // An untouched member of an input EOB run inside a window joins the output's run as it is: no
  // symbols, in a refinement scan its correction bits (one per history coefficient of the band)
  // in order -- what parse + encode give it, without walking its band twice (long runs of the
  // high bands are re-encoded whole when a touched block lies inside them).
  auto member_joins = [&](BitReader& rd, size_t b, uint32_t& e, EobOut& o) {
    if (refine) {
      const int nb = popcount(hist[b] & band);
      for (int i = 0; i < nb; ++i) o.bits.push_back(static_cast<uint8_t>(get_bits(rd, 1)));
      o.per_block.push_back(static_cast<uint8_t>(nb));
    }
    --e;
    ++st_.mcus_reencoded;
    return ++o.run < 0x7FFF || flush_eob(w, enc, o, refine);
  };
  uint32_t eob = 0;              // the input's EOB run: blocks left after the current one
  size_t run_block = 0;          // the first block of the input's current EOB run
  size_t run_pos = 0;            // and where its bits start
  uint64_t run_hist = 0;         // and its history before this scan
  bool in_window = whole;
  changed |= whole;
  size_t copy_from = r.pos;
  EobOut o;
  int16_t v[64] = {};  // (the encoders read all 64 values for their nonzero mask; only the band is used)
  for (size_t b = 0; b < nblocks; ++b) {
    if (!in_window && slot[b] < 0) {  // the fast path: walk only, up to the next touched block
      Stretch t{b, eob, run_block, run_pos, run_hist};
      bool ok;
#ifdef GEOSHARD_JPEG_HW_BITS
      if (refine && hw) ok = stretch_refine_hw(r, dec, ss, se, slot, hist, nblocks, t);
      else
#endif
        ok = refine ? stretch_refine(r, dec, ss, se, slot, hist, nblocks, t)
                    : stretch_first(r, dec, ss, se, slot, hist, nblocks, t);
      if (!ok) return false;
      b = t.b, eob = t.eob, run_block = t.run_block, run_pos = t.run_pos, run_hist = t.run_hist;
      if (b == nblocks) break;
    }
    const bool member = eob > 0;  // inside an input EOB run: no symbol of its own
    const size_t start = r.pos;
    if (!member) run_block = b, run_pos = start, run_hist = hist[b];
    if (!in_window) {
      // A touched block: the window starts where the input is at a block start outside a run,
      // i.e. at the first block of the run this block is in (re-walked with values) or here.
      in_window = true;
      changed = true;
      w.copy(r, copy_from, run_pos);
      if (member) {
        BitReader rr = r;
        rr.pos = run_pos;
        hist[run_block] = run_hist;
        uint32_t e2 = 0;
        for (size_t q = run_block; q < b; ++q) {
          if (e2 > 0) {
            if (!member_joins(rr, q, e2, o)) return false;
            continue;
          }
          if (!parse(rr, q, e2, v) || !encode(v, o)) return false;
          ++st_.mcus_reencoded;
        }
        if (rr.pos != r.pos) return bad("corrupt data");  // (the same bits walked twice)
      }
    } else if (!member && slot[b] < 0 && !whole) {
      // An untouched block starting outside a run: the window ends before it.
      if (!flush_eob(w, enc, o, refine)) return false;
      in_window = false;
      copy_from = start;
      if (!parse(r, b, eob, nullptr)) return false;
      if (r.pos > r.nbits) return bad("corrupt data (past the end)");
      continue;
    }
    if (member && slot[b] < 0) {
      if (!member_joins(r, b, eob, o)) return false;
      if (r.pos > r.nbits) return bad("corrupt data (past the end)");
      continue;
    }
    // A touched block's input values are not needed (its new ones replace them): walked only.
    if (!parse(r, b, eob, slot[b] >= 0 ? nullptr : v)) return false;
    if (r.pos > r.nbits) return bad("corrupt data (past the end)");
    if (slot[b] >= 0) new_values(slot[b], sc, v);
    if (!encode(v, o)) return false;
    ++st_.mcus_reencoded;
  }
  st_.mcus += nblocks;
  if (in_window) return flush_eob(w, enc, o, refine);
  w.copy(r, copy_from, r.pos);
  return true;
}

// Parses a DHT segment's tables into dc[4] and ac[4], clearing defined[Tc * 4 + Th] for each.
bool parse_dht(const uint8_t* p, size_t n, HuffTable* dc, HuffTable* ac, bool* defined) {
  while (n > 0) {
    if (n < 17) return false;
    const int tc = p[0] >> 4, th = p[0] & 15;
    if (tc > 1 || th > 3) return false;
    HuffTable& t = tc ? ac[th] : dc[th];
    defined[tc * 4 + th] = false;
    size_t count = 0;
    t.bits[0] = 0;
    for (int l = 1; l <= 16; ++l) count += t.bits[l] = p[l];
    if (count > 256 || n < 17 + count) return false;
    std::memset(t.vals, 0, sizeof t.vals);
    std::memcpy(t.vals, p + 17, count);
    t.present = true;
    p += 17 + count;
    n -= 17 + count;
  }
  return true;
}

State& state() {
  thread_local State s;
  return s;
}

std::atomic<bool> g_hw_bits_allowed{true};

}  // namespace

bool hw_bits() {
#ifdef GEOSHARD_JPEG_HW_BITS
  // Zen 1 and 2 run PDEP in microcode (tens to hundreds of cycles): the portable select is faster.
  static const bool cpu = __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi2") &&
                          !__builtin_cpu_is("znver1") && !__builtin_cpu_is("znver2");
  return cpu && g_hw_bits_allowed.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

void set_hw_bits(bool on) { g_hw_bits_allowed.store(on, std::memory_order_relaxed); }

bool splice_progressive(const std::vector<uint8_t>& in, const SpliceHeader& h, const BlockEdits& edits,
                        std::vector<uint8_t>& out, SpliceStats& st) {
  const int nc = static_cast<int>(h.comps.size());
  if (nc < 1 || nc > 4) return fail(st, "unusual frame");
  State& s = state();
  s.slot.resize(nc);
  s.hist.resize(nc);
  s.coefs.clear();
  s.dc.clear();
  size_t touched[4] = {};  // per component: touched blocks
  [[maybe_unused]] const bool zz512 = zigzag_avx512();
  if (h.hmax < 1 || h.vmax < 1) return fail(st, "unusual frame");
  const size_t mcus_x = (h.width + 8 * h.hmax - 1) / (8 * h.hmax), mcus_y = (h.height + 8 * h.vmax - 1) / (8 * h.vmax);
  s.mcu_any.assign(mcus_x * mcus_y, 0);
  for (int i = 0; i < nc; ++i) {
    const SpliceComponent& c = h.comps[i];
    if (c.h < 1 || c.v < 1 || c.width_in_blocks < 1 || c.height_in_blocks < 1) return fail(st, "unusual frame");
    const size_t n = static_cast<size_t>(c.width_in_blocks) * c.height_in_blocks;
    s.slot[i].assign(n, -1);
    s.hist[i].assign(n, 0);
    st.blocks += n;
    for (int by = 0; by < c.height_in_blocks; ++by) {
      if (!edits.row_touched(c.index, by, c.width_in_blocks)) continue;
      for (int bx = 0; bx < c.width_in_blocks; ++bx) {
        if (!edits.touched(c.index, bx, by)) continue;
        const size_t k = s.coefs.size() / 64;
        s.coefs.resize(s.coefs.size() + 64);
        int16_t natural[64];
        edits.coefficients(c.index, bx, by, c.quant, natural);
#ifdef GEOSHARD_HOST_AVX2
        if (zz512) to_zigzag_avx512(natural, &s.coefs[k * 64]);
        else
#endif
          to_zigzag(natural, &s.coefs[k * 64]);
        s.dc.push_back(natural[0]);
        s.slot[i][static_cast<size_t>(by) * c.width_in_blocks + bx] = static_cast<int32_t>(k);
        ++touched[i];
        s.mcu_any[static_cast<size_t>(by / c.v) * mcus_x + bx / c.h] = 1;
        ++st.blocks_rewritten;
      }
    }
  }

  const uint8_t* d = in.data();
  const size_t size = in.size();
  if (size < 4 || d[0] != 0xFF || d[1] != 0xD8) return fail(st, "not a JPEG");
  if (s.coefs.empty()) {  // nothing touched: the file as it is (like untouched restart intervals, not decoded)
    out = in;
    return true;
  }
  out.clear();
  out.reserve(size + size / 16);
  out.insert(out.end(), d, d + 2);
  HuffTable dc[4], ac[4];  // the input's, for decoding
  OutTables tables;        // the output's, for encoding: they may gain symbols
  bool replaced[8] = {};   // per Tc * 4 + Th: a DHT inserted for a re-encoded scan defines it
  int coef_bits[4][64];
  for (auto& cb : coef_bits) std::fill(std::begin(cb), std::end(cb), -1);
  bool seen_sof = false, seen_sos = false;
  BitWriter w;
  w.buf.swap(s.wbuf);
  struct Keep {  // hands the writer's buffer back to the thread's scratch on every return
    std::vector<uint8_t>& from;
    std::vector<uint8_t>& to;
    ~Keep() { to.swap(from); }
  } keep{w.buf, s.wbuf};
  ScanSplicer sp(h, s, st);
  size_t p = 2;
  for (;;) {
    if (p >= size || d[p] != 0xFF) return fail(st, "unexpected bytes between segments");
    size_t q = p;
    while (q < size && d[q] == 0xFF) ++q;
    if (q >= size) return fail(st, "truncated file");
    const uint8_t m = d[q];
    if (m == 0xD9) {  // EOI, and anything after it, verbatim
      if (!seen_sos) return fail(st, "no scan");
      // Every coefficient coded to full precision: a file whose scans leave some at Al > 0 (or
      // out) cannot hold a touched block's exact coefficients, which the libjpeg path writes
      // with a complete progression (found by fuzz_jpeg once such files spliced).
      for (int i = 0; i < nc; ++i)
        for (int k = 0; k < 64; ++k)
          if (coef_bits[i][k] != 0) return fail(st, "an incomplete progression (a coefficient never coded to full precision)");
      out.insert(out.end(), d + p, d + size);
      tables.rewrite(out);
      st.codes_added = tables.added();
      return true;
    }
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) return fail(st, "unexpected marker");
    if (q + 3 > size) return fail(st, "truncated file");
    const size_t len = static_cast<size_t>(d[q + 1]) << 8 | d[q + 2];
    if (len < 2 || q + 1 + len > size) return fail(st, "truncated file");
    const uint8_t* seg = d + q + 3;
    const size_t n = len - 2;
    const size_t at = out.size() + (q - 1 - p);  // its 0xFF in the output
    out.insert(out.end(), d + p, d + q + 1 + len);  // the segment (and fill bytes before it) verbatim
    p = q + 1 + len;
    if (m == 0xC4) {
      if (!parse_dht(seg, n, dc, ac, replaced) || !tables.record(seg, n, at)) return fail(st, "bad Huffman table");
      continue;
    }
    if (m == 0xDB) {
      if (seen_sos) return fail(st, "quantisation table redefined between scans");
      continue;
    }
    if (m == 0xDD) {
      if (n < 2) return fail(st, "bad DRI");
      if ((seg[0] << 8 | seg[1]) != 0) return fail(st, "restart intervals (progressive)");
      continue;
    }
    if (m == 0xDC) return fail(st, "DNL");
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      if (m != 0xC2 || seen_sof) return fail(st, "not a single progressive Huffman frame");
      seen_sof = true;
      continue;
    }
    if (m == 0xCC) return fail(st, "arithmetic coding");
    if (m != 0xDA) continue;  // APPn, COM, ...: copied above

    // SOS: the scan header, then its entropy-coded data.
    if (!seen_sof) return fail(st, "scan before the frame");
    Scan sc;
    if (n < 1) return fail(st, "bad scan header");
    sc.ns = seg[0];
    if (sc.ns < 1 || sc.ns > 4 || n != static_cast<size_t>(4 + 2 * sc.ns)) return fail(st, "bad scan header");
    int blocks_in_mcu = 0;
    for (int i = 0; i < sc.ns; ++i) {
      const int id = seg[1 + 2 * i];
      int ci = -1;
      for (int j = 0; j < nc; ++j)
        if (h.comps[j].id == id) ci = j;
      for (int j = 0; j < i; ++j)
        if (sc.comp[j] == ci) ci = -1;  // named twice
      if (ci < 0) return fail(st, "bad scan header");
      sc.comp[i] = ci;
      sc.td[i] = seg[2 + 2 * i] >> 4;
      sc.ta[i] = seg[2 + 2 * i] & 15;
      blocks_in_mcu += sc.ns == 1 ? 1 : h.comps[ci].h * h.comps[ci].v;
    }
    sc.ss = seg[1 + 2 * sc.ns];
    sc.se = seg[2 + 2 * sc.ns];
    sc.ah = seg[3 + 2 * sc.ns] >> 4;
    sc.al = seg[3 + 2 * sc.ns] & 15;
    if (blocks_in_mcu > 10) return fail(st, "more than 10 blocks per MCU");
    const bool dc_scan = sc.ss == 0;
    if (dc_scan ? sc.se != 0 : (sc.se < sc.ss || sc.se > 63 || sc.ns != 1)) return fail(st, "bad progression");
    if ((sc.ah != 0 && sc.al != sc.ah - 1) || sc.al > 13) return fail(st, "bad progression");
    for (int i = 0; i < sc.ns; ++i) {
      int* cb = coef_bits[sc.comp[i]];
      if (!dc_scan && cb[0] < 0) return fail(st, "AC scan before the DC scan");
      for (int k = sc.ss; k <= sc.se; ++k) {
        if (sc.ah == 0 ? cb[k] >= 0 : cb[k] != sc.ah) return fail(st, "bad progression");
        cb[k] = sc.al;
      }
      if (dc_scan && sc.ah == 0 && (sc.td[i] > 3 || !dc[sc.td[i]].present)) return fail(st, "missing Huffman table");
      if (!dc_scan && (sc.ta[i] > 3 || !ac[sc.ta[i]].present)) return fail(st, "missing Huffman table");
    }
    seen_sos = true;

    // The entropy-coded data: up to the first 0xFF not followed by 0x00 (no RSTn without DRI).
    size_t e = p;
    if (!entropy_end(d, size, p, &e)) return fail(st, "truncated scan");
    if (d[e + 1] >= 0xD0 && d[e + 1] <= 0xD7) return fail(st, "restart marker without DRI");
    const size_t nclean = unstuff(d, p, e, s.clean);
    BitReader r{s.clean.data(), nclean * 8};

    // The tables the scan codes with (Tc * 4 + Th, each once): a DC first scan's DC tables, an AC
    // scan's AC table.
    int slots[4], nslots = 0;
    for (int i = 0; i < (dc_scan ? (sc.ah == 0 ? sc.ns : 0) : 1); ++i) {  // (slots checked <= 3 above)
      const int sl = dc_scan ? sc.td[i] : 4 + sc.ta[0];
      if (std::find(slots, slots + nslots, sl) == slots + nslots) slots[nslots++] = sl;
      // (An encoder defines a progressive file's tables anew for each scan; one reused without
      // a DHT after a scan re-encoded below would need its DHT repeated: not done.)
      if (replaced[sl]) return fail(st, "a Huffman table used again after a scan re-encoded with its own");
    }

    // Per component of the scan that is Huffman-coded (not a DC refinement, whose table numbers
    // mean nothing and may be anything up to 15): its decoder, and its table's encoder.
    const int ncoded = dc_scan ? (sc.ah == 0 ? sc.ns : 0) : 1;
    Decoder dec[4];
    Encoder enc[8];  // per table: components sharing one add symbols to it together
    Encoder* enc_of[4] = {};
    for (int i = 0; i < ncoded; ++i) {
      const bool first = sc.ah == 0;  // (the walk tables of first scans: Decoder::first, dc_pair)
      if (!dec[i].build(dc_scan ? dc[sc.td[i]] : ac[sc.ta[0]], false, !dc_scan && first, dc_scan && first))
        return fail(st, "bad Huffman table");
      enc_of[i] = &enc[dc_scan ? sc.td[i] : 4 + sc.ta[0]];
    }
    // AC scans walk and update the blocks' history: kept for a second walk.
    const int ci0 = sc.comp[0];
    // (Before a first scan its band's bits are all zero: no copy needed.)
    if (!dc_scan && touched[ci0] && sc.ah > 0) s.hist_saved.assign(s.hist[ci0].begin(), s.hist[ci0].end());
    const uint64_t mcus0 = st.mcus, reencoded0 = st.mcus_reencoded;
    bool changed = false;
    // One walk of the scan: encoders from `own` tables when given, else the file's (which gain
    // the symbols they lack), or counting into `freq`.
    auto walk = [&](bool whole, const HuffTable* own, uint32_t (*freq)[256]) {
      r.pos = 0;
      w.len = 0, w.acc = 0, w.n = 0;
      changed = false;
      st.mcus = mcus0, st.mcus_reencoded = reencoded0;
      if (!dc_scan && touched[ci0] && whole) {
        if (sc.ah > 0) {
          std::copy(s.hist_saved.begin(), s.hist_saved.end(), s.hist[ci0].begin());
        } else {
          const uint64_t band = (sc.se == 63 ? ~uint64_t{0} : (uint64_t{1} << (sc.se + 1)) - 1) & (~uint64_t{0} << sc.ss);
          for (uint64_t& hb : s.hist[ci0]) hb &= ~band;
        }
      }
      for (int k = 0; k < nslots; ++k) {
        const int sl = slots[k];
        const HuffTable* t = own ? &own[sl] : tables.get(sl / 4, sl % 4);
        if (freq) {
          enc[sl].counting(freq[sl]);
        } else if (!t || !enc[sl].build(*t)) {
          sp.why = "bad Huffman table";
          return false;
        }
      }
      sp.whole = whole;
      if (dc_scan && sc.ah == 0) return sp.dc_first(sc, dec, enc_of, r, w, changed);
      if (dc_scan) return sp.dc_refine(sc, r, w, changed);
      return sp.ac(sc, dec[0], *enc_of[0], r, w, changed);
    };
    bool ok = walk(false, nullptr, nullptr);
    if (!ok && sp.why == kNoFreeCode) {
      // A table lacks a symbol and has no free code for it: the whole scan is re-encoded with
      // tables of its own (counted, then built as an encoder would, T.81 K.2), defined by a DHT
      // inserted before its SOS.
      uint32_t freq[8][256];
      for (int k = 0; k < nslots; ++k) std::fill(std::begin(freq[slots[k]]), std::end(freq[slots[k]]), 0u);
      HuffTable own[8];
      if (!walk(true, nullptr, freq)) return fail(st, sp.why);
      std::vector<std::pair<uint8_t, HuffTable>> defs;
      for (int k = 0; k < nslots; ++k) {
        const int sl = slots[k];
        if (!optimal_table(freq[sl], own[sl])) return fail(st, "no Huffman table could be built for a re-encoded scan");
        defs.push_back({static_cast<uint8_t>((sl / 4) << 4 | sl % 4), own[sl]});
      }
      ok = walk(true, own, nullptr);
      if (ok) {
        const std::vector<uint8_t> seg = dht_segment(defs);
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), seg.begin(), seg.end());
        for (int k = 0; k < nslots; ++k) replaced[slots[k]] = true;
        ++st.scans_recoded;
      }
    } else if (ok) {
      for (int k = 0; k < nslots; ++k)
        if (!tables.grow(slots[k] / 4, slots[k] % 4, enc[slots[k]])) return fail(st, "bad Huffman table");
    }
    if (!ok) return fail(st, sp.why);
    // The scan must end with its last block (+ < 8 padding bits), as in splice().
    if ((r.pos + 7) / 8 != nclean) return fail(st, "corrupt data (extraneous bytes)");
    ++st.intervals;
    if (!changed) {
      out.insert(out.end(), d + p, d + e);
      ++st.intervals_copied;
    } else {
      w.finish();
      append_stuffed(out, w.buf.data(), w.len);
    }
    p = e;
  }
}

}  // namespace geoshard::jpeg::detail
