// The entropy-coded-segment splice behind jpeg::rewrite_blocks (io/jpeg_region.h): for a
// baseline (sequential, Huffman, 8-bit, one interleaved scan) JPEG, only the touched blocks are
// Huffman re-encoded, with the file's own tables; the other blocks of the MCUs that contain one
// -- and of the first MCU after each touched run, whose DC differences change -- get their DC
// difference coded anew and keep their AC bits; every other MCU's bits are copied verbatim, and
// every byte before the scan (all marker segments, DQT, DHT, SOF, SOS) and after it (EOI, trailing
// data) is copied as is -- except a DHT whose table lacked a symbol a re-encoded block needs
// (optimised tables hold only what the file used): the table gains a free code of length 16,
// every code it had keeps its value (so the copied bits decode the same), and its segment is
// written anew with the added symbols appended (io/jpeg_bits.h Encoder::add, OutTables). With restart intervals (DRI), an interval without a touched MCU is copied
// byte for byte without being decoded at all.
//
// libjpeg(-turbo) offers no such operation; its coefficient path (jpeg_read_coefficients +
// jpeg_write_coefficients) decodes and re-encodes every block. This file is plain C++ (no libjpeg
// calls): the header is parsed by libjpeg beforehand (jpeg_region.cpp) into SpliceHeader.
//
// splice() returns false -- the caller then takes the libjpeg path, which also produces the
// JpegError for corrupt data -- whenever the file is outside what it handles or anything is
// unexpected: a bad Huffman code, a coefficient out of the baseline range, a symbol a table lacks
// with no free code left for it, a missing or misnumbered RST marker, a scan not followed by EOI, data running past
// the end. Corruption inside an untouched restart interval is not detected (its bytes are copied,
// not decoded): the output carries it unchanged, exactly as the input had it.
//
// Memory: two scratch buffers of about a scan's size are kept per calling thread between calls
// (fresh multi-megabyte buffers cost more in page faults than the splice of a few regions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace geoshard::jpeg::detail {

struct HuffTable {
  bool present = false;
  uint8_t bits[17] = {};   // bits[n]: number of codes of length n (1..16)
  uint8_t vals[256] = {};  // symbols in code order
};

struct SpliceComponent {
  int index = 0;                     // in the frame (0 = Y or gray, 1 = Cb, 2 = Cr)
  int id = 0;                        // component identifier (SOF Ci; SOS names components by it)
  int h = 1, v = 1;                  // sampling factors
  int dc_tbl = 0, ac_tbl = 0;        // Huffman table slots
  uint16_t quant[64] = {};           // natural order
  int width_in_blocks = 0, height_in_blocks = 0;  // ceil(component size / 8), as libjpeg
};

// What rewrite_blocks learns from libjpeg's jpeg_read_header (the scan header included).
struct SpliceHeader {
  bool progressive = false;  // splice_progressive(): comps in frame order, tables and scans parsed there
  int width = 0, height = 0, hmax = 1, vmax = 1;
  std::vector<SpliceComponent> comps;  // in scan order (== all frame components); progressive: frame order
  HuffTable dc[4], ac[4];
  unsigned restart_interval = 0;  // MCUs per interval, 0 = none
  size_t scan_offset = 0;         // first byte of entropy-coded data (after the SOS segment)
};

// The edit: which blocks are touched, and their new quantised coefficients (natural order).
class BlockEdits {
 public:
  virtual ~BlockEdits() = default;
  virtual bool touched(int comp_index, int bx, int by) const = 0;
  // Whether any of the first `width_in_blocks` blocks of block row `by` is touched (a shortcut
  // for the rows without any; the default asks touched() for each).
  virtual bool row_touched(int comp_index, int by, int width_in_blocks) const {
    for (int bx = 0; bx < width_in_blocks; ++bx)
      if (touched(comp_index, bx, by)) return true;
    return false;
  }
  virtual void coefficients(int comp_index, int bx, int by, const uint16_t* quant, int16_t* out) const = 0;
};

struct SpliceStats {
  uint64_t blocks = 0, blocks_rewritten = 0;
  uint64_t mcus = 0, mcus_reencoded = 0;
  uint64_t intervals = 0, intervals_copied = 0;  // restart intervals (1 without DRI), copied undecoded
  uint64_t codes_added = 0;  // Huffman codes added to the file's tables for symbols they lacked
  uint64_t scans_recoded = 0;  // progressive: scans re-encoded whole with tables of their own, each after a DHT inserted for them
  const char* fallback_reason = nullptr;         // why splice() returned false
};

// Dispatches to splice_progressive() when h.progressive.
bool splice(const std::vector<uint8_t>& in, const SpliceHeader& h, const BlockEdits& edits, std::vector<uint8_t>& out,
            SpliceStats& st);

// The same for a progressive (SOF2, Huffman, 8-bit) file without restart intervals
// (io/jpeg_splice_progressive.cpp). Every scan is walked; within a scan only the blocks that are
// touched -- and, around them, the blocks of the end-of-band runs they break, or whose DC
// predictor changes -- are re-encoded with that scan's own Huffman tables; all other bits, every
// marker segment (DHT between scans included, unless its table gained a symbol as above) and the
// bytes of scans holding no touched block are copied as they are. Stats: `intervals` counts scans, `intervals_copied` the scans copied byte
// for byte, `mcus` the MCUs of all scans, `mcus_reencoded` those re-encoded.
bool splice_progressive(const std::vector<uint8_t>& in, const SpliceHeader& h, const BlockEdits& edits,
                        std::vector<uint8_t>& out, SpliceStats& st);

}  // namespace geoshard::jpeg::detail
