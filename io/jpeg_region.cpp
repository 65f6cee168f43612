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

#include "kernels/dct.h"

namespace geoshard::jpeg {
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

void init_errors(ErrorManager& e) {
  jpeg_std_error(&e.pub);
  e.pub.error_exit = on_error;
  e.pub.emit_message = on_message;
  e.message[0] = e.warning[0] = '\0';
  e.warnings = 0;
}

// Prefix for messages: the file and what went wrong.
std::string where(const std::string& name) { return "JPEG '" + name + "': "; }

// Summed-area table of `changed` (W+1 x H+1) for O(1) "any changed pixel in this rectangle".
std::vector<uint32_t> integral(const std::vector<uint8_t>& changed, int W, int H) {
  std::vector<uint32_t> s(static_cast<size_t>(W + 1) * (H + 1), 0);
  for (int y = 0; y < H; ++y) {
    uint32_t row = 0;
    for (int x = 0; x < W; ++x) {
      row += changed[static_cast<size_t>(y) * W + x] != 0;
      s[static_cast<size_t>(y + 1) * (W + 1) + x + 1] = s[static_cast<size_t>(y) * (W + 1) + x + 1] + row;
    }
  }
  return s;
}
uint32_t count(const std::vector<uint32_t>& s, int W, int x0, int y0, int x1, int y1) {
  const size_t w = static_cast<size_t>(W) + 1;
  return s[y1 * w + x1] - s[y0 * w + x1] - s[y1 * w + x0] + s[y0 * w + x0];
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
  jpeg_destroy_decompress(&d);
  if (em.warnings) throw JpegError(where(name) + "corrupt data: " + em.warning);
  return img;
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
  jpeg_destroy_decompress(&d);
  if (em.warnings) throw JpegError(where(name) + "corrupt data: " + em.warning);
  return c;
}

RewriteStats rewrite_blocks(const std::vector<uint8_t>& in_bytes, const std::string& name, const Image& edited,
                            const std::vector<uint8_t>& changed, std::vector<uint8_t>& out_bytes) {
  if (in_bytes.empty()) throw JpegError(where(name) + "empty file");
  const int W = edited.width, H = edited.height;
  if (W <= 0 || H <= 0 || edited.pixels.size() != static_cast<size_t>(W) * H * edited.channels ||
      changed.size() != static_cast<size_t>(W) * H)
    throw std::invalid_argument("rewrite_blocks: edited image and changed mask must be width x height");
  const std::vector<uint32_t> sat = integral(changed, W, H);
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
    if (em.warnings) {
      failure = std::string("corrupt data: ") + em.warning;
    } else {
      double s[DCTSIZE2];
      int16_t q[DCTSIZE2];
      for (int ci = 0; ci < src.num_components && failure.empty(); ++ci) {
        const jpeg_component_info* comp = src.comp_info + ci;
        if (src.max_h_samp_factor % comp->h_samp_factor || src.max_v_samp_factor % comp->v_samp_factor) {
          failure = "fractional chroma sampling factors";
          break;
        }
        const int sx = src.max_h_samp_factor / comp->h_samp_factor, sy = src.max_v_samp_factor / comp->v_samp_factor;
        uint16_t quant[DCTSIZE2];
        for (int k = 0; k < DCTSIZE2; ++k) quant[k] = comp->quant_table->quantval[k];  // natural order
        for (JDIMENSION by = 0; by < comp->height_in_blocks; ++by) {
          JBLOCKARRAY rows = (*src.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&src), arrays[ci], by, 1, TRUE);
          for (JDIMENSION bx = 0; bx < comp->width_in_blocks; ++bx) {
            ++st.blocks;
            const int x0 = static_cast<int>(bx) * 8 * sx, y0 = static_cast<int>(by) * 8 * sy;
            if (x0 >= W || y0 >= H) continue;  // padding block beyond the image
            const int x1 = std::min(W, x0 + 8 * sx), y1 = std::min(H, y0 + 8 * sy);
            if (count(sat, W, x0, y0, x1, y1) == 0) continue;
            // The block's samples from the edited pixels: the component's value averaged over
            // its sx x sy pixels, edges replicated beyond the image (as encoders pad).
            for (int y = 0; y < 8; ++y)
              for (int x = 0; x < 8; ++x) {
                double acc = 0;
                for (int j = 0; j < sy; ++j)
                  for (int i = 0; i < sx; ++i) {
                    const int px = std::min(W - 1, x0 + x * sx + i), py = std::min(H - 1, y0 + y * sy + j);
                    const uint8_t* p = &edited.pixels[(static_cast<size_t>(py) * W + px) * edited.channels];
                    if (gray) {
                      acc += p[0];
                    } else {
                      double yy, cb, cr;
                      dct::rgb_to_ycbcr(p[0], p[1], p[2], &yy, &cb, &cr);
                      acc += ci == 0 ? yy : ci == 1 ? cb : cr;
                    }
                  }
                s[y * 8 + x] = acc / (sx * sy);
              }
            dct::forward_dct_quantise(s, quant, q);
            for (int k = 0; k < DCTSIZE2; ++k) rows[0][bx][k] = q[k];
            ++st.blocks_rewritten;
          }
        }
      }
    }
    if (failure.empty()) {
      jpeg_mem_dest(&dst, &buf, &size);
      jpeg_copy_critical_parameters(&src, &dst);
      dst.optimize_coding = TRUE;
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

}  // namespace geoshard::jpeg
