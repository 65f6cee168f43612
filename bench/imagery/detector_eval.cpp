// detector_eval: what each detector and each set of detectors blurs on the real photos with
// ground truth, measured through the whole chain (find_regions: tiles, growing, ellipses for
// faces, quads for LPD-YuNet plates, merging) and the blur's own mask (apply_regions):
//   - recall: ground-truth boxes of which >= 90 % of the pixels are blurred (the issue's measure);
//   - false-positive blurred area: blurred pixels outside every ground-truth box, as a fraction of
//     all pixels of the photos (a face ellipse inside its box is not counted; a blurred ground-truth
//     box is not a false positive, however large its region);
//   - per-image time of find_regions (mean over the photos), one OpenCV thread;
//   - on the 360° mountain panorama (no people, no plates): regions and blurred fraction, all of it
//     false positive (its 47 views: the full equirect search).
// Faces: ../shared/data/faces (PASCAL VOC photos, faces-ground-truth.xml); plates:
// ../shared/data/plates/eu (*.txt: file x y w h). Sets: every model alone, the default file's
// models of a class together, the same without the Haar cascades ("DNN-only"), and the defaults
// plus the shared-data models (Ultra-Light RFB-640 faces; LPD-YuNet plates) when loadable.
//
//   detector_eval --data ../shared/data [--models default.toml] [--shared-models shared-data.toml]
//                 [--no-pano] [--markdown FILE]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <string>
#include <vector>

#include "jobs/blur/anonymise.h"
#include "jobs/blur/detect.h"

using namespace geoshard;
using namespace geoshard::blur;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Box {
  int x0, y0, x1, y1;  // pixel edges, clamped to the photo
};

struct Photo {
  fs::path path;
  std::vector<Box> truth;
};

std::vector<Photo> face_photos(const fs::path& dir) {
  std::ifstream in(dir / "faces-ground-truth.xml");
  if (!in) throw std::runtime_error("cannot read " + (dir / "faces-ground-truth.xml").string());
  const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::regex image(R"(<image file='([^']+)'[^>]*>([\s\S]*?)</image>)");
  const std::regex box(R"(<box top='(\d+)' left='(\d+)' width='(\d+)' height='(\d+)')");
  std::vector<Photo> out;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), image); it != std::sregex_iterator(); ++it) {
    Photo p{dir / std::string((*it)[1]), {}};
    const std::string body = (*it)[2];
    for (auto b = std::sregex_iterator(body.begin(), body.end(), box); b != std::sregex_iterator(); ++b) {
      const int t = std::stoi((*b)[1]), l = std::stoi((*b)[2]), w = std::stoi((*b)[3]), h = std::stoi((*b)[4]);
      p.truth.push_back(Box{l, t, l + w, t + h});
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<Photo> plate_photos(const fs::path& dir) {
  std::vector<Photo> out;
  std::vector<fs::path> txt;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".txt") txt.push_back(e.path());
  std::sort(txt.begin(), txt.end());
  for (const auto& t : txt) {
    std::ifstream in(t);
    std::string file;
    int x, y, w, h;
    if (!(in >> file >> x >> y >> w >> h)) throw std::runtime_error("cannot read a box from " + t.string());
    out.push_back(Photo{dir / file, {Box{x, y, x + w, y + h}}});
  }
  return out;
}

// The pixels apply_regions writes for these regions: 255 where blurred.
cv::Mat blur_mask(const cv::Mat& bgr, bool equirect, const std::vector<Region>& regions) {
  cv::Mat painted = cv::Mat::zeros(bgr.rows, bgr.cols, CV_8UC3);  // apply_regions works on BGR
  AnonymiseOptions opt;
  opt.blur.mode = blur::Mode::kSolid;
  opt.blur.solid[0] = 255;
  apply_regions(painted, equirect, regions, opt);
  cv::Mat mask;
  cv::extractChannel(painted, mask, 0);
  return mask;
}

struct Score {
  int truth = 0, found = 0, photos = 0;
  double pixels = 0, false_positive_pixels = 0, seconds = 0;
  size_t regions = 0;
};

Score evaluate(const std::vector<Photo>& photos, std::vector<Detector*>& detectors) {
  Score s;
  for (const auto& p : photos) {
    const cv::Mat img = cv::imread(p.path.string(), cv::IMREAD_COLOR);
    if (img.empty()) throw std::runtime_error("cannot decode " + p.path.string());
    const auto t = Clock::now();
    const auto regions = find_regions(img, "perspective", detectors, AnonymiseOptions{});
    s.seconds += std::chrono::duration<double>(Clock::now() - t).count();
    const cv::Mat mask = blur_mask(img, false, regions);
    cv::Mat in_truth = cv::Mat::zeros(img.rows, img.cols, CV_8UC1);
    for (const Box& b0 : p.truth) {
      const Box b{std::max(b0.x0, 0), std::max(b0.y0, 0), std::min(b0.x1, img.cols), std::min(b0.y1, img.rows)};
      if (b.x1 <= b.x0 || b.y1 <= b.y0) continue;
      const cv::Rect r(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
      ++s.truth;
      s.found += cv::countNonZero(mask(r)) >= 0.9 * r.area();
      in_truth(r).setTo(255);
    }
    cv::Mat outside;
    cv::bitwise_and(mask, ~in_truth, outside);
    s.false_positive_pixels += cv::countNonZero(outside);
    s.pixels += static_cast<double>(img.total());
    s.regions += regions.size();
    ++s.photos;
  }
  return s;
}

struct Set {
  std::string name;
  std::vector<const ModelSpec*> models;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"recall, false-positive blurred area and per-image time of the face and plate detectors on ../shared/data"};
  std::string data = "../shared/data", models_path = default_models_path(), shared_path, markdown;
  bool no_pano = false;
  app.add_option("--data", data, "the shared data folder (faces/, plates/eu/, pano360/)");
  app.add_option("--models", models_path, "the default models file");
  app.add_option("--shared-models", shared_path,
                 "a models file of the shared-data models (default: shared-data.toml beside --models; skipped when not loadable)");
  app.add_flag("--no-pano", no_pano, "skip the 360° mountain panorama (the slow part: 47 views per set)");
  app.add_option("--markdown", markdown, "also append the table to this file");
  CLI11_PARSE(app, argc, argv);
  if (shared_path.empty()) shared_path = (fs::path(models_path).parent_path() / "shared-data.toml").string();
  cv::setNumThreads(1);

  try {
    const auto faces = face_photos(fs::path(data) / "faces");
    const auto plates = plate_photos(fs::path(data) / "plates/eu");
    const std::vector<ModelSpec> defaults = read_models(models_path);
    std::vector<ModelSpec> shared;
    try {
      shared = read_models(shared_path);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[detector_eval] shared-data models not measured: %s\n", e.what());
    }
    std::map<const ModelSpec*, std::unique_ptr<Detector>> made;
    auto detector = [&](const ModelSpec* m) {
      auto& d = made[m];
      if (!d) d = make_detector(*m);
      return d.get();
    };
    std::vector<Set> sets;
    for (const char* cls : {"face", "plate"}) {
      Set all{std::string("defaults (") + cls + ")", {}}, dnn{std::string("defaults without cascades (") + cls + ")", {}};
      for (const auto& m : defaults) {
        if (m.cls != cls) continue;
        sets.push_back(Set{m.name + " (default)", {&m}});
        all.models.push_back(&m);
        if (m.type != "cascade") dnn.models.push_back(&m);
      }
      std::vector<const ModelSpec*> extra;
      for (const auto& m : shared) {
        if (m.cls != cls) continue;
        sets.push_back(Set{m.name + " (shared data)", {&m}});
        if (extra.empty()) extra.push_back(&m);  // the first of the class: RFB-640 faces, LPD-YuNet plates
      }
      if (all.models.size() > 1) sets.push_back(all);
      if (!dnn.models.empty() && dnn.models.size() < all.models.size()) sets.push_back(dnn);
      if (!extra.empty()) {
        Set with{"defaults + " + extra[0]->name, all.models};
        with.models.insert(with.models.end(), extra.begin(), extra.end());
        sets.push_back(with);
        if (!dnn.models.empty()) {
          Set dnn_with{"DNN only: " + dnn.models[0]->name + " + " + extra[0]->name, dnn.models};
          dnn_with.models.insert(dnn_with.models.end(), extra.begin(), extra.end());
          sets.push_back(dnn_with);
        }
      }
    }
    cv::Mat pano;
    const fs::path pano_path = fs::path(data) / "pano360/mountain-no-people-equirect.jpg";
    if (!no_pano) {
      pano = cv::imread(pano_path.string(), cv::IMREAD_COLOR);
      if (pano.empty()) std::fprintf(stderr, "[detector_eval] %s not readable: panorama column left empty\n", pano_path.c_str());
    }
    std::string table =
        "| detectors | class | recall (>= 90 % blurred) | false-positive blurred area | regions | per-image time (1 thread) | "
        "mountain panorama: regions, blurred area (all false positive), time |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n";
    std::printf("%s", table.c_str());
    for (const Set& set : sets) {
      std::vector<Detector*> ds;
      for (const ModelSpec* m : set.models) ds.push_back(detector(m));
      const std::string cls = set.models[0]->cls;
      const Score s = evaluate(cls == "face" ? faces : plates, ds);
      char pano_cell[160] = "";
      if (!pano.empty()) {
        const auto t = Clock::now();
        const auto regions = find_regions(pano, "equirect", ds, AnonymiseOptions{});
        const double sec = std::chrono::duration<double>(Clock::now() - t).count();
        const cv::Mat mask = blur_mask(pano, true, regions);
        std::snprintf(pano_cell, sizeof pano_cell, "%zu, %.3f %%, %.1f s", regions.size(),
                      100.0 * cv::countNonZero(mask) / static_cast<double>(pano.total()), sec);
      }
      char row[640];
      std::snprintf(row, sizeof row, "| %s | %s | %d / %d | %.3f %% | %zu | %.0f ms | %s |\n", set.name.c_str(), cls.c_str(), s.found,
                    s.truth, 100.0 * s.false_positive_pixels / s.pixels, s.regions, 1000.0 * s.seconds / s.photos, pano_cell);
      std::printf("%s", row);
      std::fflush(stdout);
      table += row;
    }
    if (!markdown.empty()) {
      std::ofstream md(markdown, std::ios::app);
      if (!md) throw std::runtime_error("cannot write " + markdown);
      md << table;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "detector_eval: %s\n", e.what());
    return 1;
  }
  return 0;
}
