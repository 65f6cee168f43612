// Test JPEGs made with libjpeg: any size, gray or RGB, chroma sampling, baseline or
// progressive, restart intervals, standard or optimised Huffman tables, with marker segments
// (APPn, COM) -- for the JPEG, image-ingest and blur tests.
#pragma once

#include <jpeglib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace geoshard::testing {

struct JpegOptions {
  int quality = 95;
  int h_samp = 2, v_samp = 2;  // luma sampling factors (chroma 1x1): 2x2 = 4:2:0; ignored for gray
  bool progressive = false;
  std::vector<jpeg_scan_info> scans;  // with progressive: this scan script instead of libjpeg's default
  unsigned restart_interval = 0;  // MCUs per restart interval (DRI), 0 = none
  bool optimize = false;          // optimised Huffman tables (else libjpeg's standard ones)
  std::vector<std::pair<int, std::string>> markers;  // (JPEG_APP0 + n or JPEG_COM, payload)
};

// Encodes interleaved 8-bit RGB (channels 3) or gray (channels 1) rows, `stride` bytes apart.
inline std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int width, int height, int channels, size_t stride,
                                        const JpegOptions& o = {}) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = width;
  c.image_height = height;
  c.input_components = channels;
  c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, o.quality, TRUE);
  if (channels == 3) {
    c.comp_info[0].h_samp_factor = o.h_samp;
    c.comp_info[0].v_samp_factor = o.v_samp;
  }
  if (o.progressive) jpeg_simple_progression(&c);
  if (o.progressive && !o.scans.empty()) {
    c.scan_info = o.scans.data();
    c.num_scans = static_cast<int>(o.scans.size());
  }
  c.restart_interval = o.restart_interval;
  c.optimize_coding = o.optimize ? TRUE : FALSE;
  jpeg_start_compress(&c, TRUE);
  for (const auto& [code, data] : o.markers)
    jpeg_write_marker(&c, code, reinterpret_cast<const JOCTET*>(data.data()), static_cast<unsigned>(data.size()));
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels + static_cast<size_t>(c.next_scanline) * stride);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

}  // namespace geoshard::testing
