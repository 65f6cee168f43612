// JPEG at the DCT-coefficient level (DESIGN.md, "The imagery chain", step 5): the blur job
// edits pixels in a few regions and must leave the rest of the photo as it was, bit for bit.
// rewrite_jpeg_blocks() re-encodes ONLY the 8×8 blocks (per component, in its own sampling
// grid) whose footprint touches a changed pixel -- forward DCT of the edited pixels, quantised
// with the file's own tables -- and copies every other block's coefficients and every marker
// segment (APP0..APP15: JFIF, EXIF, XMP/GPano, ICC; COM) unchanged. The entropy coding is
// redone (Huffman tables optimised), so the file bytes differ while the image does not outside
// the touched blocks.
//
// What "unchanged" means, as tested (tests/io/jpeg_region_test.cpp): the coefficients of every
// untouched block are identical; decoded without fancy chroma upsampling, every pixel outside
// the touched MCUs is identical; with a decoder's default (fancy) upsampling, a pixel next to a
// touched MCU may differ because it interpolates chroma from the touched block.
//
// Colour spaces: YCbCr (any sampling factors, baseline or progressive -- written back as
// progressive when the input was) and grayscale. Others (CMYK, YCCK, Adobe RGB) are refused
// with JpegError; the caller re-encodes those losslessly another way or dead-letters them.
//
// Errors: a corrupt or truncated file -- libjpeg's errors AND its corrupt-data warnings --
// throws JpegError naming the file and libjpeg's message (never a crash, never a half-decoded
// image passed on as good).
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

struct RewriteStats {
  uint64_t blocks = 0;            // all blocks of all components
  uint64_t blocks_rewritten = 0;  // blocks re-encoded from the edited pixels
  uint64_t markers_copied = 0;    // marker segments copied (APPn, COM)
};

// Writes `out_bytes`: the JPEG `in_bytes` with every block touching a pixel where
// changed[y * width + x] != 0 re-encoded from `edited` (an Image of the file's size and
// channels, e.g. decode() of it with regions blurred). Throws JpegError (bad input, unsupported
// colour space) or std::invalid_argument (edited/changed of the wrong size).
RewriteStats rewrite_blocks(const std::vector<uint8_t>& in_bytes, const std::string& name, const Image& edited,
                            const std::vector<uint8_t>& changed, std::vector<uint8_t>& out_bytes);

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
