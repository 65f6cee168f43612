#include "io/jpeg_splice.h"

#include "io/jpeg_bits.h"

#include <algorithm>
#include <cstring>

namespace geoshard::jpeg::detail {
namespace {

// A block's DC difference: added to `pred`. False on a bad code or size (as libjpeg).
[[gnu::always_inline]] inline bool skip_dc(BitWindow& x, const Decoder& dc, int& pred) {
  x.need();
  int l;
  const uint32_t w = static_cast<uint32_t>(x.win >> 32);
  const int s = dc.decode(w, &l);
  if (s < 0 || s > 11) return false;
  if (s) pred += extend(static_cast<int>((w << l) >> (32 - s)), s);
  x.drop(l + s);
  return true;
}

// A block's AC symbols, skipped: several short ones per lookup (Decoder::multi), else one
// symbol's code + extra-bit length and its coefficient advance in one lookup (Decoder::skip).
// False on a bad code or a coefficient index past the block (ZRL is not checked, as libjpeg).
[[gnu::always_inline]] inline bool skip_ac(BitWindow& x, const Decoder& ac) {
  for (int k = 1; k < 64;) {
    x.need();
    // Several symbols at once when they keep within the block (k + advance < 64: none of
    // them ends it by reaching coefficient 63, so each would pass the checks below).
    const uint16_t mu = ac.multi[x.win >> (64 - kMultiBits)];
    const int madv = (mu >> 4) & 0x7F;
    if (mu && k + madv < 64) {
      x.drop(mu & 15);
      if (mu & 0x800) break;  // ended by EOB
      k += madv;
      continue;
    }
    const uint16_t e = ac.skip[x.win >> (64 - kLutBits)];
    if (e) {
      const int adv = e & 0x7F;
      x.drop(e >> 8);
      if (adv == 0) break;                                  // EOB
      if (!(e & 0x80) && k + adv > 64) return false;        // past the block
      k += adv;
      continue;
    }
    int l;
    const uint32_t w = static_cast<uint32_t>(x.win >> 32);  // a long code or an unusual symbol
    const int sym = ac.decode(w, &l);
    if (sym < 0) return false;
    const int run = sym >> 4, s = sym & 15;
    if (s == 0) {
      x.drop(l);
      if (run != 15) break;  // EOB
      k += 16;               // ZRL
      continue;
    }
    k += run;
    if (k > 63 || s > 10) return false;
    x.drop(l + s);
    ++k;
  }
  return true;
}

// One block of an MCU as the skipper needs it: its tables and its component's DC predictor.
struct BlockCode {
  const Decoder* dc;
  const Decoder* ac;
  int comp;  // index into the predictors
};

enum class Skip { kOk, kCorrupt, kPastEnd };

// Skips `mcus` MCUs of `nb` blocks each (only the DC predictors are updated). kPastEnd when an
// MCU ends past r.nbits (checked after each MCU: the data has kPad bytes of slack).
inline Skip skip_mcus(BitReader& r, uint64_t mcus, const BlockCode* codes, int nb, int* pred) {
  BitWindow x(r);
  for (uint64_t m = 0; m < mcus; ++m) {
    for (int b = 0; b < nb; ++b)
      if (!skip_dc(x, *codes[b].dc, pred[codes[b].comp]) || !skip_ac(x, *codes[b].ac)) return Skip::kCorrupt;
    if (x.pos > r.nbits) return Skip::kPastEnd;
  }
  r.pos = x.pos;
  return Skip::kOk;
}

// The most an encoded block takes: DC code + bits (16 + 11), then at most 63 AC symbols of at
// most 16 + 10 bits and an EOB (a ZRL stands for 16 coefficients, so it does not add to that).
constexpr size_t kMaxBlockBytes = (27 + 63 * 26 + 16) / 8 + 1;

// A block's DC value against `pred` (libjpeg's encode_one_block). False if the table has no code
// left for its size or the difference is out of the baseline range.
inline bool encode_dc(BitWriter& w, Encoder& dc, int& pred, int value) {
  const int diff = value - pred;
  pred = value;
  const int nbits = bit_length(static_cast<unsigned>(diff < 0 ? -diff : diff));
  return nbits <= 11 && put_symbol_bits(w, dc, nbits, static_cast<uint32_t>(diff < 0 ? diff - 1 : diff), nbits);
}

// Encodes one block (zigzag order) against `pred`, the way libjpeg's encode_one_block does,
// visiting the nonzero AC values only. A symbol the file's tables lack is added to them
// (put_symbol). False if a table has no code left for it or a value is out of the baseline range.
inline bool encode_block(BitWriter& w, Encoder& dc, Encoder& ac, int& pred, const int16_t* zz) {
  if (!encode_dc(w, dc, pred, zz[0])) return false;
  uint64_t nz = nonzero_mask(zz) & ~uint64_t{1};
  int last = 0;  // the last coefficient coded
  while (nz) {
    const int k = __builtin_ctzll(nz);
    nz &= nz - 1;
    int run = k - last - 1;
    last = k;
    for (; run > 15; run -= 16)
      if (!put_symbol(w, ac, 0xF0)) return false;
    const int v = zz[k];
    const int nbits = bit_length(static_cast<unsigned>(v < 0 ? -v : v));
    if (nbits > 10 || !put_symbol_bits(w, ac, (run << 4) | nbits, static_cast<uint32_t>(v < 0 ? v - 1 : v), nbits))
      return false;
  }
  return last == 63 || put_symbol(w, ac, 0);
}

// The DHT segments of the header d[0, end) (which ends with the SOS segment).
bool record_tables(const uint8_t* d, size_t end, OutTables& t) {
  for (size_t p = 2; p < end;) {
    if (d[p] != 0xFF) return false;
    size_t q = p;
    while (q < end && d[q] == 0xFF) ++q;
    if (q + 3 > end) return false;
    const size_t len = static_cast<size_t>(d[q + 1]) << 8 | d[q + 2];
    if (len < 2 || q + 1 + len > end) return false;
    if (d[q] == 0xC4 && !t.record(d + q + 3, len - 2, q - 1)) return false;
    p = q + 1 + len;
  }
  return true;
}

}  // namespace

bool splice(const std::vector<uint8_t>& in, const SpliceHeader& h, const BlockEdits& edits, std::vector<uint8_t>& out,
            SpliceStats& st) {
  if (h.progressive) return splice_progressive(in, h, edits, out, st);
  const int nc = static_cast<int>(h.comps.size());
  if (nc < 1 || nc > 4 || h.scan_offset > in.size()) return fail(st, "unusual scan");
  for (const auto& c : h.comps)  // SOS may name slots 0..15 (libjpeg checks only when decoding)
    if (c.dc_tbl < 0 || c.dc_tbl > 3 || c.ac_tbl < 0 || c.ac_tbl > 3 || c.index < 0 || c.index > 3 || c.h < 1 ||
        c.v < 1)
      return fail(st, "bad scan header");
  Decoder dec_dc[4], dec_ac[4];
  Encoder enc_dc[4], enc_ac[4];
  for (int t = 0; t < 4; ++t) {  // only the slots the scan uses must be valid
    bool used_dc = false, used_ac = false;
    for (const auto& c : h.comps) used_dc |= c.dc_tbl == t, used_ac |= c.ac_tbl == t;
    if (used_dc && (!dec_dc[t].build(h.dc[t], false) || !enc_dc[t].build(h.dc[t]))) return fail(st, "bad Huffman table");
    if (used_dc) {  // DC symbols are sizes 0..15 (libjpeg refuses other tables)
      int n = 0;
      for (int l = 1; l <= 16; ++l) n += h.dc[t].bits[l];
      for (int i = 0; i < n; ++i)
        if (h.dc[t].vals[i] > 15) return fail(st, "bad Huffman table");
    }
    if (used_ac && (!dec_ac[t].build(h.ac[t], true) || !enc_ac[t].build(h.ac[t]))) return fail(st, "bad Huffman table");
  }

  // The MCU grid (T.81 A.2): one block per MCU in a one-component scan, h x v blocks of each
  // component in an interleaved one.
  const bool single = nc == 1;
  const int mcus_x = single ? h.comps[0].width_in_blocks : (h.width + 8 * h.hmax - 1) / (8 * h.hmax);
  const int mcus_y = single ? h.comps[0].height_in_blocks : (h.height + 8 * h.vmax - 1) / (8 * h.vmax);
  const uint64_t mcus = static_cast<uint64_t>(mcus_x) * mcus_y;
  struct BlockRef {
    int comp, bx, by;  // comp: index into h.comps
  };
  auto blocks_of = [&](uint64_t m, BlockRef* b) {  // the blocks of MCU m in coding order
    const int mx = static_cast<int>(m % mcus_x), my = static_cast<int>(m / mcus_x);
    if (single) {
      b[0] = {0, mx, my};
      return 1;
    }
    int n = 0;
    for (int c = 0; c < nc; ++c)
      for (int j = 0; j < h.comps[c].v; ++j)
        for (int i = 0; i < h.comps[c].h; ++i) b[n++] = {c, mx * h.comps[c].h + i, my * h.comps[c].v + j};
    return n;
  };
  int blocks_per_mcu = 0;
  for (const auto& c : h.comps) blocks_per_mcu += single ? 1 : c.h * c.v;
  if (blocks_per_mcu > 10) return fail(st, "more than 10 blocks per MCU");  // T.81 limit

  // The blocks of every MCU in coding order, for the skipper.
  BlockCode codes[10];
  {
    BlockRef first[10];
    const int n = blocks_of(0, first);
    for (int b = 0; b < n; ++b) {
      const auto& c = h.comps[first[b].comp];
      codes[b] = BlockCode{&dec_dc[c.dc_tbl], &dec_ac[c.ac_tbl], first[b].comp};
    }
  }

  // Which blocks of each MCU are touched, bit b for its b-th block in coding order (blocks beyond
  // the image -- MCU padding -- never are); 0: none.
  std::vector<uint16_t> mcu_touched(mcus, 0);
  BlockRef refs[10];
  for (uint64_t m = 0; m < mcus; ++m) {
    if (m % mcus_x == 0) {  // a row of MCUs: skipped whole when none of its blocks is touched
      const int my = static_cast<int>(m / mcus_x);
      bool any = false;
      for (const auto& c : h.comps) {
        const int rows = single ? 1 : c.v;
        for (int j = 0; j < rows && !any; ++j) {
          const int by = my * rows + j;
          any = by < c.height_in_blocks && edits.row_touched(c.index, by, c.width_in_blocks);
        }
      }
      if (!any) {
        m += mcus_x - 1;
        continue;
      }
    }
    const int n = blocks_of(m, refs);
    for (int b = 0; b < n; ++b) {
      const auto& c = h.comps[refs[b].comp];
      if (refs[b].bx < c.width_in_blocks && refs[b].by < c.height_in_blocks &&
          edits.touched(c.index, refs[b].bx, refs[b].by)) {
        mcu_touched[m] |= static_cast<uint16_t>(1u << b);
        ++st.blocks_rewritten;
      }
    }
  }
  for (const auto& c : h.comps) st.blocks += static_cast<uint64_t>(c.width_in_blocks) * c.height_in_blocks;
  st.mcus = mcus;

  const uint64_t per = h.restart_interval ? h.restart_interval : mcus;
  const uint64_t intervals = (mcus + per - 1) / per;
  st.intervals = intervals;
  out.clear();
  out.reserve(in.size() + in.size() / 16);
  out.insert(out.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(h.scan_offset));

  // Scratch kept per thread between calls (a scan's size each): fresh multi-megabyte buffers
  // cost more in page faults than the splice itself spends on an image with a few regions.
  thread_local std::vector<uint8_t> scratch_in, scratch_out;
  struct Keep {  // hands the buffers back to the thread's scratch on every return
    std::vector<uint8_t>& from;
    std::vector<uint8_t>& to;
    ~Keep() { to.swap(from); }
  };
  std::vector<uint8_t> clean;  // an interval's entropy-coded bytes, unstuffed, + kPad zero bytes
  BitWriter w;                 // a local: its accumulator stays in registers
  clean.swap(scratch_in);
  w.buf.swap(scratch_out);
  Keep keep_in{clean, scratch_in}, keep_out{w.buf, scratch_out};
  int16_t coef[64], zz[64];
  [[maybe_unused]] const bool zz512 = zigzag_avx512();
  const uint8_t* data = in.data();
  const size_t size = in.size();
  size_t p = h.scan_offset, tail = size;
  for (uint64_t iv = 0; iv < intervals; ++iv) {
    // The interval's data ends at the first 0xFF not followed by 0x00 (fill 0xFFs may precede
    // the marker code).
    size_t e = p;
    if (!entropy_end(data, size, p, &e)) return fail(st, "truncated scan");
    size_t q = e;
    while (q < size && data[q] == 0xFF) ++q;
    if (q >= size) return fail(st, "truncated scan");
    const uint8_t marker = data[q];
    const bool last = iv + 1 == intervals;
    if (last) tail = e;
    if (last ? marker != 0xD9 : marker != 0xD0 + (iv & 7)) return fail(st, "unexpected marker in or after the scan");

    const uint64_t m0 = iv * per, m1 = std::min(mcus, m0 + per);
    bool any = false;
    for (uint64_t m = m0; m < m1 && !any; ++m) any = mcu_touched[m];
    if (!any) {  // nothing touched: the interval's bytes and its RST marker, verbatim
      out.insert(out.end(), data + p, data + (last ? e : q + 1));
      ++st.intervals_copied;
      p = q + 1;
      continue;
    }
    const size_t nclean = unstuff(data, p, e, clean);
    const size_t nbits = nclean * 8;
    BitReader r{clean.data(), nbits};
    w.len = 0;
    w.acc = 0, w.n = 0;
    int pred_in[4] = {0, 0, 0, 0}, pred_out[4] = {0, 0, 0, 0};  // reset at each interval
    size_t run_start = 0;
    bool in_run = false;
    for (uint64_t m = m0; m < m1; ++m) {
      const bool reencode = mcu_touched[m] || std::memcmp(pred_in, pred_out, sizeof pred_in) != 0;
      if (!reencode) {  // skip over the MCUs up to the next touched one; their bits join the verbatim run
        uint64_t next = m + 1;
        while (next < m1 && !mcu_touched[next]) ++next;
        if (!in_run) run_start = r.pos, in_run = true;
        const Skip sk = skip_mcus(r, next - m, codes, blocks_per_mcu, pred_in);
        if (sk == Skip::kCorrupt) return fail(st, "corrupt data");
        if (sk == Skip::kPastEnd) return fail(st, "corrupt data (past the end)");
        std::memcpy(pred_out, pred_in, sizeof pred_in);
        m = next - 1;
        continue;
      }
      // An MCU with a touched block, or whose predictors are out of step with the output's: each
      // touched block re-encoded from the edit, each other block's DC difference coded anew
      // against the output's predictor and its AC bits copied verbatim.
      if (in_run) w.copy(r, run_start, r.pos), in_run = false;
      const int n = blocks_of(m, refs);
      for (int b = 0; b < n; ++b) {
        const auto& c = h.comps[refs[b].comp];
        const int bx = refs[b].bx, by = refs[b].by;
        const bool edit = mcu_touched[m] >> b & 1;
        BitWindow x(r);
        if (!skip_dc(x, dec_dc[c.dc_tbl], pred_in[refs[b].comp])) return fail(st, "corrupt data");
        const size_t ac_at = x.pos;
        if (!skip_ac(x, dec_ac[c.ac_tbl])) return fail(st, "corrupt data");
        r.pos = x.pos;
        w.ensure(kMaxBlockBytes + 8);
        bool ok;
        if (edit) {
          edits.coefficients(c.index, bx, by, c.quant, coef);
#ifdef GEOSHARD_HOST_AVX2
          if (zz512) to_zigzag_avx512(coef, zz);
          else
#endif
            to_zigzag(coef, zz);
          ok = encode_block(w, enc_dc[c.dc_tbl], enc_ac[c.ac_tbl], pred_out[refs[b].comp], zz);
        } else {
          ok = encode_dc(w, enc_dc[c.dc_tbl], pred_out[refs[b].comp], pred_in[refs[b].comp]);
          if (ok) w.copy(r, ac_at, r.pos);
        }
        if (!ok) return fail(st, "a Huffman table with no free code for a symbol it lacks, or a value out of range");
      }
      ++st.mcus_reencoded;
      if (r.pos > nbits) return fail(st, "corrupt data (past the end)");
    }
    // The interval must end with its last MCU (+ < 8 padding bits): more data means the
    // stream is corrupt (libjpeg warns "extraneous bytes before marker").
    if ((r.pos + 7) / 8 != nbits / 8) return fail(st, "corrupt data (extraneous bytes)");
    if (in_run) w.copy(r, run_start, r.pos);
    w.finish();
    append_stuffed(out, w.buf.data(), w.len);
    out.insert(out.end(), data + e, data + (last ? e : q + 1));  // fill bytes and RSTn
    p = q + 1;
  }
  // EOI (with any fill bytes before it) and anything after it, verbatim.
  out.insert(out.end(), data + tail, data + size);
  // Tables that gained symbols: their DHT segments (in the header, copied at the same offsets)
  // written anew.
  OutTables tables;
  if (!record_tables(in.data(), h.scan_offset, tables)) return fail(st, "bad Huffman table");
  for (int t = 0; t < 4; ++t)
    if (!tables.grow(0, t, enc_dc[t]) || !tables.grow(1, t, enc_ac[t])) return fail(st, "bad Huffman table");
  tables.rewrite(out);
  st.codes_added = tables.added();
  return true;
}

}  // namespace geoshard::jpeg::detail
