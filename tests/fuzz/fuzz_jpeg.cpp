// Fuzz target: the coefficient-level JPEG writer (io/jpeg_region.h) on arbitrary files.
// Input: 4 bytes choosing a rectangle (x, y, width, height as fractions of the image), then the
// JPEG. The file is decoded (anything libjpeg refuses, or larger than 4 MP, ends there, as blur
// dead-letters it), the rectangle's pixels are inverted, and the file is rewritten by both paths
// -- the splice (automatic) and libjpeg's. Checked: when a path accepts the file its output is a
// JPEG that decodes cleanly to the same size, keeps every APPn and COM segment (a splice where
// it was; the libjpeg path in its header, those between scans included), and -- when both paths
// accept it -- both give every block the same coefficients (untouched blocks as they were,
// touched blocks re-encoded the same way). An empty edit through the splice returns the input
// byte for byte.
#include <stdexcept>
#include <vector>

#include "io/jpeg_region.h"
#include "tests/fuzz/fuzz.h"

using namespace geoshard;

namespace {

bool same_coefficients(const jpeg::Coefficients& a, const jpeg::Coefficients& b) {
  return a.width_in_blocks == b.width_in_blocks && a.height_in_blocks == b.height_in_blocks && a.h_samp == b.h_samp &&
         a.v_samp == b.v_samp && a.blocks == b.blocks;
}

bool same_markers(const std::vector<jpeg::Marker>& a, const std::vector<jpeg::Marker>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].code != b[i].code || a[i].data != b[i].data) return false;
  return true;
}

// Every APPn and COM segment of the file in order -- those between and after the scans too --
// walking the segments and skipping each scan's entropy-coded data. As libjpeg reads them:
// garbage between segments is skipped up to the next 0xFF (next_marker), and an APPn or COM
// segment whose length is below 2 is not saved, reading on after its length (save_marker).
std::vector<jpeg::Marker> file_markers(const std::vector<uint8_t>& j) {
  std::vector<jpeg::Marker> out;
  const size_t n = j.size();
  size_t p = 2;  // after SOI
  while (p + 1 < n) {
    if (j[p] != 0xFF || j[p + 1] == 0xFF || j[p + 1] == 0x00) {  // garbage or fill: skip a byte
      ++p;
      continue;
    }
    const int m = j[p + 1];
    if (m == 0xD9) break;  // EOI
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
      p += 2;
      continue;
    }
    if (p + 4 > n) break;
    const size_t len = static_cast<size_t>(j[p + 2]) << 8 | j[p + 3];
    if (len < 2) {  // a bogus length: libjpeg saves nothing and reads on after the length bytes
      p += 4;
      continue;
    }
    if (p + 2 + len > n) break;
    if ((m >= 0xE0 && m <= 0xEF) || m == 0xFE)
      out.push_back(jpeg::Marker{m, std::vector<uint8_t>(j.begin() + static_cast<std::ptrdiff_t>(p + 4),
                                                         j.begin() + static_cast<std::ptrdiff_t>(p + 2 + len))});
    p += 2 + len;
    if (m == 0xDA)  // the scan's data: up to a marker that is not a stuffed 0x00 or an RSTn
      while (p + 1 < n && !(j[p] == 0xFF && j[p + 1] != 0x00 && !(j[p + 1] >= 0xD0 && j[p + 1] <= 0xD7))) ++p;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const std::vector<uint8_t> in(data + 4, data + size);
  jpeg::Image img;
  std::vector<jpeg::Marker> markers;
  try {
    const jpeg::Size s = jpeg::read_size(in, "fuzz.jpg");
    if (static_cast<uint64_t>(s.width) * s.height > 4'000'000) return 0;  // blur: IMAGE_TOO_LARGE before decoding
    img = jpeg::decode_memory(in, "fuzz.jpg");
    markers = jpeg::read_markers(in, "fuzz.jpg");
  } catch (const jpeg::JpegError&) {
    return 0;  // blur dead-letters it as UNREADABLE_IMAGE
  }
  FUZZ_CHECK(img.width > 0 && img.height > 0 && (img.channels == 1 || img.channels == 3));
  FUZZ_CHECK(img.pixels.size() == static_cast<size_t>(img.width) * img.height * img.channels);

  // The rectangle to change, inverted in place.
  const int x0 = data[0] * img.width / 256, y0 = data[1] * img.height / 256;
  const int w = (data[2] * img.width + 255) / 256, h = (data[3] * img.height + 255) / 256;
  std::vector<uint8_t> changed(static_cast<size_t>(img.width) * img.height, 0);
  jpeg::Image edited = img;
  for (int y = y0; y < std::min(img.height, y0 + h); ++y)
    for (int x = x0; x < std::min(img.width, x0 + w); ++x) {
      changed[static_cast<size_t>(y) * img.width + x] = 1;
      for (int c = 0; c < img.channels; ++c) {
        uint8_t& v = edited.pixels[(static_cast<size_t>(y) * img.width + x) * img.channels + c];
        v = static_cast<uint8_t>(255 - v);
      }
    }
  const bool nothing = w == 0 || h == 0 || x0 >= img.width || y0 >= img.height;

  std::vector<uint8_t> out[2];
  bool ok[2] = {false, false}, spliced[2] = {false, false};
  for (int p = 0; p < 2; ++p) {
    jpeg::RewriteOptions opt;
    opt.path = p == 0 ? jpeg::RewritePath::automatic : jpeg::RewritePath::libjpeg;
    try {
      const jpeg::RewriteStats st = jpeg::rewrite_blocks(in, "fuzz.jpg", edited, changed, out[p], opt);
      ok[p] = true;
      spliced[p] = st.spliced;
      FUZZ_CHECK(st.blocks_rewritten <= st.blocks);
      if (nothing) FUZZ_CHECK(st.blocks_rewritten == 0);
      if (nothing && st.spliced) FUZZ_CHECK(out[p] == in);
    } catch (const jpeg::JpegError&) {
      continue;  // refused with a clear error (e.g. a corrupt scan only the rewrite reads)
    }
    try {
      const jpeg::Image back = jpeg::decode_memory(out[p], "out.jpg");
      FUZZ_CHECK(back.width == img.width && back.height == img.height && back.channels == img.channels);
      // A splice keeps every segment where it was: the header's are the input's. The libjpeg path
      // writes every APPn and COM segment it saved -- those between and after the input's scans
      // too -- into its header (a fuzzer-found case: an APP0 between two progressive scans).
      if (spliced[p]) FUZZ_CHECK(same_markers(jpeg::read_markers(out[p], "out.jpg"), markers));
      else FUZZ_CHECK(same_markers(jpeg::read_markers(out[p], "out.jpg"), file_markers(in)));
      FUZZ_CHECK(same_markers(file_markers(out[p]), file_markers(in)) || !spliced[p]);
    } catch (const jpeg::JpegError& e) {
      std::fprintf(stderr, "path %d wrote a JPEG that does not decode: %s\n", p, e.what());
      FUZZ_CHECK(false);
    }
  }
  if (ok[0] && ok[1])
    FUZZ_CHECK(same_coefficients(jpeg::read_coefficients(out[0], "splice.jpg"), jpeg::read_coefficients(out[1], "libjpeg.jpg")));
  return 0;
}
