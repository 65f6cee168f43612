// pano_figures: before/after pictures of the imagery chain on a 360° photo, for a person to
// check that detections land in the right places (issue: imagery; docs/imagery.md "360° photos:
// where the regions land").
//
//   pano_figures --photo PHOTO.jpg --out-dir DIR [--base EQUIRECT.jpg] [--models M.toml]
//                [--width 4096] [--spot YAW,PITCH,HFOV]... [--pole-rotations N]
//
// Makes a test panorama: the 2:1 base photo resized to --width, or without --base a panorama
// drawn here (sky gradient above the horizon, a grey tiled ground below: no third-party pixels,
// so the pictures may go into docs/), with the planar PHOTO (e.g. Debian opencv-doc's messi5.jpg) placed
// into it as a pinhole camera would see it at each spot (yaw and pitch of its centre and its
// horizontal field of view, degrees): default spots across the ±180° seam, at +60° latitude and
// at the nadir, where an equirect stretches a face most. Then runs the chain the blur job runs
// (find_regions with the models file, apply_regions) and writes into DIR:
//   pano-spot-K.png   a 70° perspective view looking at spot K: before (the regions' outlines
//                     drawn in red, back-projected from the equirect polygons) | after;
//   pano-overview.png the whole blurred panorama, 800 px wide, with every region outlined.
// Prints, per spot, how many regions meet it, and exits 3 when a spot got none (the photo's faces
// are then missing from the blur, which the pictures would show).
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "jobs/blur/anonymise.h"
#include "jobs/blur/detect.h"
#include "kernels/batch.h"
#include "kernels/projection.h"

using namespace geoshard;
namespace pj = geoshard::projection;

namespace {

struct Spot {
  double yaw, pitch, hfov;  // degrees
};

// A panorama drawn from its own math: sky getting lighter towards the horizon, and below it a
// ground of grey tiles (10° of longitude by 5° of latitude) that shows the stretching near the
// nadir.
cv::Mat drawn_panorama(int width) {
  cv::Mat p(width / 2, width, CV_8UC3);
  for (int v = 0; v < p.rows; ++v)
    for (int u = 0; u < p.cols; ++u) {
      const double lat = 90.0 - (v + 0.5) * 180.0 / p.rows, lon = (u + 0.5) * 360.0 / p.cols - 180.0;
      if (lat > 0) {
        const double t = lat / 90.0;  // 0 at the horizon, 1 at the zenith
        p.at<cv::Vec3b>(v, u) = cv::Vec3b(static_cast<uchar>(235 - 40 * t), static_cast<uchar>(205 - 90 * t),
                                          static_cast<uchar>(170 - 120 * t));
      } else {
        const bool dark = (static_cast<int>(std::floor(lon / 10)) + static_cast<int>(std::floor(lat / 5))) % 2 != 0;
        const uchar g = dark ? 95 : 125;
        p.at<cv::Vec3b>(v, u) = cv::Vec3b(g, g, static_cast<uchar>(g + 8));
      }
    }
  return p;
}

// Pastes `photo` into the equirect `pano` as a pinhole camera looking at the spot sees it.
// Returns the photo's view (to find it again).
pj::View paste(cv::Mat& pano, const cv::Mat& photo, const Spot& s) {
  const double hfov = pj::rad(s.hfov);
  const double vfov = 2 * std::atan(std::tan(hfov / 2) * photo.rows / photo.cols);
  const pj::View w{pj::rad(s.yaw), pj::rad(s.pitch), hfov, vfov, photo.cols, photo.rows};
  const pj::Equirect e{pano.cols, pano.rows};
  for (int v = 0; v < pano.rows; ++v)
    for (int u = 0; u < pano.cols; ++u) {
      double x, y;
      if (!pj::view_pixel(w, pj::equirect_direction(e, u, v), &x, &y)) continue;
      if (x < 0 || y < 0 || x > photo.cols - 1 || y > photo.rows - 1) continue;
      cv::Mat px;
      cv::getRectSubPix(photo, cv::Size(1, 1), cv::Point2f(static_cast<float>(x), static_cast<float>(y)), px);
      pano.at<cv::Vec3b>(v, u) = px.at<cv::Vec3b>(0, 0);
    }
  return w;
}

// The view of a spot, rendered from an equirect.
cv::Mat render(const cv::Mat& pano, const pj::View& w) {
  cv::Mat out(w.height, w.width, CV_8UC3);
  render_equirect_view(pano.data, pano.cols, pano.rows, 3, static_cast<int64_t>(pano.step), w, out.data,
                       static_cast<int64_t>(out.step));
  return out;
}

// Region outlines (equirect pixel polygons) drawn into view w's picture; returns how many
// regions have a vertex inside it.
int outline(cv::Mat& img, const pj::View& w, const pj::Equirect& e, const std::vector<blur::Region>& regions) {
  int seen = 0;
  for (const auto& r : regions) {
    bool in = false;
    for (const auto& poly : r.polygons) {
      std::vector<cv::Point> pts;
      for (const auto& [u, v] : poly) {
        double x, y;
        if (!pj::view_pixel(w, pj::equirect_direction(e, u, v), &x, &y)) {
          pts.clear();  // a polygon partly behind the camera: not drawn
          break;
        }
        pts.emplace_back(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)));
        in = in || (x >= 0 && y >= 0 && x < w.width && y < w.height);
      }
      if (pts.size() > 1) cv::polylines(img, pts, true, cv::Scalar(0, 0, 255), 2, cv::LINE_AA);
    }
    seen += in ? 1 : 0;
  }
  return seen;
}

}  // namespace

int main(int argc, char** argv) {
  std::string base_path, photo_path, out_dir, models;
  int width = 4096;
  std::vector<std::string> spot_args;
  CLI::App app{"before/after pictures of the blur chain on a 360° photo"};
  app.add_option("--base", base_path, "2:1 equirect photo (default: a drawn sky-and-ground panorama)");
  app.add_option("--photo", photo_path, "planar photo with faces, placed into the panorama")->required();
  app.add_option("--out-dir", out_dir, "where the PNGs go")->required();
  app.add_option("--models", models, "models file (default: the shipped default.toml)");
  app.add_option("--width", width, "panorama width (even)");
  app.add_option("--spot", spot_args, "YAW,PITCH,HFOV in degrees (repeatable)");
  int pole_rotations = blur::AnonymiseOptions{}.pole_rotations;
  app.add_option("--pole-rotations", pole_rotations, "AnonymiseOptions::pole_rotations (1 = no turned pole views)")
      ->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  std::vector<Spot> spots;
  for (const auto& a : spot_args) {
    Spot s{};
    char c1, c2;
    std::istringstream in(a);
    if (!(in >> s.yaw >> c1 >> s.pitch >> c2 >> s.hfov) || c1 != ',' || c2 != ',')
      return std::fprintf(stderr, "pano_figures: --spot '%s' is not YAW,PITCH,HFOV\n", a.c_str()), 2;
    spots.push_back(s);
  }
  if (spots.empty()) spots = {{180, 0, 40}, {60, 60, 40}, {-90, -90, 40}};

  if (width < 16 || width % 2) return std::fprintf(stderr, "pano_figures: --width must be even and >= 16\n"), 2;
  const cv::Mat photo = cv::imread(photo_path, cv::IMREAD_COLOR);
  if (photo.empty()) return std::fprintf(stderr, "pano_figures: cannot read %s\n", photo_path.c_str()), 1;
  cv::Mat pano;
  if (!base_path.empty()) {
    const cv::Mat base = cv::imread(base_path, cv::IMREAD_COLOR);
    if (base.empty()) return std::fprintf(stderr, "pano_figures: cannot read %s\n", base_path.c_str()), 1;
    cv::resize(base, pano, cv::Size(width, width / 2), 0, 0, cv::INTER_CUBIC);
  } else {
    pano = drawn_panorama(width);
  }
  std::vector<pj::View> placed;
  for (const auto& s : spots) placed.push_back(paste(pano, photo, s));

  std::vector<std::unique_ptr<blur::Detector>> owned;
  std::vector<blur::Detector*> dets;
  try {
    for (const auto& m : blur::read_models(models.empty() ? blur::default_models_path() : models)) {
      owned.push_back(blur::make_detector(m));
      dets.push_back(owned.back().get());
    }
  } catch (const std::exception& ex) {
    return std::fprintf(stderr, "pano_figures: %s\n", ex.what()), 1;
  }
  blur::AnonymiseOptions opt;
  opt.pole_rotations = pole_rotations;
  blur::AnonymiseStats st;
  const auto regions = blur::find_regions(pano, "equirect", dets, opt, &st);
  cv::Mat after = pano.clone();
  blur::apply_regions(after, true, regions, opt);
  std::printf("panorama %dx%d, %d views, %llu detections, %zu regions\n", pano.cols, pano.rows, st.views,
              static_cast<unsigned long long>(st.detections), regions.size());

  std::filesystem::create_directories(out_dir);
  const pj::Equirect e{pano.cols, pano.rows};
  int rc = 0;
  for (size_t k = 0; k < spots.size(); ++k) {
    const pj::View look{pj::rad(spots[k].yaw), pj::rad(spots[k].pitch), pj::rad(70), pj::rad(70), 400, 400};
    cv::Mat before_v = render(pano, look), after_v = render(after, look);
    const int seen = outline(before_v, look, e, regions);
    cv::Mat both;
    cv::hconcat(before_v, after_v, both);
    const std::string path = out_dir + "/pano-spot-" + std::to_string(k + 1) + ".png";
    cv::imwrite(path, both);
    std::printf("spot %zu (yaw %g, pitch %g): %d region(s) in view -> %s\n", k + 1, spots[k].yaw, spots[k].pitch, seen,
                path.c_str());
    if (seen == 0) rc = 3;
  }
  cv::Mat overview;
  const double f = 800.0 / after.cols;
  cv::resize(after, overview, cv::Size(800, 400), 0, 0, cv::INTER_AREA);
  for (const auto& r : regions)
    for (const auto& poly : r.polygons) {
      std::vector<cv::Point> pts;
      for (const auto& [u, v] : poly) pts.emplace_back(static_cast<int>(std::lround(u * f)), static_cast<int>(std::lround(v * f)));
      cv::polylines(overview, pts, true, cv::Scalar(0, 0, 255), 1, cv::LINE_AA);
    }
  cv::imwrite(out_dir + "/pano-overview.png", overview);
  std::printf("overview -> %s/pano-overview.png\n", out_dir.c_str());
  return rc;
}
