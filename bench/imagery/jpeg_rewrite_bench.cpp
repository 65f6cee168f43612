// Writing the lossless output (issue 4: "≥ 3× faster than a full decode + re-encode"):
// jpeg::rewrite_blocks (io/jpeg_region.h; the splice for baseline files) against
//   full:     cv::imdecode + cv::imencode at the file's quality (what a pixel-level tool does),
//   encode:   cv::imencode alone (the earlier, stricter baseline of imagery_bench),
//   libjpeg:  rewrite_blocks forced onto libjpeg's coefficient path, with and without
//             optimize_coding,
// on one thread (cv::setNumThreads(1)), best of N rounds (candidates interleaved in each round), for 0, 1, 40 and 400 face-sized regions
// (--regions; 96 × 120 px at 5.7K: 1/60 of the width; up to 40 spread over the middle third of
// the picture, more over all of it) blurred in the picture, and for three encodings of
// the same picture: baseline (cv::imencode, no restart markers), baseline with a restart marker
// every MCU row, progressive (always the libjpeg path). With --planar, the same for a planar
// photo resized to 4000 × 3000 (12 MP; regions of 1/60 of its width too).
//
//   jpeg_rewrite_bench --equirect mountain-no-people-equirect.jpg [--planar PHOTO.jpg] [--scale-to 5760] [--quality 92] [--repeat 3]
//                      [--regions 0,1,40,400] [--encodings baseline,progressive]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/jpeg_bits.h"
#include "io/jpeg_region.h"

using namespace geoshard;
using Clock = std::chrono::steady_clock;

static double thread_cpu() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Best of `repeat` rounds, the candidates interleaved within each round (the machine is shared:
// a busy moment then slows all candidates of that round rather than one of them). Both the wall
// time and this thread's CPU time (everything here runs on the calling thread: OpenCV has one
// thread); on a loaded machine the CPU time is the fairer of the two.
struct Best {
  std::vector<double> wall, cpu;
};
static Best best_interleaved(int repeat, const std::vector<std::function<void()>>& fs) {
  Best b{std::vector<double>(fs.size(), 1e300), std::vector<double>(fs.size(), 1e300)};
  for (int r = 0; r < repeat; ++r)
    for (size_t i = 0; i < fs.size(); ++i) {
      const auto t = Clock::now();
      const double c = thread_cpu();
      fs[i]();
      b.cpu[i] = std::min(b.cpu[i], thread_cpu() - c);
      b.wall[i] = std::min(b.wall[i], std::chrono::duration<double>(Clock::now() - t).count());
    }
  return b;
}

int main(int argc, char** argv) {
  std::string equirect_path, planar_path;
  int scale_to = 5760, repeat = 3, quality = 92;
  CLI::App app{"lossless JPEG rewrite vs full decode + re-encode"};
  app.add_option("--equirect", equirect_path, "A 2:1 JPEG")->required();
  app.add_option("--planar", planar_path, "A planar JPEG, resized to 4000 x 3000 (12 MP)");
  app.add_option("--scale-to", scale_to, "Resize to this width first (5760 = 5.7K)");
  app.add_option("--quality", quality, "JPEG quality of the test file and of the re-encode");
  app.add_option("--repeat", repeat, "Best of N");
  std::vector<int> region_counts{0, 1, 40, 400};
  app.add_option("--regions", region_counts,
                 "Region counts to blur, comma-separated (up to 40: over the middle third of the picture; more: over all of it)")
      ->delimiter(',')
      ->check(CLI::Range(0, 100000));
  std::vector<std::string> encoding_names;
  app.add_option("--encodings", encoding_names, "Only these encodings (baseline, baseline+RST/row, progressive); default all")
      ->delimiter(',')
      ->check(CLI::IsMember({"baseline", "baseline+RST/row", "progressive"}));
  int profile = 0;
  app.add_option("--profile", profile, "Only run rewrite_blocks N times on one file (for perf)");
  std::string profile_picture = "equirect";
  app.add_option("--profile-picture", profile_picture, "With --profile: the picture (equirect, or planar with --planar)")
      ->check(CLI::IsMember({"equirect", "planar"}));
  int profile_regions = 40;
  app.add_option("--profile-regions", profile_regions, "With --profile: the region count");
  std::string profile_encoding = "baseline";
  app.add_option("--profile-encoding", profile_encoding,
                 "With --profile: the first encoding whose name starts with this (baseline, progressive, ...)");
  bool portable_bits = false;
  app.add_flag("--portable-bits", portable_bits,
               "The progressive walk without POPCNT / BMI2 even where the CPU has them (to compare the two)");
  CLI11_PARSE(app, argc, argv);
  if (portable_bits) geoshard::jpeg::detail::set_hw_bits(false);
  std::printf("progressive walk bit counts: %s\n", geoshard::jpeg::detail::hw_bits() ? "POPCNT + BMI2" : "portable");
  cv::setNumThreads(1);
  std::printf("OpenCV threads: %d\n", cv::getNumThreads());

  std::vector<std::pair<std::string, cv::Mat>> pictures;
  cv::Mat equirect = cv::imread(equirect_path);
  if (equirect.empty()) return std::fprintf(stderr, "cannot read %s\n", equirect_path.c_str()), 1;
  if (scale_to > 0 && equirect.cols != scale_to)
    cv::resize(equirect, equirect, cv::Size(scale_to, scale_to / 2), 0, 0, cv::INTER_CUBIC);
  pictures.emplace_back("equirect", equirect);
  if (!planar_path.empty()) {
    cv::Mat photo = cv::imread(planar_path);
    if (photo.empty()) return std::fprintf(stderr, "cannot read %s\n", planar_path.c_str()), 1;
    cv::resize(photo, photo, cv::Size(4000, 3000), 0, 0, cv::INTER_CUBIC);
    pictures.emplace_back("planar", photo);
  }
  for (const auto& [kind, picture] : pictures) {
    if (profile && kind != profile_picture) continue;
    const cv::Mat& pano = picture;
    const int W = pano.cols, H = pano.rows;
    const int side = std::max(16, W / 60), tall = side * 5 / 4;

    struct Encoding {
      const char* name;
      std::vector<int> params;
    };
    const int mcu_row = (W + 15) / 16;  // 4:2:0 MCUs per row
    const Encoding encodings[] = {
        {"baseline", {cv::IMWRITE_JPEG_QUALITY, quality}},
        {"baseline+RST/row", {cv::IMWRITE_JPEG_QUALITY, quality, cv::IMWRITE_JPEG_RST_INTERVAL, mcu_row}},
        {"progressive", {cv::IMWRITE_JPEG_QUALITY, quality, cv::IMWRITE_JPEG_PROGRESSIVE, 1}},
    };
    std::printf("%s picture %dx%d (%.1f MP), quality %d, regions %dx%d, best of %d\n", kind.c_str(), W, H,
                W * double(H) / 1e6, quality, side, tall, repeat);
    std::printf("times: thread CPU seconds, best of %d interleaved rounds (wall-clock ratio in the last column)\n", repeat);
    std::printf("| file | regions | blocks rewritten | path | MCUs re-encoded | rewrite s | libjpeg opt s | libjpeg std s | "
                "imdecode+imencode s | imencode s | ratio full/rewrite | ratio encode/rewrite | out size vs in | wall: rewrite s, full s, ratio |\n");
    std::printf("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (const Encoding& enc : encodings) {
      if (profile && std::string(enc.name).rfind(profile_encoding, 0) != 0) continue;
      if (!encoding_names.empty() && std::find(encoding_names.begin(), encoding_names.end(), enc.name) == encoding_names.end())
        continue;
      std::vector<uchar> jpg;
      cv::imencode(".jpg", pano, jpg, enc.params);
      const std::vector<uint8_t> bytes(jpg.begin(), jpg.end());
      const jpeg::Image orig = jpeg::decode_memory(bytes, enc.name);
      cv::Mat decoded = cv::imdecode(jpg, cv::IMREAD_COLOR);
      std::vector<uchar> full;
      for (int nregions : profile ? std::vector<int>{profile_regions} : region_counts) {
        jpeg::Image img = orig;
        std::vector<uint8_t> changed(static_cast<size_t>(W) * H, 0);
        cv::Mat rgb(H, W, CV_8UC3, img.pixels.data());
        for (int k = 0; k < nregions; ++k) {
          // Up to 40: spread over the middle third (where faces are in a panorama), as
          // imagery_bench; more: over the whole picture.
          const int x0 = (k * 997) % (W - side);
          const int y0 = nregions <= 40 ? H / 3 + (k * 577) % (H / 3) : (k * 577) % (H - tall);
          const cv::Rect r(x0, y0, side, tall);
          cv::Mat roi = rgb(r);
          cv::blur(roi.clone(), roi, cv::Size(side / 4, side / 4));
          for (int y = r.y; y < r.y + r.height; ++y) std::fill_n(&changed[static_cast<size_t>(y) * W + r.x], r.width, 1);
        }
        std::vector<uint8_t> out, out_opt, out_std;
        jpeg::RewriteStats st, so, ss;
        if (profile) {
          const Best b = best_interleaved(profile, {[&] { st = jpeg::rewrite_blocks(bytes, enc.name, img, changed, out); }});
          std::printf("%s: rewrite_blocks best of %d: %.4f s CPU, %.4f s wall (%s)\n", enc.name, profile, b.cpu[0], b.wall[0],
                      st.spliced ? "splice" : "libjpeg");
          return 0;
        }
        jpeg::RewriteOptions opt, std_tables;
        opt.path = std_tables.path = jpeg::RewritePath::libjpeg;
        std_tables.optimize_coding = false;
        const Best b = best_interleaved(
            repeat, {[&] { st = jpeg::rewrite_blocks(bytes, enc.name, img, changed, out); },
                     [&] { so = jpeg::rewrite_blocks(bytes, enc.name, img, changed, out_opt, opt); },
                     [&] { ss = jpeg::rewrite_blocks(bytes, enc.name, img, changed, out_std, std_tables); },
                     [&] {  // the baseline: decode the file, re-encode it whole. Decoded into the
                            // same Mat every time, as a loop over photos would: a fresh 36-50 MB
                            // buffer is mmap()ed and page-faulted in anew on every call, which on
                            // this VM made the peer up to 2.5x slower and erratic (2026-12-05).
                       cv::imdecode(jpg, cv::IMREAD_COLOR, &decoded);
                       cv::imencode(".jpg", decoded, full, {cv::IMWRITE_JPEG_QUALITY, quality});
                     },
                     [&] { cv::imencode(".jpg", decoded, full, {cv::IMWRITE_JPEG_QUALITY, quality}); }});
        const std::vector<double>& t = b.cpu;
        const double t_rw = t[0], t_opt = t[1], t_std = t[2], t_full = t[3], t_encode = t[4];
        std::printf("| %s (%.2f MB) | %d | %llu of %llu | %s | %llu of %llu | %.4f | %.4f | %.4f | %.4f | %.4f | %.2f | %.2f | "
                    "%+.2f %% (libjpeg opt %+.2f %%, std %+.2f %%) | %.4f, %.4f, %.2f |\n",
                    enc.name, bytes.size() / 1e6, nregions, (unsigned long long)st.blocks_rewritten,
                    (unsigned long long)st.blocks, st.spliced ? "splice" : "libjpeg", (unsigned long long)st.mcus_reencoded,
                    (unsigned long long)st.mcus, t_rw, t_opt, t_std, t_full, t_encode, t_full / t_rw, t_encode / t_rw,
                    100.0 * (double(out.size()) / bytes.size() - 1), 100.0 * (double(out_opt.size()) / bytes.size() - 1),
                    100.0 * (double(out_std.size()) / bytes.size() - 1), b.wall[0], b.wall[3], b.wall[3] / b.wall[0]);
        if (st.blocks_rewritten != so.blocks_rewritten) std::printf("MISMATCH: blocks rewritten differ between paths\n");
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
