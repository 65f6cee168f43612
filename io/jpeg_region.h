// JPEG at the DCT-coefficient level (DESIGN.md, "The imagery chain", step 5): the blur job
// edits pixels in a few regions and must leave the rest of the photo as it was, bit for bit.
// rewrite_blocks() re-encodes ONLY the 8×8 blocks (per component, in its own sampling grid)
// whose footprint touches a changed pixel -- forward DCT of the edited pixels, quantised with the
// file's own tables, in libjpeg's own integer arithmetic (kernels/dct.h: a re-encoded block holds
// exactly the coefficients libjpeg-turbo's encoder gives the edited picture with those tables)
// -- and keeps every other block's coefficients and every marker segment
// (APP0..APP15: JFIF, EXIF, XMP/GPano, ICC; COM) unchanged. Two paths (docs/jpeg_rewrite.md):
//
//  * splice (io/jpeg_splice.h), for baseline files -- sequential Huffman, 8-bit, one scan with
//    all components, with or without restart intervals: only the touched blocks are Huffman
//    re-encoded, with the file's own tables, and the other blocks of their MCUs (and of the MCU
//    after each touched run, whose DC differences change) get their DC difference coded anew
//    and keep their AC bits; all other entropy-coded bits, and every byte before and after
//    the scan (markers, DQT, DHT, SOF, SOS, EOI, trailing data), are copied verbatim. An empty
//    edit returns the input byte for byte. Progressive files (Huffman, no restart intervals)
//    are spliced scan by scan (io/jpeg_splice_progressive.cpp): in each scan only the blocks
//    around the touched ones are re-encoded with that scan's tables, every marker segment (the
//    DHTs between scans too) and the other bits are copied. A symbol a table lacks (optimised
//    tables hold only what the file used) gets a free code of length 16 -- every existing code
//    keeps its value -- and that DHT is written anew; in a progressive file, a scan whose table
//    has no free code left is re-encoded whole with a table of its own (a DHT inserted before it).
//  * libjpeg (jpeg_read_coefficients + jpeg_write_coefficients), for everything else --
//    arithmetic-coded, multi-scan sequential, progressive with restart intervals, a baseline
//    file whose table has no free code for a symbol it needs, anything the splice finds
//    unexpected: every block is entropy re-coded (Huffman tables optimised by default), markers
//    copied, progressive stays progressive.
//
// What "unchanged" means, as tested (tests/io/jpeg_region_test.cpp, jpeg_splice_test.cpp): the
// coefficients of every untouched block are identical; decoded without fancy chroma upsampling,
// every pixel outside the touched MCUs is identical; with a decoder's default (fancy) upsampling,
// a pixel next to a touched MCU may differ because it interpolates chroma from the touched block.
// Both paths give the touched blocks the same coefficients: libjpeg-turbo's for the edited pixels
// (checked against libjpeg-turbo on synthetic files and on every real JPEG in ../shared/data).
//
// Colour spaces: YCbCr (any integral sampling factors) and grayscale. Others (CMYK, YCCK, Adobe
// RGB) are refused with JpegError; the caller re-encodes those losslessly another way or
// dead-letters them.
//
// Errors: a corrupt or truncated file -- libjpeg's errors AND its corrupt-data warnings --
// throws JpegError naming the file and libjpeg's message (never a crash, never a half-decoded
// image passed on as good). The splice hands any file it cannot parse to the libjpeg path, which
// raises the error; corruption inside an untouched restart interval is copied, not decoded.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace geoshard::jpeg {

struct JpegError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 3 (RGB) or 1 (grayscale)
  std::vector<uint8_t> pixels;               // row-major, interleaved, no padding
};

// Decodes a JPEG file to RGB (or grayscale for grayscale files), libjpeg's default settings.
// EXIF orientation is NOT applied (pixels as stored). Throws JpegError.
Image decode(const std::string& path);
Image decode_memory(const std::vector<uint8_t>& bytes, const std::string& name, bool fancy_upsampling = true);

// The frame size from the header alone (nothing decoded, nothing large allocated): for callers
// that must refuse a huge image before decoding it. Throws JpegError.
struct Size {
  int width = 0, height = 0;
};
Size read_size(const std::vector<uint8_t>& bytes, const std::string& name);

struct RewriteStats {
  uint64_t blocks = 0;            // all blocks of all components
  uint64_t blocks_rewritten = 0;  // blocks re-encoded from the edited pixels
  uint64_t markers_copied = 0;    // marker segments copied (APPn, COM)
  bool spliced = false;           // true: the splice path; false: the libjpeg path
  uint64_t mcus = 0, mcus_reencoded = 0;         // splice: MCUs in the scan, MCUs Huffman re-encoded
  uint64_t intervals = 0, intervals_copied = 0;  // splice: restart intervals, copied undecoded
  uint64_t codes_added = 0;  // splice: Huffman codes added to the file's tables (DHT segments grown)
  uint64_t scans_recoded = 0;  // splice, progressive: scans re-encoded whole with tables of their own (a DHT inserted before each)
  std::string fallback_reason;  // libjpeg path taken automatically: why the splice did not apply
};

enum class RewritePath {
  automatic,  // the splice when the file allows it, else libjpeg
  libjpeg,    // always libjpeg's coefficient path (benchmarks, tests)
};
struct RewriteOptions {
  RewritePath path = RewritePath::automatic;
  // libjpeg path only: optimised Huffman tables (an extra statistics pass over all blocks) or
  // libjpeg's standard tables. Progressive output is always optimised (libjpeg requires it).
  bool optimize_coding = true;
};

// Writes `out_bytes`: the JPEG `in_bytes` with every block touching a pixel where
// changed[y * width + x] != 0 re-encoded from `edited` (an Image of the file's size and
// channels, e.g. decode() of it with regions blurred). Throws JpegError (bad input, unsupported
// colour space) or std::invalid_argument (edited/changed of the wrong size).
RewriteStats rewrite_blocks(const std::vector<uint8_t>& in_bytes, const std::string& name, const Image& edited,
                            const std::vector<uint8_t>& changed, std::vector<uint8_t>& out_bytes,
                            const RewriteOptions& options = {});

// The marker segments of a JPEG (APPn and COM, in file order): marker code and payload.
struct Marker {
  int code;
  std::vector<uint8_t> data;
};
std::vector<Marker> read_markers(const std::vector<uint8_t>& bytes, const std::string& name);

// Quantised coefficients of every block, per component, row-major block order, natural order
// within a block (for tests and audits).
struct Coefficients {
  std::vector<int> width_in_blocks, height_in_blocks, h_samp, v_samp;
  std::vector<std::vector<int16_t>> blocks;  // per component: blocks * 64
};
Coefficients read_coefficients(const std::vector<uint8_t>& bytes, const std::string& name);

std::vector<uint8_t> read_file(const std::string& path);  // throws JpegError naming the file

}  // namespace geoshard::jpeg
