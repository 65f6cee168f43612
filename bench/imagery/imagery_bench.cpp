// Imagery stages against OpenCV baselines on the same image, in the same run, one thread:
//   views:  render_equirect_view (kernels/projection.h: exact coordinates at tile corners,
//           interpolated in between, 7-bit bilinear) vs cv::remap(INTER_LINEAR, BORDER_WRAP) with
//           maps precomputed (map building reported apart); render_equirect_view_exact (the exact
//           per-pixel math, the renderer before the tiles) once, and the largest difference to it
//   blur:   blur_region gaussian on face-sized regions vs cv::GaussianBlur of each region's box
//           (+ a masked copy), same sigma
//   encode: io/jpeg_region rewrite_blocks (only touched blocks) vs cv::imencode(".jpg") of the
//           whole image (the full re-encode a pixel-level tool does; decoding is the same for both)
//   chain:  find_regions on the equirect with the given models: total vs the bare detector calls
//           (the engine's own overhead: views, back-projection, merging)
//
// OpenCV runs on one thread (cv::setNumThreads(1)) for the views, blur and encode comparisons, so
// they compare one thread with one thread; the chain stage gets OpenCV's default pool back (the
// detectors' own speed is not what it measures).
//
//   imagery_bench --equirect PANO.jpg [--planar PHOTO.jpg] [--scale-to 5760] [--models M.toml] [--repeat 3]
//                 [--views-only]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/jpeg_region.h"
#include "jobs/blur/anonymise.h"
#include "kernels/batch.h"
#include "kernels/projection.h"

using namespace geoshard;
using Clock = std::chrono::steady_clock;

static double secs(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

template <class F>
static double best_of(int repeat, F f) {
  double best = 1e300;
  for (int r = 0; r < repeat; ++r) {
    const auto t = Clock::now();
    f();
    best = std::min(best, secs(t));
  }
  return best;
}

int main(int argc, char** argv) {
  std::string equirect_path, planar_path, models;
  int scale_to = 5760, repeat = 3;
  CLI::App app{"imagery stages vs OpenCV baselines"};
  app.add_option("--equirect", equirect_path, "A 2:1 JPEG")->required();
  app.add_option("--planar", planar_path, "A planar JPEG (scaled to 12 MP)");
  app.add_option("--scale-to", scale_to, "Resize the equirect to this width first (5760 = 5.7K)");
  app.add_option("--models", models, "Models file for the chain stage (default: shipped)");
  app.add_option("--repeat", repeat, "Best of N");
  bool views_only = false;
  app.add_flag("--views-only", views_only, "Only the views stage");
  CLI11_PARSE(app, argc, argv);

  const int cv_default_threads = cv::getNumThreads();
  cv::setNumThreads(1);
  std::printf("OpenCV threads: %d (cv::setNumThreads(1): one thread vs one thread; default pool %d)\n",
              cv::getNumThreads(), cv_default_threads);

  cv::Mat pano = cv::imread(equirect_path);
  if (pano.empty()) return std::fprintf(stderr, "cannot read %s\n", equirect_path.c_str()), 1;
  if (scale_to > 0 && pano.cols != scale_to) cv::resize(pano, pano, cv::Size(scale_to, scale_to / 2), 0, 0, cv::INTER_CUBIC);
  const int W = pano.cols, H = pano.rows;
  const projection::Equirect e{W, H};
  const double fov = projection::rad(75), overlap = projection::rad(15);
  const int nv = projection::equirect_views(e, fov, overlap, nullptr, 0);
  std::vector<projection::View> views(nv);
  projection::equirect_views(e, fov, overlap, views.data(), nv);
  double out_mp = 0;
  for (const auto& v : views) out_mp += v.width * double(v.height) / 1e6;
  std::printf("equirect %dx%d (%.1f MP): %d views of %dx%d = %.1f MP, oversampling %.3f\n", W, H, W * double(H) / 1e6, nv,
              views[0].width, views[0].height, out_mp, projection::view_oversampling(views[0], e));

  // ---- views ----
  std::vector<cv::Mat> out(nv);
  for (int k = 0; k < nv; ++k) out[k].create(views[k].height, views[k].width, CV_8UC3);
  const double t_ours = best_of(repeat, [&] {
    for (int k = 0; k < nv; ++k)
      render_equirect_view(pano.data, W, H, 3, pano.step, views[k], out[k].data, out[k].step);
  });
  // The exact per-pixel reference (the renderer before the tiles), once: it is slow.
  std::vector<cv::Mat> out_exact(nv);
  for (int k = 0; k < nv; ++k) out_exact[k].create(views[k].height, views[k].width, CV_8UC3);
  const double t_exact = best_of(1, [&] {
    for (int k = 0; k < nv; ++k)
      render_equirect_view_exact(pano.data, W, H, 3, pano.step, views[k], out_exact[k].data, out_exact[k].step);
  });
  ViewTilingStats tiling;
  int max_diff = 0;
  double sum_diff = 0;
  for (int k = 0; k < nv; ++k) {
    std::vector<int64_t> qu(views[k].width * size_t(views[k].height)), qv(qu.size());
    const ViewTilingStats s = equirect_view_positions(W, H, views[k], qu.data(), qv.data());
    for (int i = 0; i <= projection::kViewTileShift; ++i) tiling.interpolated_tiles[i] += s.interpolated_tiles[i];
    tiling.interpolated_pixels += s.interpolated_pixels, tiling.exact_pixels += s.exact_pixels;
    tiling.nodes += s.nodes, tiling.bounds += s.bounds;
    cv::Mat d;
    cv::absdiff(out[k], out_exact[k], d);
    double mx_d;
    cv::minMaxLoc(d.reshape(1), nullptr, &mx_d);
    max_diff = std::max(max_diff, static_cast<int>(mx_d));
    sum_diff += cv::sum(d)[0] + cv::sum(d)[1] + cv::sum(d)[2];
  }
  std::vector<cv::Mat> mx(nv), my(nv);
  const auto tm = Clock::now();
  for (int k = 0; k < nv; ++k) {
    mx[k].create(views[k].height, views[k].width, CV_32F);
    my[k].create(views[k].height, views[k].width, CV_32F);
    for (int y = 0; y < views[k].height; ++y)
      for (int x = 0; x < views[k].width; ++x) {
        double u, v;
        projection::view_to_equirect(views[k], e, x, y, &u, &v);
        mx[k].at<float>(y, x) = static_cast<float>(u);
        my[k].at<float>(y, x) = static_cast<float>(std::clamp(v, 0.0, H - 1.0));  // remap cannot cross a pole
      }
  }
  const double t_maps = secs(tm);
  const double t_remap = best_of(repeat, [&] {
    for (int k = 0; k < nv; ++k) cv::remap(pano, out[k], mx[k], my[k], cv::INTER_LINEAR, cv::BORDER_WRAP);
  });
  const double ms_per_mp = 1e3 / out_mp;
  std::printf("| views | geoshard render_equirect_view | %.3f s | %.1f MP/s | %.2f ms per output MP |\n", t_ours,
              out_mp / t_ours, t_ours * ms_per_mp);
  std::printf("| views | geoshard render_equirect_view_exact (per-pixel reference) | %.3f s | %.1f MP/s | %.2f ms per output MP |\n",
              t_exact, out_mp / t_exact, t_exact * ms_per_mp);
  std::printf("| views | tiles: %.1f %% of pixels interpolated (16/8/4/2 px tiles: %lld/%lld/%lld/%lld), %.1f %% exact; "
              "%.3f exact evaluations per pixel; vs exact render: max %d levels, mean %.4f |\n",
              100.0 * tiling.interpolated_pixels / (out_mp * 1e6), (long long)tiling.interpolated_tiles[4],
              (long long)tiling.interpolated_tiles[3], (long long)tiling.interpolated_tiles[2],
              (long long)tiling.interpolated_tiles[1], 100.0 * tiling.exact_pixels / (out_mp * 1e6),
              tiling.nodes / (out_mp * 1e6), max_diff, sum_diff / (out_mp * 3e6));
  std::printf("| views | cv::remap INTER_LINEAR BORDER_WRAP (maps ready) | %.3f s | %.1f MP/s | %.2f ms per output MP |\n",
              t_remap, out_mp / t_remap, t_remap * ms_per_mp);
  std::printf("| views | building remap's maps (geoshard exact math) | %.3f s | | %.2f ms per output MP |\n", t_maps,
              t_maps * ms_per_mp);
  std::printf("| views | ratio geoshard / remap (time) | %.2f | | with map building: %.2f |\n", t_ours / t_remap,
              t_ours / (t_remap + t_maps));
  if (views_only) return 0;

  // ---- blur: 40 face-sized regions (1.5 % of the width) ----
  cv::Mat work = pano.clone();
  const int side = std::max(16, W / 60);
  std::vector<std::vector<double>> us, vs;
  for (int k = 0; k < 40; ++k) {
    const double x0 = (k * 997) % (W - side), y0 = H / 3 + (k * 577) % (H / 3);
    std::vector<double> u(32), v(32);
    blur::ellipse_polygon(x0, y0, x0 + side, y0 + side * 1.25, 32, u.data(), v.data());
    us.push_back(u), vs.push_back(v);
  }
  RegionBlurOptions bo;
  const double t_blur = best_of(repeat, [&] {
    for (size_t k = 0; k < us.size(); ++k) blur_region(work.data, W, H, 3, work.step, us[k].data(), vs[k].data(), 32, bo);
  });
  const double sigma = blur::gaussian_sigma(side, side * 1.25, bo.strength);
  const double t_cv = best_of(repeat, [&] {
    for (size_t k = 0; k < us.size(); ++k) {
      const int g = static_cast<int>(3 * sigma);
      cv::Rect r(static_cast<int>(us[k][16]) - g, static_cast<int>(vs[k][24]) - g, side + 2 * g, static_cast<int>(side * 1.25) + 2 * g);
      r &= cv::Rect(0, 0, W, H);
      cv::Mat roi = work(r), blurred, mask(r.size(), CV_8U, cv::Scalar(0));
      cv::GaussianBlur(roi, blurred, cv::Size(0, 0), sigma);
      cv::ellipse(mask, cv::Point(g + side / 2, g + side * 5 / 8), cv::Size(side / 2, side * 5 / 8), 0, 0, 360, 255, cv::FILLED);
      blurred.copyTo(roi, mask);
    }
  });
  std::printf("| blur | geoshard blur_region gaussian, 40 regions %dx%d | %.4f s |\n", side, int(side * 1.25), t_blur);
  std::printf("| blur | cv::GaussianBlur of each box + masked copy | %.4f s | ratio %.2f |\n", t_cv, t_blur / t_cv);

  // ---- encode: lossless rewrite vs full re-encode ----
  std::vector<uchar> jpg;
  cv::imencode(".jpg", pano, jpg, {cv::IMWRITE_JPEG_QUALITY, 92});
  const std::vector<uint8_t> bytes(jpg.begin(), jpg.end());
  jpeg::Image img = jpeg::decode_memory(bytes, "pano");
  std::vector<uint8_t> changed(static_cast<size_t>(W) * H, 0);
  for (size_t k = 0; k < us.size(); ++k)
    for (int y = static_cast<int>(vs[k][24]); y < vs[k][24] + side * 1.25; ++y)
      for (int x = static_cast<int>(us[k][16]); x < us[k][16] + side; ++x) {
        changed[static_cast<size_t>(y) * W + x] = 1;
        img.pixels[(static_cast<size_t>(y) * W + x) * 3] = 0;
      }
  std::vector<uint8_t> rewritten;
  jpeg::RewriteStats st;
  const double t_rw = best_of(repeat, [&] { st = jpeg::rewrite_blocks(bytes, "pano", img, changed, rewritten); });
  cv::Mat decoded = cv::imdecode(jpg, cv::IMREAD_COLOR);
  std::vector<uchar> full;
  const double t_full = best_of(repeat, [&] { cv::imencode(".jpg", decoded, full, {cv::IMWRITE_JPEG_QUALITY, 92}); });
  std::printf("| encode | geoshard rewrite_blocks (%llu of %llu blocks) | %.3f s |\n", (unsigned long long)st.blocks_rewritten,
              (unsigned long long)st.blocks, t_rw);
  std::printf("| encode | cv::imencode full re-encode | %.3f s | geoshard faster by %.2fx |\n", t_full, t_full / t_rw);

  // ---- chain overhead ---- (OpenCV's default pool: the detectors' speed is not what is measured)
  cv::setNumThreads(cv_default_threads);
  std::vector<std::unique_ptr<blur::Detector>> owned;
  std::vector<blur::Detector*> dets;
  for (const auto& m : blur::read_models(models.empty() ? blur::default_models_path() : models)) {
    owned.push_back(blur::make_detector(m));
    dets.push_back(owned.back().get());
  }
  blur::AnonymiseStats as;
  const auto tc = Clock::now();
  const auto regions = blur::find_regions(pano, "equirect", dets, blur::AnonymiseOptions{}, &as);
  const double t_chain = secs(tc);
  std::printf("| chain | find_regions total | %.2f s | detectors %.2f s | views %.2f s | back-projection %.4f s | overhead %.1f %% | %zu regions |\n",
              t_chain, as.detect_seconds, as.views_seconds, as.backproject_seconds,
              100 * (t_chain - as.detect_seconds) / as.detect_seconds, regions.size());

  if (!planar_path.empty()) {
    cv::Mat photo = cv::imread(planar_path);
    cv::resize(photo, photo, cv::Size(4000, 3000), 0, 0, cv::INTER_CUBIC);
    blur::AnonymiseStats ps;
    const auto tp = Clock::now();
    const auto pr = blur::find_regions(photo, "perspective", dets, blur::AnonymiseOptions{}, &ps);
    std::printf("| planar 12 MP | find_regions total | %.2f s | detectors %.2f s | %d tiles | %zu regions |\n", secs(tp),
                ps.detect_seconds, ps.views, pr.size());
  }
  return 0;
}
