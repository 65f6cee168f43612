// io/jpeg_region: only the blocks a region touches are re-encoded; everything else -- every
// other block's coefficients, every marker segment, every pixel outside the touched MCUs -- is
// unchanged; re-encoded blocks decode to the edited pixels; bad files are clear errors.
#include "io/jpeg_region.h"
#include "io/jpeg_bits.h"
#include "tests/testing/jpeg_fixture.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include <jpeglib.h>

namespace geoshard::jpeg {
namespace {

struct EncodeOptions {
  int quality = 95;
  int h_samp = 2, v_samp = 2;  // luma sampling factors (chroma 1x1): 2x2 = 4:2:0
  bool gray = false, progressive = false;
};

// Encodes with libjpeg (tests/testing/jpeg_fixture.h), adding an EXIF APP1, an XMP APP1, an ICC
// APP2 and a comment.
std::vector<uint8_t> encode(const Image& img, const EncodeOptions& o) {
  testing::JpegOptions j;
  j.quality = o.quality, j.h_samp = o.h_samp, j.v_samp = o.v_samp, j.progressive = o.progressive;
  j.markers = {{JPEG_APP0 + 1, std::string("Exif\0\0", 6) + "MM\0*fake-tiff-payload-with-GPS"},
               {JPEG_APP0 + 1, std::string("http://ns.adobe.com/xap/1.0/\0", 29) +
                                   "<x:xmpmeta><GPano:ProjectionType>equirectangular</GPano:ProjectionType></x:xmpmeta>"},
               {JPEG_APP0 + 2, std::string("ICC_PROFILE\0\1\1", 14) + std::string(300, '\x42')},
               {JPEG_COM, "made by the test"}};
  return testing::encode_jpeg(img.pixels.data(), img.width, img.height, img.channels,
                              static_cast<size_t>(img.width) * img.channels, j);
}

// A textured test picture: gradients, stripes and noise (so that blocks differ).
Image picture(int W, int H, int channels, uint64_t seed) {
  Image img{W, H, channels, std::vector<uint8_t>(static_cast<size_t>(W) * H * channels)};
  std::mt19937_64 rng(seed);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < channels; ++c) {
        const int v = (x * (3 + c) + y * (5 - c)) % 200 + ((x / 7 + y / 5) % 2) * 30 + static_cast<int>(rng() % 20);
        img.pixels[(static_cast<size_t>(y) * W + x) * channels + c] = static_cast<uint8_t>(std::min(255, v));
      }
  return img;
}

// Marks an ellipse and a small box at the bottom-right corner (edge/padding blocks), and fills
// them in `edited` with a smooth ramp (the re-encoded blocks must sample the right pixels: a
// block read from the wrong place decodes far from it).
std::vector<uint8_t> edit(Image& edited) {
  const int W = edited.width, H = edited.height;
  std::vector<uint8_t> mask(static_cast<size_t>(W) * H, 0);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const double ex = (x - 70.0) / 30, ey = (y - 60.0) / 22;
      const bool in = ex * ex + ey * ey <= 1 || (x >= W - 9 && y >= H - 7);
      if (!in) continue;
      mask[static_cast<size_t>(y) * W + x] = 1;
      for (int c = 0; c < edited.channels; ++c) edited.pixels[(static_cast<size_t>(y) * W + x) * edited.channels + c] =
            static_cast<uint8_t>(std::clamp(60 + 40 * c + (x - 40) / 2 + (y - 38) / 2, 0, 255));
    }
  return mask;
}

bool block_touches(const std::vector<uint8_t>& mask, int W, int H, int x0, int y0, int sx, int sy) {
  for (int y = y0; y < std::min(H, y0 + 8 * sy); ++y)
    for (int x = x0; x < std::min(W, x0 + 8 * sx); ++x)
      if (mask[static_cast<size_t>(y) * W + x]) return true;
  return false;
}

class JpegRegion : public ::testing::TestWithParam<EncodeOptions> {};

TEST_P(JpegRegion, OnlyTouchedBlocksChange) {
  const EncodeOptions o = GetParam();
  const int W = 203, H = 151;  // not a multiple of any MCU size
  const std::vector<uint8_t> in = encode(picture(W, H, o.gray ? 1 : 3, 42), o);
  const Image orig = decode_memory(in, "in.jpg");
  ASSERT_EQ(orig.width, W);
  Image edited = orig;
  const std::vector<uint8_t> mask = edit(edited);
  std::vector<uint8_t> out;
  const RewriteStats st = rewrite_blocks(in, "in.jpg", edited, mask, out);
  EXPECT_GT(st.blocks_rewritten, 0u);
  EXPECT_LT(st.blocks_rewritten, st.blocks / 4);
  EXPECT_EQ(st.markers_copied, read_markers(in, "in").size());

  // Every marker segment, byte for byte and in order.
  const auto mi = read_markers(in, "in"), mo = read_markers(out, "out");
  ASSERT_EQ(mi.size(), mo.size());
  ASSERT_GE(mi.size(), 4u);
  for (size_t k = 0; k < mi.size(); ++k) {
    EXPECT_EQ(mi[k].code, mo[k].code);
    EXPECT_EQ(mi[k].data, mo[k].data) << "marker " << k;
  }

  // Coefficients: identical in every block that no marked pixel touches.
  const Coefficients ci = read_coefficients(in, "in"), co = read_coefficients(out, "out");
  ASSERT_EQ(ci.blocks.size(), co.blocks.size());
  const int max_h = *std::max_element(ci.h_samp.begin(), ci.h_samp.end());
  const int max_v = *std::max_element(ci.v_samp.begin(), ci.v_samp.end());
  uint64_t touched = 0, differing = 0;
  for (size_t c = 0; c < ci.blocks.size(); ++c) {
    const int sx = max_h / ci.h_samp[c], sy = max_v / ci.v_samp[c];
    for (int by = 0; by < ci.height_in_blocks[c]; ++by)
      for (int bx = 0; bx < ci.width_in_blocks[c]; ++bx) {
        const size_t off = (static_cast<size_t>(by) * ci.width_in_blocks[c] + bx) * 64;
        const bool same = std::equal(ci.blocks[c].begin() + off, ci.blocks[c].begin() + off + 64, co.blocks[c].begin() + off);
        const bool t = bx * 8 * sx < W && by * 8 * sy < H && block_touches(mask, W, H, bx * 8 * sx, by * 8 * sy, sx, sy);
        touched += t;
        differing += !same;
        if (!t) {
          ASSERT_TRUE(same) << "component " << c << " block " << bx << "," << by << " changed";
        }
      }
  }
  EXPECT_EQ(touched, st.blocks_rewritten);
  EXPECT_GT(differing, 0u);

  // Pixels (decoded without fancy upsampling, which mixes chroma across blocks): identical
  // outside the touched MCUs; inside the regions, the edit (up to quantisation).
  const Image a = decode_memory(in, "in", false), b = decode_memory(out, "out", false);
  const int mw = 8 * max_h, mh = 8 * max_v;
  double err = 0;
  uint64_t n_in = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const int mx = x / mw * mw, my = y / mh * mh;
      const bool mcu_touched = block_touches(mask, W, H, mx, my, max_h, max_v);
      for (int c = 0; c < a.channels; ++c) {
        const size_t i = (static_cast<size_t>(y) * W + x) * a.channels + c;
        if (!mcu_touched) {
          ASSERT_EQ(a.pixels[i], b.pixels[i]) << x << "," << y;
        }
        if (mask[static_cast<size_t>(y) * W + x]) {
          err += std::abs(static_cast<int>(b.pixels[i]) - edited.pixels[i]);
          ++n_in;
        }
      }
    }
  EXPECT_LT(err / n_in, 3.0) << "re-encoded blocks do not decode to the edited pixels";

  // Nothing marked: nothing rewritten, coefficients identical.
  std::vector<uint8_t> same;
  const RewriteStats none = rewrite_blocks(in, "in", orig, std::vector<uint8_t>(mask.size(), 0), same);
  EXPECT_EQ(none.blocks_rewritten, 0u);
  const Coefficients cs = read_coefficients(same, "same");
  for (size_t c = 0; c < ci.blocks.size(); ++c) EXPECT_EQ(cs.blocks[c], ci.blocks[c]);
}

// Every block of `got` against `want` where a marked pixel of `mask` touches it, against `before`
// elsewhere; the first differing coefficient is a test failure naming `what`, the component, the
// block and the coefficient. Returns how many blocks are touched and how many of those differ
// from `before`.
struct BlockCounts {
  uint64_t touched = 0, touched_changed = 0;
};
BlockCounts compare_blocks(const Coefficients& got, const Coefficients& want, const Coefficients& before,
                           const std::vector<uint8_t>& mask, int W, int H, const std::string& what) {
  BlockCounts n;
  if (got.blocks.size() != want.blocks.size() || got.blocks.size() != before.blocks.size()) {
    ADD_FAILURE() << what << ": component counts differ";
    return n;
  }
  const int max_h = *std::max_element(got.h_samp.begin(), got.h_samp.end());
  const int max_v = *std::max_element(got.v_samp.begin(), got.v_samp.end());
  for (size_t c = 0; c < got.blocks.size(); ++c) {
    const int sx = max_h / got.h_samp[c], sy = max_v / got.v_samp[c];
    for (int by = 0; by < got.height_in_blocks[c]; ++by)
      for (int bx = 0; bx < got.width_in_blocks[c]; ++bx) {
        const size_t off = (static_cast<size_t>(by) * got.width_in_blocks[c] + bx) * 64;
        const bool t = block_touches(mask, W, H, bx * 8 * sx, by * 8 * sy, sx, sy);
        const std::vector<int16_t>& ref = t ? want.blocks[c] : before.blocks[c];
        for (int k = 0; k < 64; ++k)
          if (got.blocks[c][off + k] != ref[off + k]) {
            ADD_FAILURE() << what << ": component " << c << " block " << bx << "," << by
                          << (t ? " (re-encoded)" : " (untouched)") << " coefficient " << k << ": " << got.blocks[c][off + k]
                          << ", want " << ref[off + k];
            return n;
          }
        n.touched += t;
        n.touched_changed += t && !std::equal(got.blocks[c].begin() + off, got.blocks[c].begin() + off + 64,
                                              before.blocks[c].begin() + off);
      }
  }
  return n;
}

// A re-encoded block holds exactly the coefficients libjpeg-turbo's own encoder (the library
// this test links, its default islow DCT) gives the edited picture with the same quantisation
// tables and sampling: kernels/dct.h's colour conversion, downsampling, transform and rounding,
// and the image's edges padded as libjpeg pads them (the marked box at the bottom-right corner
// touches the padded blocks); every other block keeps the input's. Both write paths, every
// sampling of the suite, with the AVX2 block code (where the CPU has it) and the portable one.
TEST_P(JpegRegion, TouchedBlocksAreLibjpegTurbosOwn) {
  const EncodeOptions o = GetParam();
  const int W = 203, H = 150;  // even: a 4:2:0 chroma row below the image repeats the last one, not row 149 alone
  const std::vector<uint8_t> in = encode(picture(W, H, o.gray ? 1 : 3, 7), o);
  Image edited = decode_memory(in, "in.jpg");
  const std::vector<uint8_t> mask = edit(edited);
  const Coefficients want = read_coefficients(encode(edited, o), "libjpeg-turbo"), before = read_coefficients(in, "in");
  for (const int variant : {0, 1, 2, 3}) {
    const RewritePath path = variant % 2 ? RewritePath::libjpeg : RewritePath::automatic;
    detail::set_simd_blocks(variant < 2);
    std::vector<uint8_t> out;
    RewriteOptions ro;
    ro.path = path;
    const RewriteStats st = rewrite_blocks(in, "in.jpg", edited, mask, out, ro);
    detail::set_simd_blocks(true);
    const BlockCounts n = compare_blocks(read_coefficients(out, "out"), want, before, mask, W, H,
                                         std::string(path == RewritePath::libjpeg ? "libjpeg path" : "splice") +
                                             (variant < 2 ? "" : ", portable"));
    EXPECT_EQ(n.touched, st.blocks_rewritten);
    EXPECT_GT(n.touched_changed, n.touched / 2);  // the edit changed them: equal to the reference, not to the input
  }
}

INSTANTIATE_TEST_SUITE_P(Sampling, JpegRegion,
                         ::testing::Values(EncodeOptions{95, 2, 2, false, false}, EncodeOptions{90, 1, 1, false, false},
                                           EncodeOptions{95, 2, 1, false, false}, EncodeOptions{95, 2, 2, false, true},
                                           EncodeOptions{85, 1, 1, true, false}, EncodeOptions{95, 1, 1, true, true}));

TEST(JpegRegionBadInput, ClearErrorsNamingTheFile) {
  const std::vector<uint8_t> good = encode(picture(64, 48, 3, 1), EncodeOptions{});
  auto expect_error = [](auto fn, const std::string& what) {
    try {
      fn();
      ADD_FAILURE() << what << ": no error";
    } catch (const JpegError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.jpg"), std::string::npos) << e.what();
    }
  };
  const std::vector<uint8_t> truncated(good.begin(), good.begin() + good.size() / 2);
  expect_error([&] { decode_memory(truncated, "bad.jpg"); }, "truncated");
  expect_error([&] { decode_memory({}, "bad.jpg"); }, "empty");
  const std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
  expect_error([&] { decode_memory(png, "bad.jpg"); }, "PNG named .jpg");
  std::vector<uint8_t> garbage(good.begin(), good.begin() + 200);
  for (size_t i = 100; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 37);
  expect_error([&] { decode_memory(garbage, "bad.jpg"); }, "garbage");
  Image img = decode_memory(good, "good.jpg");
  std::vector<uint8_t> mask(static_cast<size_t>(img.width) * img.height, 1), out;
  expect_error([&] { rewrite_blocks(truncated, "bad.jpg", img, mask, out); }, "rewrite truncated");
  EXPECT_THROW(rewrite_blocks(good, "good.jpg", img, std::vector<uint8_t>(3), out), std::invalid_argument);
  Image small = img;
  small.width -= 1;
  small.pixels.resize(static_cast<size_t>(small.width) * small.height * 3);
  EXPECT_THROW(rewrite_blocks(good, "good.jpg", small, std::vector<uint8_t>(small.pixels.size() / 3), out), JpegError);
  EXPECT_THROW(read_file("/nonexistent/bad.jpg"), JpegError);
}

TEST(JpegRegionRealData, RealPhotosKeepMarkersAndUntouchedBlocks) {
  const std::filesystem::path dir = std::filesystem::path(GEOSHARD_SHARED_DATA) / "faces";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir << " (../shared/data absent)";
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".jpg") continue;
    const std::vector<uint8_t> in = read_file(e.path().string());
    Image img = decode_memory(in, e.path().string());
    std::vector<uint8_t> mask(static_cast<size_t>(img.width) * img.height, 0);
    for (int y = img.height / 3; y < img.height / 2; ++y)
      for (int x = img.width / 3; x < img.width / 2; ++x) {
        mask[static_cast<size_t>(y) * img.width + x] = 1;
        for (int c = 0; c < img.channels; ++c) img.pixels[(static_cast<size_t>(y) * img.width + x) * img.channels + c] = 0;
      }
    std::vector<uint8_t> out;
    const RewriteStats st = rewrite_blocks(in, e.path().string(), img, mask, out);
    EXPECT_GT(st.blocks_rewritten, 0u);
    const auto mi = read_markers(in, "in"), mo = read_markers(out, "out");
    ASSERT_EQ(mi.size(), mo.size());
    for (size_t k = 0; k < mi.size(); ++k) EXPECT_EQ(mi[k].data, mo[k].data);
    const Coefficients ci = read_coefficients(in, "in"), co = read_coefficients(out, "out");
    uint64_t same = 0, total = 0;
    for (size_t c = 0; c < ci.blocks.size(); ++c)
      for (size_t b = 0; b < ci.blocks[c].size(); b += 64, ++total)
        same += std::equal(ci.blocks[c].begin() + b, ci.blocks[c].begin() + b + 64, co.blocks[c].begin() + b);
    EXPECT_LE(total - same, st.blocks_rewritten);
    ++files;
  }
  EXPECT_GT(files, 0);
}

// libjpeg-turbo's encoding of `img` with the quantisation tables, sampling and colour space of
// the JPEG `like` (jpeg_copy_critical_parameters), its default islow DCT.
std::vector<uint8_t> encode_like(const std::vector<uint8_t>& like, const Image& img) {
  jpeg_decompress_struct d;
  jpeg_compress_struct c;
  jpeg_error_mgr ed, ec;
  d.err = jpeg_std_error(&ed);
  c.err = jpeg_std_error(&ec);
  jpeg_create_decompress(&d);
  jpeg_create_compress(&c);
  jpeg_mem_src(&d, like.data(), static_cast<unsigned long>(like.size()));
  jpeg_read_header(&d, TRUE);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  jpeg_copy_critical_parameters(&d, &c);  // takes the input colour space to be the file's: ours is RGB
  c.in_color_space = img.channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  c.input_components = img.channels;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(&img.pixels[static_cast<size_t>(c.next_scanline) * img.width * img.channels]);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  jpeg_destroy_compress(&c);
  jpeg_destroy_decompress(&d);
  return out;
}

// On every real JPEG in ../shared/data (faces, plates, panoramas; each with its own tables,
// sampling and size), a textured edit in the middle and at the bottom-right corner: every
// re-encoded block holds libjpeg-turbo's own coefficients for the edited pixels with the file's
// tables, and every other block the input's. Every other file with the portable block code.
TEST(JpegRegionRealData, TouchedBlocksAreLibjpegTurbosOwn) {
  const std::filesystem::path root(GEOSHARD_SHARED_DATA);
  if (!std::filesystem::exists(root / "faces")) GTEST_SKIP() << "no " << root / "faces" << " (../shared/data absent)";
  int files = 0;
  uint64_t compared = 0;
  for (const char* sub : {"faces", "plates", "plates/eu", "pano360"}) {
    if (!std::filesystem::exists(root / sub)) continue;
    for (const auto& e : std::filesystem::directory_iterator(root / sub)) {
      if (e.path().extension() != ".jpg" && e.path().extension() != ".jpeg") continue;
      const std::string name = e.path().string();
      const std::vector<uint8_t> in = read_file(name);
      Image img = decode_memory(in, name);
      const int W = img.width, H = img.height;
      std::vector<uint8_t> mask(static_cast<size_t>(W) * H, 0);
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const bool in_box = (y >= H / 3 && y < H / 2 && x >= W / 3 && x < W / 2) || (x >= W - 11 && y >= H - 13);
          if (!in_box) continue;
          mask[static_cast<size_t>(y) * W + x] = 1;
          uint8_t* p = &img.pixels[(static_cast<size_t>(y) * W + x) * img.channels];
          for (int c = 0; c < img.channels; ++c) p[c] = static_cast<uint8_t>((p[c] + x * (c + 1) + 3 * y) / 2);
        }
      std::vector<uint8_t> out;
      detail::set_simd_blocks(files % 2 == 0);  // every other file with the portable block code
      const RewriteStats st = rewrite_blocks(in, name, img, mask, out);
      detail::set_simd_blocks(true);
      const BlockCounts n = compare_blocks(read_coefficients(out, "out"), read_coefficients(encode_like(in, img), "libjpeg-turbo"),
                                           read_coefficients(in, "in"), mask, W, H, name + (files % 2 ? ", portable" : ""));
      EXPECT_EQ(n.touched, st.blocks_rewritten) << name;
      compared += n.touched;
      ++files;
    }
  }
  EXPECT_GE(files, 11);
  std::printf("%d real JPEGs, %llu re-encoded blocks equal to libjpeg-turbo's\n", files, static_cast<unsigned long long>(compared));
}

}  // namespace
}  // namespace geoshard::jpeg
