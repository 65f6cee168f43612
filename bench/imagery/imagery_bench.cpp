// Imagery stages against OpenCV baselines on the same image, in the same run, one thread:
//   views:  render_equirect_view (kernels/projection.h, direction math + bilinear per pixel) vs
//           cv::remap(INTER_LINEAR, BORDER_WRAP) with maps precomputed (map building reported apart)
//   blur:   blur_region gaussian on face-sized regions vs cv::GaussianBlur of each region's box
//           (+ a masked copy), same sigma
//   encode: io/jpeg_region rewrite_blocks (only touched blocks) vs cv::imencode(".jpg") of the
//           whole image (the full re-encode a pixel-level tool does; decoding is the same for both)
//   chain:  find_regions on the equirect with the given models: total vs the bare detector calls
//           (the engine's own overhead: views, back-projection, merging)
//
//   imagery_bench --equirect PANO.jpg [--planar PHOTO.jpg] [--scale-to 5760] [--models M.toml] [--repeat 3]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
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
  CLI11_PARSE(app, argc, argv);

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
  std::printf("| views | geoshard render_equirect_view | %.3f s | %.1f MP/s |\n", t_ours, out_mp / t_ours);
  std::printf("| views | cv::remap BORDER_WRAP (maps ready) | %.3f s | %.1f MP/s | maps %.3f s |\n", t_remap, out_mp / t_remap, t_maps);
  std::printf("| views | ratio geoshard / remap (time) | %.2f | | with map building: %.2f |\n", t_ours / t_remap, t_ours / (t_remap + t_maps));

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

  // ---- chain overhead ----
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
