// io/jpeg_splice (through jpeg::rewrite_blocks): on baseline files only the touched MCUs are
// re-encoded and everything else is copied bit for bit. Checked against the libjpeg path on the
// same edit: identical coefficients in EVERY block (so untouched blocks keep the input's, touched
// blocks get the same new ones); every marker segment identical (a DHT may only gain symbols); pixels
// outside touched MCUs identical; an empty edit gives the input back byte for byte. Over 4:2:0,
// 4:2:2, 4:4:4 and gray, with and without restart intervals, odd and tiny sizes, a region at the
// last MCU, standard and optimised Huffman tables (a missing symbol is added to the table; a
// table with no free code falls back to libjpeg), real photos; truncated and corrupted files give JpegError or a valid output, never a crash.
#include "io/jpeg_bits.h"
#include "io/jpeg_region.h"
#include "kernels/dct.h"
#include "tests/testing/jpeg_fixture.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include <jpeglib.h>

namespace geoshard::jpeg {
namespace {

struct Case {
  const char* name;
  int W, H;
  int h_samp, v_samp;  // luma sampling (chroma 1x1)
  bool gray;
  unsigned restart;  // MCUs per interval, 0 = none
};

Image picture(int W, int H, int channels, uint64_t seed) {
  Image img{W, H, channels, std::vector<uint8_t>(static_cast<size_t>(W) * H * channels)};
  std::mt19937_64 rng(seed);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < channels; ++c) {
        const int v = (x * (3 + c) + y * (5 - c)) % 200 + ((x / 7 + y / 5) % 2) * 30 + static_cast<int>(rng() % 40);
        img.pixels[(static_cast<size_t>(y) * W + x) * channels + c] = static_cast<uint8_t>(std::min(255, v));
      }
  return img;
}

std::vector<uint8_t> encode(const Image& img, int h, int v, unsigned restart, bool optimize = false,
                            bool progressive = false, int quality = 92) {
  testing::JpegOptions o;
  o.quality = quality, o.h_samp = h, o.v_samp = v, o.restart_interval = restart, o.optimize = optimize;
  o.progressive = progressive;
  o.markers = {{JPEG_APP0 + 1, std::string("Exif\0\0", 6) + "MM\0*fake-tiff-payload-with-GPS"},
               {JPEG_APP0 + 2, std::string("ICC_PROFILE\0\1\1", 14) + std::string(300, '\xFF')},
               {JPEG_COM, "made by the splice test"}};
  return testing::encode_jpeg(img.pixels.data(), img.width, img.height, img.channels,
                              static_cast<size_t>(img.width) * img.channels, o);
}

// Fills rectangle [x0,x1) x [y0,y1) (clipped) of `img` with noise and marks it in `mask`.
void scribble(Image& img, std::vector<uint8_t>& mask, int x0, int y0, int x1, int y1, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int y = std::max(0, y0); y < std::min(img.height, y1); ++y)
    for (int x = std::max(0, x0); x < std::min(img.width, x1); ++x) {
      mask[static_cast<size_t>(y) * img.width + x] = 1;
      for (int c = 0; c < img.channels; ++c)
        img.pixels[(static_cast<size_t>(y) * img.width + x) * img.channels + c] = static_cast<uint8_t>(rng());
    }
}

// Box-blurs rectangle [x0,x1) x [y0,y1) of `img` (7 x 7 means, window clipped to the rectangle)
// and marks it in `mask`: what a blur region does to a real photo.
void smear(Image& img, std::vector<uint8_t>& mask, int x0, int y0, int x1, int y1) {
  x0 = std::max(0, x0), y0 = std::max(0, y0), x1 = std::min(img.width, x1), y1 = std::min(img.height, y1);
  const Image src = img;
  const int ch = img.channels;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      mask[static_cast<size_t>(y) * img.width + x] = 1;
      for (int c = 0; c < ch; ++c) {
        int sum = 0, n = 0;
        for (int j = std::max(y0, y - 3); j <= std::min(y1 - 1, y + 3); ++j)
          for (int i = std::max(x0, x - 3); i <= std::min(x1 - 1, x + 3); ++i, ++n)
            sum += src.pixels[(static_cast<size_t>(j) * img.width + i) * ch + c];
        img.pixels[(static_cast<size_t>(y) * img.width + x) * ch + c] = static_cast<uint8_t>(sum / n);
      }
    }
}

// Offset of the first byte after the SOS segment (the entropy-coded data).
size_t scan_start(const std::vector<uint8_t>& b) {
  for (size_t p = 2; p + 4 <= b.size();) {
    if (b[p] != 0xFF) return 0;
    if (b[p + 1] == 0xFF) {
      ++p;
      continue;
    }
    const size_t len = static_cast<size_t>(b[p + 2]) << 8 | b[p + 3];
    if (b[p + 1] == 0xDA) return p + 2 + len;
    p += 2 + len;
  }
  return 0;
}

// Every marker segment of a file in order (SOI and EOI with empty payloads; entropy-coded data
// and RSTn markers skipped): (marker code, payload).
std::vector<std::pair<uint8_t, std::vector<uint8_t>>> segments(const std::vector<uint8_t>& b) {
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> v;
  size_t p = 0;
  while (p + 1 < b.size()) {
    if (b[p] != 0xFF || b[p + 1] == 0x00 || (b[p + 1] >= 0xD0 && b[p + 1] <= 0xD7)) {  // scan data
      ++p;
      continue;
    }
    if (b[p + 1] == 0xFF) {  // fill
      ++p;
      continue;
    }
    const uint8_t m = b[p + 1];
    if (m == 0xD8 || m == 0xD9) {
      v.push_back({m, {}});
      p += 2;
      if (m == 0xD9) break;
      continue;
    }
    if (p + 4 > b.size()) break;
    const size_t len = static_cast<size_t>(b[p + 2]) << 8 | b[p + 3];
    if (len < 2 || p + 2 + len > b.size()) break;
    v.push_back({m, std::vector<uint8_t>(b.begin() + p + 4, b.begin() + p + 2 + len)});
    p += 2 + len;
  }
  return v;
}

// Whether DHT payload `out` holds the tables of `in` in the same order, each the same or grown
// by symbols appended at code length 16 (so every code of `in` keeps its value); adds the
// number of appended symbols to *added.
bool dht_extends(const std::vector<uint8_t>& in, const std::vector<uint8_t>& out, uint64_t* added) {
  size_t i = 0, o = 0;
  while (i < in.size()) {
    if (o + 17 > out.size() || i + 17 > in.size() || in[i] != out[o]) return false;
    size_t ni = 0, no = 0;
    for (int l = 1; l <= 16; ++l) {
      ni += in[i + l], no += out[o + l];
      if (l < 16 && in[i + l] != out[o + l]) return false;
    }
    if (no < ni || i + 17 + ni > in.size() || o + 17 + no > out.size()) return false;
    if (!std::equal(in.begin() + i + 17, in.begin() + i + 17 + ni, out.begin() + o + 17)) return false;
    *added += no - ni;
    i += 17 + ni, o += 17 + no;
  }
  return o == out.size();
}

// The checks every splice must pass; returns the stats of the automatic path.
RewriteStats check_splice(const std::vector<uint8_t>& in, const Image& edited, const std::vector<uint8_t>& mask,
                          bool expect_spliced = true) {
  std::vector<uint8_t> out, ref;
  const RewriteStats st = rewrite_blocks(in, "in.jpg", edited, mask, out);
  RewriteOptions lo;
  lo.path = RewritePath::libjpeg;
  const RewriteStats sr = rewrite_blocks(in, "in.jpg", edited, mask, ref, lo);
  EXPECT_EQ(st.spliced, expect_spliced);
  EXPECT_FALSE(sr.spliced);
  EXPECT_EQ(st.blocks, sr.blocks);
  EXPECT_EQ(st.blocks_rewritten, sr.blocks_rewritten);
  EXPECT_EQ(st.markers_copied, sr.markers_copied);

  // Coefficients of every block: those of the libjpeg path (which keeps untouched blocks and
  // computes touched ones the same way); untouched blocks equal to the input's.
  const Coefficients co = read_coefficients(out, "out"), cr = read_coefficients(ref, "ref"), ci = read_coefficients(in, "in");
  EXPECT_EQ(co.blocks, cr.blocks);
  uint64_t same_as_input = 0, total = 0;
  for (size_t c = 0; c < ci.blocks.size(); ++c)
    for (size_t b = 0; b < ci.blocks[c].size(); b += 64, ++total)
      same_as_input += std::equal(ci.blocks[c].begin() + b, ci.blocks[c].begin() + b + 64, co.blocks[c].begin() + b);
  EXPECT_GE(same_as_input, total - st.blocks_rewritten);

  // Every marker segment (APPn, COM) identical; for a splice, every byte up to the scan data.
  const auto mi = read_markers(in, "in"), mo = read_markers(out, "out");
  EXPECT_EQ(mi.size(), mo.size());
  for (size_t k = 0; k < std::min(mi.size(), mo.size()); ++k) EXPECT_EQ(mi[k].data, mo[k].data);
  if (st.spliced) {
    // Every marker segment (DQT, SOF, SOS headers, DHT, ... up to EOI) identical and in the same
    // order, but for DHT segments whose tables gained symbols the edit needed (codes_added) and,
    // in a progressive file, DHT segments inserted for scans re-encoded with tables of their own.
    const auto si = segments(in), so = segments(out);
    uint64_t added = 0, inserted = 0;
    size_t k = 0;
    for (size_t j = 0; j < so.size(); ++j) {
      const auto& [m, payload] = so[j];
      if (k < si.size() && si[k].first == m && (si[k].second == payload || (m == 0xC4 && dht_extends(si[k].second, payload, &added)))) {
        ++k;
      } else {
        EXPECT_TRUE(m == 0xC4 && j + 1 < so.size() && so[j + 1].first == 0xDA) << "output segment " << j << " is not the input's " << k;
        ++inserted;
      }
    }
    EXPECT_EQ(k, si.size()) << "input segments missing from the output";
    EXPECT_EQ(added, st.codes_added);
    EXPECT_EQ(inserted, st.scans_recoded);  // a DHT right before each such scan's SOS
    if (st.codes_added == 0 && st.scans_recoded == 0) {
      const size_t s = scan_start(in);
      EXPECT_GT(s, 0u);
      EXPECT_TRUE(out.size() >= s && std::equal(in.begin(), in.begin() + s, out.begin())) << "header bytes differ";
    }
    EXPECT_EQ(out[out.size() - 2], 0xFF);
    EXPECT_EQ(out[out.size() - 1], 0xD9);
  }

  // Pixels, without fancy upsampling: the same as the libjpeg path's everywhere, and (since
  // coefficients are) the input's outside the touched blocks. decode_memory throws on any
  // corrupt-data warning, so this also checks the spliced stream is clean.
  const Image a = decode_memory(out, "out", false), b = decode_memory(ref, "ref", false);
  EXPECT_EQ(a.pixels, b.pixels);
  const Image o = decode_memory(in, "in", false);
  const int mw = 8 * *std::max_element(ci.h_samp.begin(), ci.h_samp.end());
  const int mh = 8 * *std::max_element(ci.v_samp.begin(), ci.v_samp.end());
  const int W = edited.width, H = edited.height;
  std::vector<uint8_t> mcu_touched(static_cast<size_t>((W + mw - 1) / mw) * ((H + mh - 1) / mh), 0);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      if (mask[static_cast<size_t>(y) * W + x]) mcu_touched[static_cast<size_t>(y / mh) * ((W + mw - 1) / mw) + x / mw] = 1;
  uint64_t differing_outside = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      if (!mcu_touched[static_cast<size_t>(y / mh) * ((W + mw - 1) / mw) + x / mw])
        for (int c = 0; c < o.channels; ++c) {
          const size_t i = (static_cast<size_t>(y) * W + x) * o.channels + c;
          differing_outside += a.pixels[i] != o.pixels[i];
        }
  EXPECT_EQ(differing_outside, 0u) << "pixels outside the touched MCUs changed";

  // Nothing marked: the input, byte for byte (splice) / same coefficients (libjpeg).
  std::vector<uint8_t> same;
  const RewriteStats none = rewrite_blocks(in, "in", edited, std::vector<uint8_t>(mask.size(), 0), same);
  EXPECT_EQ(none.blocks_rewritten, 0u);
  if (none.spliced) {
    EXPECT_EQ(same, in);
  } else {
    EXPECT_EQ(read_coefficients(same, "same").blocks, ci.blocks);
  }
  return st;
}

class Splice : public ::testing::TestWithParam<Case> {};

TEST_P(Splice, MatchesLibjpegPathAndCopiesTheRest) {
  const Case c = GetParam();
  const int ch = c.gray ? 1 : 3;
  const std::vector<uint8_t> in = encode(picture(c.W, c.H, ch, 7), c.h_samp, c.v_samp, c.restart);
  const Image orig = decode_memory(in, "in");
  ASSERT_EQ(orig.width, c.W);
  ASSERT_EQ(orig.height, c.H);

  // A face-like box somewhere in the middle, and a box at the bottom-right corner (the last MCU,
  // partial and with padding blocks).
  Image edited = orig;
  std::vector<uint8_t> mask(static_cast<size_t>(c.W) * c.H, 0);
  scribble(edited, mask, c.W / 3, c.H / 3, c.W / 3 + std::max(1, c.W / 8), c.H / 3 + std::max(1, c.H / 7), 1);
  scribble(edited, mask, c.W - 3, c.H - 2, c.W, c.H, 2);
  const RewriteStats st = check_splice(in, edited, mask);
  EXPECT_GT(st.blocks_rewritten, 0u);
  EXPECT_GT(st.mcus_reencoded, 0u);
  if (c.restart && st.intervals > 3) {
    EXPECT_GT(st.intervals_copied, 0u);
    EXPECT_LT(st.intervals_copied, st.intervals);
  }

  // Only the last MCU; only the first pixel; every pixel.
  {
    Image e = orig;
    std::vector<uint8_t> m(mask.size(), 0);
    scribble(e, m, c.W - 1, c.H - 1, c.W, c.H, 3);
    check_splice(in, e, m);
  }
  {
    Image e = orig;
    std::vector<uint8_t> m(mask.size(), 0);
    scribble(e, m, 0, 0, 1, 1, 4);
    check_splice(in, e, m);
  }
  {
    Image e = orig;
    std::vector<uint8_t> m(mask.size(), 0);
    scribble(e, m, 0, 0, c.W, c.H, 5);
    const RewriteStats all = check_splice(in, e, m);
    EXPECT_EQ(all.mcus_reencoded, all.mcus);
  }
  // Many small scattered edits (runs of touched and untouched MCUs of every length).
  {
    Image e = orig;
    std::vector<uint8_t> m(mask.size(), 0);
    std::mt19937 rng(11);
    for (int k = 0; k < 25; ++k) {
      const int x = static_cast<int>(rng() % c.W), y = static_cast<int>(rng() % c.H);
      scribble(e, m, x, y, x + 1 + static_cast<int>(rng() % 20), y + 1 + static_cast<int>(rng() % 20), 100 + k);
    }
    check_splice(in, e, m);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Files, Splice,
    ::testing::Values(Case{"s420", 203, 151, 2, 2, false, 0}, Case{"s420_rst1", 203, 151, 2, 2, false, 1},
                      Case{"s420_rst5", 203, 151, 2, 2, false, 5}, Case{"s422", 203, 151, 2, 1, false, 0},
                      Case{"s422_rst7", 203, 151, 2, 1, false, 7}, Case{"s444", 203, 151, 1, 1, false, 0},
                      Case{"s444_rst3", 203, 151, 1, 1, false, 3}, Case{"gray", 203, 151, 1, 1, true, 0},
                      Case{"gray_rst4", 203, 151, 1, 1, true, 4}, Case{"s420_tiny", 1, 1, 2, 2, false, 0},
                      Case{"s420_9x17", 9, 17, 2, 2, false, 1}, Case{"gray_tiny", 3, 2, 1, 1, true, 0},
                      Case{"s444_8x8", 8, 8, 1, 1, false, 0}, Case{"s420_wide", 517, 33, 2, 2, false, 12}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

// io/jpeg_bits.h's branch-free bit counts (and the POPCNT / PDEP ones) against the plain loops
// they replace (the progressive walk's "the run + 1-th zero coefficient"): random words of every
// density, every n it is asked.
TEST(SpliceBits, SelectAndPopcountEqualThePlainLoops) {
  std::mt19937_64 rng(11);
  int hits = 0;
  const bool hw = detail::hw_bits();  // and the POPCNT + BMI2 forms where this CPU has them
  if (!hw) std::printf("no POPCNT + BMI2 here: only the portable counts\n");
  for (int t = 0; t < 200000; ++t) {
    uint64_t x = rng();
    for (int d = t % 5; d > 0; --d) x &= rng();  // sparser words
    if (t % 7 == 0) x |= rng() | rng();         // denser ones
    if (t % 1000 == 0) x = t % 2000 ? ~uint64_t{0} : 0;
    int want_count = 0;
    for (int b = 0; b < 64; ++b) want_count += static_cast<int>(x >> b & 1);
    ASSERT_EQ(detail::popcount(x), want_count) << std::hex << x;
#ifdef GEOSHARD_JPEG_HW_BITS
    if (hw) {
      ASSERT_EQ(detail::popcount_hw(x), want_count) << std::hex << x;
    }
#endif
    for (int n = 0; n <= 15; ++n) {
      uint64_t z = x;  // the loop select_bit replaced
      for (int i = 0; i < n && z; ++i) z &= z - 1;
      const int want = z ? __builtin_ctzll(z) : 64;
      ASSERT_EQ(detail::select_bit(x, n), want) << std::hex << x << std::dec << " n " << n;
#ifdef GEOSHARD_JPEG_HW_BITS
      if (hw) {
        ASSERT_EQ(detail::select_bit_hw(x, n), want) << std::hex << x << std::dec << " n " << n;
      }
#endif
      hits += want < 64;
    }
  }
  EXPECT_GT(hits, 1000000);  // most cases found a bit (not only the "none" answer)
}

// The encoders' mask of nonzero coefficients against the plain loop: random blocks from all
// zero to all nonzero, values of every sign and size (-32768, 1, ...).
TEST(SpliceBits, NonzeroMaskEqualsThePlainLoop) {
  std::mt19937_64 rng(12);
  for (int t = 0; t < 100000; ++t) {
    int16_t v[64];
    const uint64_t keep = t % 3 == 0 ? rng() & rng() : t % 3 == 1 ? rng() : rng() | rng();
    uint64_t want = 0;
    for (int k = 0; k < 64; ++k) {
      int16_t x = static_cast<int16_t>(rng());
      if (t % 5 == 0) x = static_cast<int16_t>(static_cast<int>(rng() % 3) - 1);  // -1, 0, 1
      if (!(keep >> k & 1)) x = 0;
      v[k] = x;
      want |= static_cast<uint64_t>(x != 0) << k;
    }
    if (t == 0) std::fill(std::begin(v), std::end(v), int16_t{0}), want = 0;
    if (t == 1) std::fill(std::begin(v), std::end(v), int16_t{-32768}), want = ~uint64_t{0};
    ASSERT_EQ(detail::nonzero_mask(v), want) << t;
  }
}

// The AVX-512BW natural-to-zigzag permute against the plain copy, on random blocks (every value
// distinct in some, so a misplaced one shows).
TEST(SpliceBits, ZigzagAvx512EqualsThePlainCopy) {
#ifdef GEOSHARD_HOST_AVX2
  if (!__builtin_cpu_supports("avx512bw")) GTEST_SKIP() << "no AVX-512BW here: the plain copy is used";
  EXPECT_TRUE(detail::zigzag_avx512());
  std::mt19937_64 rng(21);
  for (int t = 0; t < 10000; ++t) {
    int16_t natural[64], want[64], got[64];
    for (int k = 0; k < 64; ++k) natural[k] = t % 2 ? static_cast<int16_t>(rng()) : static_cast<int16_t>(k * 37 - 1000);
    detail::to_zigzag(natural, want);
    detail::to_zigzag_avx512(natural, got);
    ASSERT_TRUE(std::equal(got, got + 64, want)) << "block " << t;
  }
  detail::set_simd_blocks(false);
  EXPECT_FALSE(detail::zigzag_avx512());
  detail::set_simd_blocks(true);
#else
  GTEST_SKIP() << "not an x86-64 build: the AVX-512 permute is not compiled";
#endif
}

// kernels/dct.h's islow transform computes 8·F(u, v), the DCT of T.81 A.3.3: against the
// textbook double sum on random blocks (smooth, noisy, extreme), within its fixed-point error.
// A wrong constant, a swapped output or a wrong descale is off by far more.
TEST(SpliceDct, IslowIsTheDct) {
  std::mt19937_64 rng(3);
  const double kPi = 3.14159265358979323846;
  double worst = 0;
  for (int t = 0; t < 3000; ++t) {
    int32_t s[64], got[64];
    for (int i = 0; i < 64; ++i)
      s[i] = t % 4 == 0 ? static_cast<int32_t>(rng() % 256)
             : t % 4 == 1 ? (rng() % 2 ? 255 : 0)
             : t % 4 == 2 ? std::clamp(static_cast<int32_t>(100 + (i % 8) * 9 + (i / 8) * 7 + rng() % 5), 0, 255)
                          : (t / 4 % 2 ? 255 : 0);
    dct::forward_dct_islow(s, got);
    for (int v = 0; v < 8; ++v)
      for (int u = 0; u < 8; ++u) {
        double f = 0;
        for (int y = 0; y < 8; ++y)
          for (int x = 0; x < 8; ++x)
            f += (s[y * 8 + x] - 128.0) * std::cos((2 * x + 1) * u * kPi / 16) * std::cos((2 * y + 1) * v * kPi / 16);
        f *= (u ? 1.0 : std::sqrt(0.5)) * (v ? 1.0 : std::sqrt(0.5)) / 4;
        worst = std::max(worst, std::abs(got[v * 8 + u] - 8 * f));
        ASSERT_LE(std::abs(got[v * 8 + u] - 8 * f), 3.0) << "block " << t << " coefficient (" << u << "," << v << ")";
      }
  }
  EXPECT_GT(worst, 0.1);  // fixed point: not the exact value everywhere (the test compares something)
  std::printf("islow vs the exact DCT: worst |t - 8F| = %.3f\n", worst);
}

// The AVX2 transform and quantisation the rewrite uses against kernels/dct.h's scalar ones, which
// they must equal exactly: random blocks (noise, extremes, flat) and tables 1..255.
TEST(SpliceDct, Avx2EqualsScalar) {
#ifdef GEOSHARD_HOST_AVX2
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 here: only the scalar transform is used";
  std::mt19937_64 rng(4);
  for (int t = 0; t < 20000; ++t) {
    alignas(32) int32_t s[64];
    uint16_t q[64];
    for (int i = 0; i < 64; ++i) {
      s[i] = t % 3 == 0 ? static_cast<int32_t>(rng() % 256) : t % 3 == 1 ? (rng() % 2 ? 255 : 0) : static_cast<int32_t>(t % 256);
      q[i] = static_cast<uint16_t>(1 + rng() % (t % 2 ? 8 : 255));
    }
    const detail::IslowDivisors dv(q);
    ASSERT_TRUE(dv.simd);
    int16_t got[64], want[64];
    dct::forward_dct_quantise(s, q, want);
    detail::forward_dct_avx2(s, dv, got);
    ASSERT_TRUE(std::equal(got, got + 64, want)) << "block " << t;
  }
  uint16_t wide[64];
  std::fill(wide, wide + 64, uint16_t{256});
  EXPECT_FALSE(detail::IslowDivisors(wide).simd);  // such tables take the scalar code
#else
  GTEST_SKIP() << "not an x86-64 build: the AVX2 transform is not compiled";
#endif
}

// Quantisation is round(t / (8·q)) with halves away from zero: the scalar form and the AVX2
// multiply-and-shift against the division in doubles, for every table entry 1..255 and every t
// the transform can give (|t| <= 8192 + a few) and beyond (to ±16384), so every half, every
// whole quotient and every remainder.
TEST(SpliceDct, QuantiseIsRoundHalfAwayFromZero) {
  [[maybe_unused]] const bool avx2 = cpu_has_avx2();
  uint64_t halves = 0, checked = 0;
  for (int q = 1; q <= 255; ++q) {
    uint16_t table[64];
    std::fill(table, table + 64, static_cast<uint16_t>(q));
#ifdef GEOSHARD_HOST_AVX2
    const detail::IslowDivisors dv(table);
#endif
    for (int t0 = -16384; t0 <= 16384; t0 += 64) {
      int32_t t[64];
      int16_t want[64];
      for (int i = 0; i < 64; ++i) {
        t[i] = t0 + i;
        const double x = std::abs(t[i]) / (8.0 * q);
        halves += x - std::floor(x) == 0.5;
        want[i] = static_cast<int16_t>((t[i] < 0 ? -1 : 1) * std::floor(x + 0.5));
        ASSERT_EQ(dct::quantise_one(t[i], table[i]), want[i]) << "t " << t[i] << " q " << q;
      }
#ifdef GEOSHARD_HOST_AVX2
      if (avx2) {
        int16_t got[64];
        detail::quantise_avx2(t, dv, got);
        for (int i = 0; i < 64; ++i) ASSERT_EQ(got[i], want[i]) << "AVX2: t " << t[i] << " q " << q;
      }
#endif
      checked += 64;
    }
  }
  EXPECT_GT(halves, 10000u);
  EXPECT_EQ(checked, 255u * 513 * 64);
  // 16-bit table entries (scalar code): a quotient of 0 or ±1, and the clamp.
  EXPECT_EQ(dct::quantise_one(8200, 1025), 1);
  EXPECT_EQ(dct::quantise_one(-8200, 2051), 0);
  EXPECT_EQ(dct::quantise_one(-8204, 2051), -1);
  if (!avx2) std::printf("no AVX2 here: the AVX2 quantise not checked\n");
}

// The AVX2 colour conversion of a re-encoded block against the plain loop it must equal exactly:
// kernels/dct.h's rgb_to_y/cb/cr of each pixel, summed over the sx × sy pixels of a sample and
// downsampled. Random images, blocks at random positions and the last one that fits, which ends
// at the buffer's last byte (the buffer is exactly the image: an over-read is an ASan finding in
// the sanitizer build), every component and sampling the rewrite uses it for.
TEST(SpliceDct, RgbBlockSamplesEqualThePlainLoop) {
#ifdef GEOSHARD_HOST_AVX2
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 here: the AVX2 colour conversion is not used";
  std::mt19937_64 rng(11);
  int checked = 0;
  for (int t = 0; t < 300; ++t) {
    const int W = 16 + static_cast<int>(rng() % 40), H = 16 + static_cast<int>(rng() % 20);
    std::vector<uint8_t> px(static_cast<size_t>(W) * H * 3);
    for (auto& v : px) v = t % 5 == 0 ? static_cast<uint8_t>(rng() % 2 ? 255 : 0) : static_cast<uint8_t>(rng());
    const int samplings[3][2] = {{1, 1}, {2, 1}, {2, 2}};
    for (const auto& sxy : samplings) {
      const int sx = sxy[0], sy = sxy[1];
      for (int k = 0; k < 6; ++k) {
        // the last block that fits, then random ones (a sample's rounding bias follows its
        // column in the block: blocks start at even sample columns)
        const int xk = k == 0 ? W - 8 * sx : static_cast<int>(rng() % (W - 8 * sx + 1));
        const int y0 = k == 0 ? H - 8 * sy : static_cast<int>(rng() % (H - 8 * sy + 1));
        for (int ci = 0; ci < 3; ++ci) {
          int32_t want[64], got[64];
          for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x) {
              int32_t sum = 0;
              for (int j = 0; j < sy; ++j)
                for (int i = 0; i < sx; ++i) {
                  const uint8_t* p = &px[(static_cast<size_t>(y0 + y * sy + j) * W + xk + x * sx + i) * 3];
                  sum += ci == 0 ? dct::rgb_to_y(p[0], p[1], p[2]) : ci == 1 ? dct::rgb_to_cb(p[0], p[1], p[2])
                                                                          : dct::rgb_to_cr(p[0], p[1], p[2]);
                }
              want[y * 8 + x] = dct::downsample(sum, sx, sy, x);
            }
          detail::rgb_block_samples_avx2(&px[(static_cast<size_t>(y0) * W + xk) * 3], static_cast<size_t>(W) * 3, sx, sy, ci,
                                         got);
          for (int i = 0; i < 64; ++i)
            ASSERT_EQ(got[i], want[i]) << "sampling " << sx << "x" << sy << " component " << ci << " block at " << xk << ","
                                       << y0 << " sample " << i;
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 300 * 3 * 6 * 3);
#else
  GTEST_SKIP() << "not an x86-64 build: the AVX2 colour conversion is not compiled";
#endif
}

// Fills every AC table of every DHT segment of `b` (whose data stays valid): symbols that never
// occur (sizes 11..15, outside 8-bit AC) appended at lengths from the table's longest up to 16,
// until only the all-ones code of length 16 is free. Returns how many tables were filled.
int fill_ac_tables(std::vector<uint8_t>& b) {
  std::vector<uint8_t> out(b.begin(), b.begin() + 2);
  int filled = 0;
  size_t p = 2;
  while (p + 4 <= b.size() && b[p] == 0xFF && b[p + 1] != 0xD9) {
    const size_t len = static_cast<size_t>(b[p + 2]) << 8 | b[p + 3];
    if (b[p + 1] != 0xC4) {
      out.insert(out.end(), b.begin() + p, b.begin() + p + 2 + len);
      p += 2 + len;
      if (b[p - 2 - len + 1] == 0xDA) {  // the scan's data: up to the next marker but RSTn
        size_t e = p;
        while (e + 1 < b.size() && !(b[e] == 0xFF && b[e + 1] != 0 && (b[e + 1] < 0xD0 || b[e + 1] > 0xD7))) ++e;
        out.insert(out.end(), b.begin() + p, b.begin() + e);
        p = e;
      }
      continue;
    }
    std::vector<uint8_t> seg;
    for (size_t i = p + 4; i < p + 2 + len;) {
      uint8_t bits[17] = {};
      size_t n = 0;
      for (int l = 1; l <= 16; ++l) n += bits[l] = b[i + l];
      std::vector<uint8_t> vals(b.begin() + i + 17, b.begin() + i + 17 + n);
      if (b[i] >> 4) {  // AC
        uint32_t used = 0;
        int longest = 1;
        for (int l = 1; l <= 16; ++l) used += static_cast<uint32_t>(bits[l]) << (16 - l), longest = bits[l] ? l : longest;
        int filler = 0;
        for (int l = longest; l <= 16; ++l)
          while (used + (1u << (16 - l)) <= 0xFFFF) {
            used += 1u << (16 - l);
            ++bits[l];
            vals.push_back(static_cast<uint8_t>((filler / 5) << 4 | (11 + filler % 5)));
            ++filler;
          }
        ++filled;
      }
      seg.push_back(b[i]);
      seg.insert(seg.end(), bits + 1, bits + 17);
      seg.insert(seg.end(), vals.begin(), vals.end());
      i += 17 + n;
    }
    out.insert(out.end(), {0xFF, 0xC4, static_cast<uint8_t>((seg.size() + 2) >> 8), static_cast<uint8_t>(seg.size() + 2)});
    out.insert(out.end(), seg.begin(), seg.end());
    p += 2 + len;
  }
  out.insert(out.end(), b.begin() + p, b.end());
  b.swap(out);
  return filled;
}

TEST(SpliceTables, OptimisedTablesGainTheSymbolsTheyLack) {
  // An optimised table holds only the symbols its image used: re-encoding noise in a file made
  // from a smooth picture needs symbols it lacks. They get free codes of length 16 and the DHT
  // is rewritten (check_splice: every table keeps its codes; the output decodes as libjpeg's).
  Image flat{160, 96, 3, std::vector<uint8_t>(160 * 96 * 3)};
  for (size_t i = 0; i < flat.pixels.size(); ++i) flat.pixels[i] = static_cast<uint8_t>(100 + (i / 3 % 160) / 40);
  std::vector<uint8_t> in = encode(flat, 2, 2, 0, /*optimize=*/true);
  Image e = decode_memory(in, "in");
  std::vector<uint8_t> m(static_cast<size_t>(e.width) * e.height, 0);
  scribble(e, m, 40, 30, 90, 70, 9);
  const RewriteStats st = check_splice(in, e, m, /*expect_spliced=*/true);
  EXPECT_GT(st.codes_added, 10u);

  // The same file with its AC tables full (no free code but the all-ones one): it still decodes
  // as before, and the (baseline) splice hands over to libjpeg.
  ASSERT_EQ(fill_ac_tables(in), 2);
  ASSERT_EQ(decode_memory(in, "filled").pixels, decode_memory(encode(flat, 2, 2, 0, true), "orig").pixels);
  const RewriteStats sf = check_splice(in, e, m, /*expect_spliced=*/false);
  EXPECT_NE(sf.fallback_reason.find("no free code"), std::string::npos) << sf.fallback_reason;

  // ... while an edit that needs only symbols the table has adds none: here the "edit" rewrites
  // a block with its own pixels (same coefficients up to rounding).
  const std::vector<uint8_t> rich = encode(picture(203, 151, 3, 3), 2, 2, 0, /*optimize=*/true);
  Image r = decode_memory(rich, "rich");
  std::vector<uint8_t> rm(static_cast<size_t>(r.width) * r.height, 0);
  rm[static_cast<size_t>(50) * r.width + 50] = 1;
  EXPECT_EQ(check_splice(rich, r, rm, true).codes_added, 0u);
}

// The skipper takes several AC symbols per lookup unless they would reach the block's end; this
// runs it over files of every density: quality 100 noise (quantisers of 1: sizes up to 10, most
// blocks ending at coefficient 63 without an EOB), down to quality 5 (EOBs and ZRLs), smooth
// and noisy areas mixed, 4:2:0 and 4:4:4, with and without restart intervals. Standard tables
// hold every symbol, so each file must take the splice.
TEST(SpliceWalk, EveryDensityFromQuality5To100) {
  for (const int quality : {5, 30, 75, 95, 100})
    for (const int samp : {1, 2})
      for (const unsigned restart : {0u, 3u}) {
        SCOPED_TRACE("quality " + std::to_string(quality) + ", sampling " + std::to_string(samp) + ", restart " +
                     std::to_string(restart));
        Image img = picture(211, 97, 3, 21);
        std::vector<uint8_t> unused(static_cast<size_t>(211) * 97, 0);
        scribble(img, unused, 0, 0, 211, 40, 22);  // the top rows: pure noise
        const std::vector<uint8_t> in = encode(img, samp, samp, restart, false, false, quality);
        Image e = decode_memory(in, "in");
        std::vector<uint8_t> m(static_cast<size_t>(e.width) * e.height, 0);
        scribble(e, m, 100, 20, 130, 60, 23);  // across the noise's lower edge
        scribble(e, m, 7, 80, 12, 85, 24);
        const RewriteStats st = check_splice(in, e, m);
        EXPECT_GT(st.mcus_reencoded, 0u);
        EXPECT_LT(st.mcus_reencoded, st.mcus);  // runs of MCUs were skipped, not re-encoded
      }
}

// Progressive files (io/jpeg_splice_progressive.cpp): the same checks as baseline files, over
// libjpeg's default scan script (DC first + refinement, AC bands with successive approximation)
// and two others: spectral selection only (no refinement scans) and one DC scan per component
// with every AC coefficient refined twice. Edits blur, as a blur region does. A progressive
// file's tables are optimised for its own data, and an edit may need symbols they lack: they gain
// codes, or (a table with no free code) the scan is re-encoded with tables of its own.
struct ProgressiveCase {
  const char* name;
  int W, H;
  int samp;  // luma sampling 1 (4:4:4) or 2 (4:2:0); 0 = gray
  int script;  // 0 libjpeg's default, 1 spectral selection only, 2 per-component DC + two refinements
};

std::vector<jpeg_scan_info> scan_script(int script, int ncomp) {
  auto scan = [](std::initializer_list<int> comps, int ss, int se, int ah, int al) {
    jpeg_scan_info s{};
    s.comps_in_scan = static_cast<int>(comps.size());
    int i = 0;
    for (int c : comps) s.component_index[i++] = c;
    s.Ss = ss, s.Se = se, s.Ah = ah, s.Al = al;
    return s;
  };
  std::vector<jpeg_scan_info> v;
  if (script == 1) {
    v.push_back(ncomp == 3 ? scan({0, 1, 2}, 0, 0, 0, 0) : scan({0}, 0, 0, 0, 0));
    for (int c = 0; c < ncomp; ++c) v.push_back(scan({c}, 1, 9, 0, 0)), v.push_back(scan({c}, 10, 63, 0, 0));
  } else if (script == 2) {
    for (int c = 0; c < ncomp; ++c) v.push_back(scan({c}, 0, 0, 0, 2));
    for (int c = 0; c < ncomp; ++c) v.push_back(scan({c}, 1, 63, 0, 2));
    for (int c = 0; c < ncomp; ++c) v.push_back(scan({c}, 0, 0, 2, 1)), v.push_back(scan({c}, 0, 0, 1, 0));
    for (int c = 0; c < ncomp; ++c) v.push_back(scan({c}, 1, 20, 2, 1)), v.push_back(scan({c}, 21, 63, 2, 1));
    for (int c = ncomp - 1; c >= 0; --c) v.push_back(scan({c}, 1, 63, 1, 0));
  }
  return v;
}

// The progressive walk uses the portable bit counts while one lives (io/jpeg_bits.h set_hw_bits),
// also when a test leaves its scope early.
struct PortableWalk {
  PortableWalk() { detail::set_hw_bits(false); }
  ~PortableWalk() { detail::set_hw_bits(true); }
  PortableWalk(const PortableWalk&) = delete;
  PortableWalk& operator=(const PortableWalk&) = delete;
};

class ProgressiveSplice : public ::testing::TestWithParam<ProgressiveCase> {};

TEST_P(ProgressiveSplice, MatchesLibjpegPathAndCopiesTheRest) {
  const ProgressiveCase c = GetParam();
  const int ch = c.samp ? 3 : 1;
  testing::JpegOptions o;
  o.quality = 90, o.h_samp = std::max(1, c.samp), o.v_samp = std::max(1, c.samp), o.progressive = true;
  o.scans = scan_script(c.script, ch);
  o.markers = {{JPEG_APP0 + 1, std::string("Exif\0\0", 6) + "MM\0*fake-tiff-payload-with-GPS"},
               {JPEG_COM, "made by the progressive splice test"}};
  // The picture with a band of noise at the top: the tables (always optimised in a progressive
  // file) then hold the long runs and large sizes as well, as a real photo's do.
  Image pic = picture(c.W, c.H, ch, 17);
  std::vector<uint8_t> unused(static_cast<size_t>(c.W) * c.H, 0);
  scribble(pic, unused, 0, 0, c.W, c.H / 6, 18);
  const std::vector<uint8_t> in =
      testing::encode_jpeg(pic.pixels.data(), c.W, c.H, ch, static_cast<size_t>(c.W) * ch, o);
  const Image orig = decode_memory(in, "in");
  int spliced = 0, runs = 0;
  auto run = [&](auto&& edit) {
    Image e = orig;
    std::vector<uint8_t> m(static_cast<size_t>(c.W) * c.H, 0);
    edit(e, m);
    std::vector<uint8_t> out;
    const bool spliced_here = rewrite_blocks(in, "in", e, m, out).spliced;
    const RewriteStats st = check_splice(in, e, m, spliced_here);
    ++runs;
    if (st.spliced) {
      ++spliced;
      EXPECT_GT(st.intervals, 1u);  // scans
      EXPECT_LE(st.mcus_reencoded, st.mcus);
    } else {
      std::printf("%s: libjpeg path: %s\n", c.name, st.fallback_reason.c_str());
    }
  };
  auto edits = [&] {
    run([&](Image& e, std::vector<uint8_t>& m) {  // a face-sized box, and the last MCU
      smear(e, m, c.W / 3, c.H / 3, c.W / 3 + std::max(2, c.W / 6), c.H / 3 + std::max(2, c.H / 5));
      smear(e, m, c.W - 3, c.H - 2, c.W, c.H);
    });
    // Every block touched but the pixels kept: every block re-encoded from coefficients requantised
    // from its own pixels (mostly the same symbols, so it mostly splices).
    run([&](Image&, std::vector<uint8_t>& m) { std::fill(m.begin(), m.end(), 1); });
    run([&](Image& e, std::vector<uint8_t>& m) { smear(e, m, 0, 0, 1, 1); });  // the first pixel
    run([&](Image& e, std::vector<uint8_t>& m) { smear(e, m, 0, 0, c.W, c.H); });  // everything
    run([&](Image& e, std::vector<uint8_t>& m) {  // scattered boxes: EOB runs cut everywhere
      std::mt19937 rng(31);
      for (int k = 0; k < 25; ++k) {
        const int x = static_cast<int>(rng() % c.W), y = static_cast<int>(rng() % c.H);
        smear(e, m, x, y, x + 2 + static_cast<int>(rng() % 24), y + 2 + static_cast<int>(rng() % 24));
      }
    });
  };
  // The refinement walk with POPCNT + BMI2 (where this CPU has them), then with the portable counts.
  if (detail::hw_bits()) edits();
  else std::printf("%s: no POPCNT + BMI2 here: only the portable walk\n", c.name);
  {
    const PortableWalk scope;
    edits();
  }
  // Symbols the tables lack are added to them, or the scan gets tables of its own: every edit
  // splices.
  EXPECT_EQ(spliced, runs);
}

INSTANTIATE_TEST_SUITE_P(
    Files, ProgressiveSplice,
    ::testing::Values(ProgressiveCase{"p420", 643, 361, 2, 0}, ProgressiveCase{"p444", 643, 361, 1, 0},
                      ProgressiveCase{"pgray", 643, 361, 0, 0}, ProgressiveCase{"p420_spectral", 643, 361, 2, 1},
                      ProgressiveCase{"p444_spectral", 480, 320, 1, 1}, ProgressiveCase{"p420_refine", 643, 361, 2, 2},
                      ProgressiveCase{"pgray_refine", 361, 643, 0, 2}, ProgressiveCase{"p420_9x17", 9, 17, 2, 0},
                      ProgressiveCase{"p420_small", 203, 151, 2, 0}, ProgressiveCase{"p420_wide", 517, 33, 2, 0},
                      ProgressiveCase{"p444_refine_wide", 517, 33, 1, 2}),
    [](const ::testing::TestParamInfo<ProgressiveCase>& i) { return std::string(i.param.name); });

// Noise in a progressive file: optimised tables lack the symbols. With free codes they gain them;
// with every table full (fill_ac_tables: the data still decodes the same), the AC scans that
// need them are re-encoded with tables of their own.
TEST(SpliceTables, ProgressiveNoiseSplices) {
  std::vector<uint8_t> in = encode(picture(203, 151, 3, 5), 2, 2, 0, false, /*progressive=*/true);
  Image e = decode_memory(in, "in");
  std::vector<uint8_t> m(static_cast<size_t>(e.width) * e.height, 0), out;
  scribble(e, m, 40, 30, 90, 70, 9);
  const RewriteStats st = check_splice(in, e, m, true);
  EXPECT_GT(st.codes_added + st.scans_recoded, 0u);

  const Image before = decode_memory(in, "in");
  ASSERT_GE(fill_ac_tables(in), 6);  // (libjpeg's script: one DHT per AC scan)
  ASSERT_EQ(decode_memory(in, "filled").pixels, before.pixels);
  const RewriteStats sf = check_splice(in, e, m, true);
  EXPECT_GT(sf.scans_recoded, 0u);
  EXPECT_LT(sf.scans_recoded, sf.intervals);  // (scans without a touched block are copied)
}

TEST(SpliceTables, TrailingBytesAfterEoiAreKept) {
  std::vector<uint8_t> in = encode(picture(64, 48, 3, 6), 2, 2, 0);
  const std::vector<uint8_t> trailer = {'T', 'R', 'A', 'I', 'L', 0xFF, 0x00, 0xFF};
  in.insert(in.end(), trailer.begin(), trailer.end());
  Image e = decode_memory(in, "in");
  std::vector<uint8_t> m(static_cast<size_t>(e.width) * e.height, 0), out;
  scribble(e, m, 10, 10, 20, 20, 1);
  const RewriteStats st = rewrite_blocks(in, "in", e, m, out);
  EXPECT_TRUE(st.spliced);
  ASSERT_GE(out.size(), trailer.size());
  EXPECT_TRUE(std::equal(trailer.begin(), trailer.end(), out.end() - trailer.size()));
}

// Warnings libjpeg itself emits while reading the whole file (jpeg_read_coefficients), with no
// help from geoshard's error manager.
long raw_libjpeg_warnings(const std::vector<uint8_t>& b) {
  jpeg_decompress_struct d;
  jpeg_error_mgr err;
  d.err = jpeg_std_error(&err);
  err.output_message = [](j_common_ptr) {};
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, b.data(), static_cast<unsigned long>(b.size()));
  jpeg_read_header(&d, TRUE);
  jpeg_read_coefficients(&d);
  jpeg_finish_decompress(&d);
  jpeg_destroy_decompress(&d);
  return err.num_warnings;
}

// Found by fuzz_jpeg: junk at the end of a restart interval that libjpeg skips without a warning
// (its bit buffer had already met the RST marker). Such a file must be refused when it is
// decoded -- blur decodes every image before it rewrites it -- or the splice copies the
// interval verbatim and the output draws libjpeg's warning at a later marker search.
TEST(SpliceRobustness, ExtraneousBytesBeforeARestartMarkerAreRefused) {
  const std::vector<uint8_t> good = encode(picture(64, 48, 3, 9), 2, 1, 2);
  const size_t s = scan_start(good);
  ASSERT_GT(s, 0u);
  int unreported_by_libjpeg = 0, cases = 0;
  for (size_t at = s; at + 1 < good.size(); ++at) {
    if (good[at] != 0xFF || good[at + 1] < 0xD0 || good[at + 1] > 0xD7) continue;  // an RSTn marker
    for (int k = 1; k <= 8; ++k) {
      std::vector<uint8_t> bad = good;
      bad.insert(bad.begin() + static_cast<std::ptrdiff_t>(at), static_cast<size_t>(k), 0x5A);
      ++cases;
      unreported_by_libjpeg += raw_libjpeg_warnings(bad) == 0;
      try {
        decode_memory(bad, "junk.jpg");
        ADD_FAILURE() << k << " junk bytes before the RST marker at " << at << " were accepted";
      } catch (const JpegError& e) {
        EXPECT_NE(std::string(e.what()).find("extraneous bytes"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("junk.jpg"), std::string::npos) << e.what();
      }
      EXPECT_THROW(read_coefficients(bad, "junk.jpg"), JpegError);
    }
  }
  EXPECT_GE(cases, 8 * 10);
  // The case the fix is for must be among them (else this test proves nothing new).
  EXPECT_GT(unreported_by_libjpeg, 0) << "libjpeg reported every case itself";
}

TEST(SpliceRobustness, TruncatedAndCorruptFilesNeverCrash) {
  for (const unsigned restart : {0u, 2u, 99u}) {  // 99: progressive, no restart intervals
    const bool progressive = restart == 99;
    std::vector<uint8_t> good;
    if (progressive) {
      // An edit of the file's own pixels: it takes the splice (checked below), so the
      // corruptions reach the progressive walk.
      good = encode(picture(96, 64, 3, 8), 2, 2, 0, false, true);
    } else {
      good = encode(picture(96, 64, 3, 8), 2, 2, restart);
    }
    const Image img = decode_memory(good, "good");
    std::vector<uint8_t> mask(static_cast<size_t>(img.width) * img.height, 0), out;
    Image e = img;
    if (progressive) {  // the first 16 x 16 box (own pixels) whose edit splices
      std::vector<uint8_t> o;
      bool spliced = false;
      for (int k = 0; k < 24 && !spliced; ++k) {
        std::fill(mask.begin(), mask.end(), 0);
        const int x0 = k % 6 * 16, y0 = k / 6 * 16;
        for (int y = y0; y < y0 + 16; ++y) std::fill_n(mask.begin() + y * img.width + x0, 16, 1);
        spliced = rewrite_blocks(good, "good", e, mask, o).spliced;
      }
      ASSERT_TRUE(spliced);
    } else {
      scribble(e, mask, 30, 20, 50, 40, 1);
    }
    const size_t s = scan_start(good);
    auto attempt = [&](const std::vector<uint8_t>& bad, const char* what, size_t at) {
      try {
        const RewriteStats st = rewrite_blocks(bad, "bad.jpg", e, mask, out);
        // Accepted: the output must be a JPEG libjpeg reads back without a crash. Without
        // restart intervals the splice decodes every MCU, so libjpeg must agree it is clean.
        if ((restart == 0 || progressive) && st.spliced) {
          EXPECT_NO_THROW(decode_memory(bad, "bad")) << what << " at " << at << ": splice accepted a corrupt file";
        }
        try {
          read_coefficients(out, "out");
        } catch (const JpegError&) {
        }
      } catch (const JpegError& err) {
        EXPECT_NE(std::string(err.what()).find("bad.jpg"), std::string::npos) << err.what();
      }
    };
    for (size_t n = s - 4; n < good.size(); n += std::max<size_t>(1, (good.size() - s) / 60)) {
      attempt(std::vector<uint8_t>(good.begin(), good.begin() + n), "truncated", n);
    }
    std::mt19937 rng(restart + 1);
    for (int k = 0; k < 600; ++k) {
      std::vector<uint8_t> bad = good;
      const size_t at = s + rng() % (good.size() - s - 2);
      switch (k % 4) {
        case 0: bad[at] = static_cast<uint8_t>(rng()); break;                 // one byte
        case 1: bad[at] = static_cast<uint8_t>(rng()), bad[at + 1] = 0xFF; break;  // a stray 0xFF
        case 2: bad.erase(bad.begin() + static_cast<std::ptrdiff_t>(at)); break;  // a byte lost
        default:                                                              // a burst of garbage to the end
          for (size_t i = at; i + 2 < bad.size(); ++i) bad[i] = static_cast<uint8_t>(rng() % 255);
      }
      attempt(bad, "corrupted", at);
    }
    // Every value of each byte of the SOS segment (table slots 0..15, component ids, Ss/Se/Ah/Al).
    for (size_t at = s - 10; at < s; ++at)
      for (int v = 0; v < 256; v += 3) {
        std::vector<uint8_t> bad = good;
        bad[at] = static_cast<uint8_t>(v);
        attempt(bad, "SOS", at);
      }
    // Header corruption too (before the scan).
    for (int k = 0; k < 200; ++k) {
      std::vector<uint8_t> bad = good;
      bad[2 + rng() % (s - 2)] = static_cast<uint8_t>(rng());
      attempt(bad, "header", 0);
    }
  }
}

TEST(SpliceRealData, RealPhotosMatchLibjpegPath) {
  int files = 0;
  for (const char* sub : {"faces", "pano360"}) {
    const std::filesystem::path dir = std::filesystem::path(GEOSHARD_SHARED_DATA) / sub;
    if (!std::filesystem::exists(dir)) {
      std::printf("skipping %s: no such directory (../shared/data absent)\n", dir.c_str());
      continue;
    }
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      if (f.path().extension() != ".jpg") continue;
      const std::vector<uint8_t> in = read_file(f.path().string());
      Image e = decode_memory(in, f.path().string());
      if (static_cast<size_t>(e.width) * e.height > 40'000'000) continue;
      std::vector<uint8_t> m(static_cast<size_t>(e.width) * e.height, 0);
      for (int k = 0; k < 6; ++k)
        smear(e, m, e.width * (k + 1) / 8, e.height * (k % 3 + 1) / 5, e.width * (k + 1) / 8 + e.width / 20 + 1,
              e.height * (k % 3 + 1) / 5 + e.height / 16 + 1);
      smear(e, m, e.width - 5, e.height - 5, e.width, e.height);  // the last MCU
      std::vector<uint8_t> out;
      const RewriteStats st = rewrite_blocks(in, f.path().string(), e, m, out);
      std::printf("%s: %s%s, %llu of %llu MCUs re-encoded, %llu of %llu intervals copied\n", f.path().filename().c_str(),
                  st.spliced ? "splice" : "libjpeg: ", st.fallback_reason.c_str(), (unsigned long long)st.mcus_reencoded,
                  (unsigned long long)st.mcus, (unsigned long long)st.intervals_copied, (unsigned long long)st.intervals);
      check_splice(in, e, m, st.spliced);
      if (detail::hw_bits()) {  // again with the portable bit counts (they differ only in progressive files)
        const PortableWalk scope;
        const RewriteStats portable = check_splice(in, e, m, st.spliced);
        std::printf("%s: the portable walk too: %s, %llu MCUs re-encoded\n", f.path().filename().c_str(),
                    portable.spliced ? "splice" : "libjpeg", (unsigned long long)portable.mcus_reencoded);
      }
      ++files;
    }
  }
  if (files == 0) GTEST_SKIP() << "no real photos under " << GEOSHARD_SHARED_DATA << "/{faces,pano360}";
}

}  // namespace
}  // namespace geoshard::jpeg
