// Detectors: the models file (defaults, errors before work), NMS, the YOLO decoding on a darknet
// network generated here, and recall on the real photos with ground truth (../shared/data faces
// and plates): the fraction of ground-truth boxes whose area the detections, grown x1.3 per side
// as the blur will grow them, cover by >= 90 %.
#include "jobs/blur/detect.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/core.hpp>
#include <regex>

#include "jobs/blur/anonymise.h"

#include "tests/testing/temp_dir.h"

namespace geoshard::blur {
namespace {
namespace fs = std::filesystem;

TEST(Detect, IouAndNms) {
  const Detection a{"face", 0.9, 0, 0, 10, 10, "m"}, b{"face", 0.8, 5, 0, 15, 10, "m"}, c{"face", 0.7, 20, 20, 30, 30, "m"};
  EXPECT_NEAR(iou(a, b), 50.0 / 150.0, 1e-12);
  EXPECT_EQ(iou(a, c), 0.0);
  EXPECT_EQ(nms({b, a, c}, 0.3).size(), 2u);     // b overlaps a by 1/3 > 0.3: dropped
  EXPECT_EQ(nms({b, a, c}, 0.4).size(), 3u);
  EXPECT_EQ(nms({b, a, c}, 0.3)[0].score, 0.9);  // strongest first
}

TEST(Detect, ModelsFileErrorsNameTheFileBeforeWork) {
  testing::TempDir dir;
  auto write = [&](const std::string& text) {
    std::ofstream(dir.file("m.toml")) << text;
    return dir.file("m.toml");
  };
  auto expect = [&](const std::string& text, const std::string& needle) {
    try {
      read_models(write(text));
      ADD_FAILURE() << "no error for: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("m.toml"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect("[[model]]\nclass='face'\ntype='cascade'\nweights='nowhere.xml'\n", "not found");
  expect("[[model]]\nclass='face'\ntype='yolo9000'\nweights='x'\n", "yolo9000");
  expect("[[model]]\nclass='cat'\ntype='cascade'\nweights='x'\n", "class");
  expect("[[model]]\nclass='face'\ntype='cascade'\nweights='x'\ncolour='red'\n", "colour");
  expect("[[modle]]\n", "modle");
  expect("", "no [[model]]");
  expect("[[model]\n", "m.toml");
  // Relative paths resolve against the models file's folder.
  std::ofstream(dir.file("c.xml")) << "x";
  const auto m = read_models(write("[[model]]\nclass='plate'\ntype='cascade'\nweights='c.xml'\n"));
  EXPECT_EQ(m[0].weights, dir.file("c.xml"));
  EXPECT_THROW(make_detector(m[0]), std::runtime_error);  // not a cascade: a clear error
}

TEST(Detect, YoloAndLpdYunetModelsFileErrors) {
  testing::TempDir dir;
  std::ofstream(dir.file("w.weights")) << "x";
  std::ofstream(dir.file("one.cfg")) << "[net]\nwidth=64\nheight=64\nchannels=3\n[convolutional]\nfilters=6\nsize=1\n"
                                        "stride=1\nactivation=linear\n[yolo]\nmask=0\nanchors=10,16\nclasses = 2 # two\nnum=1\n";
  std::ofstream(dir.file("noyolo.cfg")) << "[net]\nwidth=64\nheight=64\n[convolutional]\nfilters=6\nsize=1\n";
  auto write = [&](const std::string& text) {
    std::ofstream(dir.file("m.toml")) << text;
    return dir.file("m.toml");
  };
  const std::string ok = "class='plate'\ntype='yolo'\nweights='w.weights'\ninput_width=64\ninput_height=64\n";
  auto expect = [&](const std::string& text, const std::string& needle) {
    try {
      read_models(write(text));
      ADD_FAILURE() << "no error for: " << text;
    } catch (const std::runtime_error& e) {
      // The file, the model (its number and type) and what is wrong.
      EXPECT_NE(std::string(e.what()).find("m.toml"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("model 2"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::string first = "[[model]]\n" + ok + "cfg='one.cfg'\nclass_ids=[0]\n[[model]]\n";  // a good model 1
  expect(first + ok + "class_ids=[0]\n", "no cfg");
  expect(first + ok + "cfg='missing.cfg'\nclass_ids=[0]\n", "missing.cfg' not found");
  expect(first + ok + "cfg='one.cfg'\n", "class_ids must be given");
  expect(first + ok + "cfg='one.cfg'\nclass_ids=0\n", "class_ids must be given");
  expect(first + ok + "cfg='one.cfg'\nclass_ids=[]\n", "class_ids is empty");
  expect(first + ok + "cfg='one.cfg'\nclass_ids=['person']\n", "class_ids must be integers");
  expect(first + ok + "cfg='one.cfg'\nclass_ids=[0.5]\n", "class_ids must be integers");
  expect(first + ok + "cfg='one.cfg'\nclass_ids=[-1]\n", "class id -1 not in [0, 2)");
  expect(first + ok + "cfg='one.cfg'\nclass_ids=[2]\n", "class id 2 not in [0, 2) (cfg '");
  expect(first + ok + "cfg='one.cfg'\nclass_ids=[1, 1]\n", "class id 1 repeated");
  expect(first + ok + "cfg='noyolo.cfg'\nclass_ids=[0]\n", "no [yolo]");
  expect(first + "class='plate'\ntype='lpd_yunet'\nweights='w.weights'\ninput_width=320\ninput_height=240\ncfg='one.cfg'\n",
         "'cfg' is only for type yolo");
  expect(first + "class='plate'\ntype='cascade'\nweights='w.weights'\nclass_ids=[0]\n", "'class_ids' is only for type yolo");
  expect(first + "class='plate'\ntype='lpd_yunet'\nweights='w.weights'\n", "input_width and input_height are required");
  const auto m = read_models(write(first + "class='face'\ntype='yolo'\nweights='w.weights'\ninput_width=64\ninput_height=64\n"
                                           "cfg='one.cfg'\nclass_ids=[1, 0]\n"));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].cfg, dir.file("one.cfg"));
  EXPECT_EQ(m[1].class_ids, (std::vector<int>{1, 0}));
  try {
    make_detector(m[1]);  // 'x' is no darknet weights file
    ADD_FAILURE() << "loaded a bogus weights file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("w.weights"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("one.cfg"), std::string::npos) << e.what();
  }
}

// A darknet network made here, small enough to know its output exactly: net input NW x NH, one
// convolution (8 x 8, stride 8: an (NW/8) x (NH/8) grid, 1 anchor, 2 classes, linear) and a
// [yolo] layer with the anchor 10 x 16. Its weights are zero except the objectness filter, which
// sums the cell's 8 x 8 x 3 input (RGB in [0, 1]) so that only a white cell has an objectness
// logit above -10: ln 4 (objectness 0.8). The biases fix the rest for every cell: x offset
// sigmoid = 1/4, y offset sigmoid = 3/4, w = 2 anchors, h = 1 anchor, class 0 prob 0.9, class 1
// prob 0.2. So a white cell (cx, cy) gives the box centred at ((cx + 1/4) * 8, (cy + 3/4) * 8),
// 20 x 16 network pixels, class scores 0.8 * 0.9 = 0.72 and 0.8 * 0.2 = 0.16.
void write_tiny_yolo(const std::string& cfg, const std::string& weights, int NW, int NH, const std::string& yolo_extra = "") {
  std::ofstream(cfg) << "[net]\nwidth=" << NW << "\nheight=" << NH << "\nchannels=3\n\n"
                     << "[convolutional]\nfilters=7\nsize=8\nstride=8\npad=0\nactivation=linear\n\n"
                     << "[yolo]\nmask=0\nanchors=10,16\nclasses=2\nnum=1\n" << yolo_extra;
  const float bias[7] = {std::log(1.f / 3), std::log(3.f), std::log(2.f), 0.f, -10.f, std::log(9.f), std::log(0.25f)};
  std::vector<float> w(7 * 3 * 8 * 8, 0.f);  // [filters][channels][8][8]
  for (int i = 0; i < 3 * 8 * 8; ++i) w[4 * 3 * 8 * 8 + i] = (10.f + std::log(4.f)) / (3 * 8 * 8);
  std::ofstream out(weights, std::ios::binary);
  const int32_t version[3] = {0, 2, 0};  // major, minor, revision: >= 0.2 has a 64-bit 'seen'
  const uint64_t seen = 0;
  out.write(reinterpret_cast<const char*>(version), sizeof version);
  out.write(reinterpret_cast<const char*>(&seen), sizeof seen);
  out.write(reinterpret_cast<const char*>(bias), sizeof bias);  // no batch_normalize: biases, then weights
  out.write(reinterpret_cast<const char*>(w.data()), static_cast<std::streamsize>(w.size() * sizeof(float)));
}

TEST(Detect, YoloDecodesAGeneratedDarknetNetworkExactly) {
  testing::TempDir dir;
  struct Case {
    int NW, NH, W, H;  // network input, image (scaled by exact factors: the white cell stays exact)
  };
  for (const Case c : {Case{64, 64, 128, 192}, Case{96, 64, 192, 128}, Case{64, 64, 64, 64}}) {
    SCOPED_TRACE("net " + std::to_string(c.NW) + "x" + std::to_string(c.NH) + ", image " + std::to_string(c.W) + "x" + std::to_string(c.H));
    write_tiny_yolo(dir.file("t.cfg"), dir.file("t.weights"), c.NW, c.NH);
    const double fx = double(c.W) / c.NW, fy = double(c.H) / c.NH;
    // The white cell: column 5, row 2 of the 8-pixel grid (not symmetric: a swapped x/y fails).
    cv::Mat img(c.H, c.W, CV_8UC3, cv::Scalar(0, 0, 0));
    img(cv::Rect(int(5 * 8 * fx), int(2 * 8 * fy), int(8 * fx), int(8 * fy))).setTo(cv::Scalar(255, 255, 255));
    auto detect = [&](const std::string& ids, double threshold) {
      std::ofstream(dir.file("m.toml")) << "[[model]]\nclass='plate'\ntype='yolo'\ncfg='t.cfg'\nweights='t.weights'\ninput_width="
                                        << c.NW << "\ninput_height=" << c.NH << "\nclass_ids=" << ids
                                        << "\nscore_threshold=" << threshold << "\n";
      return make_detector(read_models(dir.file("m.toml"))[0])->detect(img);
    };
    const auto d = detect("[0]", 0.5);
    ASSERT_EQ(d.size(), 1u);
    // Expected from the cfg alone, in image pixels (plain resize: x scales by W/NW, y by H/NH).
    const double cx = (5 + 0.25) * 8 * fx, cy = (2 + 0.75) * 8 * fy, hw = 2 * 10 / 2.0 * fx, hh = 16 / 2.0 * fy;
    EXPECT_NEAR(d[0].x0, cx - hw, 1e-3);
    EXPECT_NEAR(d[0].y0, cy - hh, 1e-3);
    EXPECT_NEAR(d[0].x1, cx + hw, 1e-3);
    EXPECT_NEAR(d[0].y1, cy + hh, 1e-3);
    EXPECT_NEAR(d[0].score, 0.8 * 0.9, 1e-5);  // objectness x class probability, once
    EXPECT_EQ(d[0].cls, "plate");
    EXPECT_FALSE(d[0].quad.has_value());
    EXPECT_EQ(d[0].model, "yolo:t.weights");
    EXPECT_TRUE(detect("[0]", 0.73).empty());  // the model's score threshold applies to 0.72
    // Class mapping: class 1 scores 0.16, under the [yolo] layer's default thresh (OpenCV zeroes it) ...
    EXPECT_TRUE(detect("[1]", 0.01).empty());
    EXPECT_NEAR(detect("[1, 0]", 0.01).at(0).score, 0.72, 1e-5);  // ... and several ids: the best
  }
  // With thresh lowered in the cfg, class 1 alone is reported at 0.8 * 0.2.
  write_tiny_yolo(dir.file("t.cfg"), dir.file("t.weights"), 64, 64, "thresh=0.1\n");
  std::ofstream(dir.file("m.toml")) << "[[model]]\nclass='face'\ntype='yolo'\ncfg='t.cfg'\nweights='t.weights'\ninput_width=64\n"
                                       "input_height=64\nclass_ids=[1]\nscore_threshold=0.1\n";
  cv::Mat img(64, 64, CV_8UC3, cv::Scalar(0, 0, 0));
  img(cv::Rect(40, 16, 8, 8)).setTo(cv::Scalar(255, 255, 255));
  const auto d = make_detector(read_models(dir.file("m.toml"))[0])->detect(img);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NEAR(d[0].score, 0.16, 1e-5);
  EXPECT_EQ(d[0].cls, "face");
  EXPECT_NEAR(d[0].x0, 42 - 10, 1e-3);
  EXPECT_NEAR(d[0].y1, 22 + 8, 1e-3);
  // One float short: a clear error, not a network with a garbage weight.
  fs::resize_file(dir.file("t.weights"), fs::file_size(dir.file("t.weights")) - 4);
  try {
    make_detector(read_models(dir.file("m.toml"))[0]);
    ADD_FAILURE() << "loaded a truncated weights file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("too short for cfg"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1351 parameters"), std::string::npos) << e.what();  // 7 biases + 7 x 3 x 8 x 8
  }
}

// Floors just under the measurement recorded in docs/imagery.md (17/18 faces, 37/40 plates).
constexpr int kFaceFloor = 16, kPlateFloor = 35;

struct Box {
  double x0, y0, x1, y1;
};

// Fraction of box g covered by the union of the detections grown by `grow` per side (raster).
double covered(const Box& g, const std::vector<Detection>& d, double grow) {
  int in = 0, all = 0;
  for (double y = g.y0 + 0.5; y < g.y1; y += 1)
    for (double x = g.x0 + 0.5; x < g.x1; x += 1) {
      ++all;
      for (const auto& k : d) {
        const double cx = (k.x0 + k.x1) / 2, cy = (k.y0 + k.y1) / 2, hw = (k.x1 - k.x0) / 2 * grow, hh = (k.y1 - k.y0) / 2 * grow;
        if (std::fabs(x - cx) <= hw && std::fabs(y - cy) <= hh) {
          ++in;
          break;
        }
      }
    }
  return all ? static_cast<double>(in) / all : 0;
}

std::map<std::string, std::vector<Box>> face_truth(const fs::path& xml) {
  std::ifstream in(xml);
  const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, std::vector<Box>> out;
  const std::regex image(R"(<image file='([^']+)'[^>]*>([\s\S]*?)</image>)");
  const std::regex box(R"(<box top='(\d+)' left='(\d+)' width='(\d+)' height='(\d+)')");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), image); it != std::sregex_iterator(); ++it) {
    const std::string body = (*it)[2];
    for (auto b = std::sregex_iterator(body.begin(), body.end(), box); b != std::sregex_iterator(); ++b) {
      const double t = std::stod((*b)[1]), l = std::stod((*b)[2]), w = std::stod((*b)[3]), h = std::stod((*b)[4]);
      out[(*it)[1]].push_back(Box{l, t, l + w, t + h});
    }
  }
  return out;
}

TEST(DetectRealData, FaceAndPlateRecallOfTheDefaultModels) {
  const fs::path data = GEOSHARD_SHARED_DATA;
  if (!fs::exists(data / "faces/faces-ground-truth.xml")) GTEST_SKIP() << "no " << data / "faces" << " (../shared/data absent)";
  std::vector<ModelSpec> models;
  try {
    models = read_models(default_models_path());
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "default models not installed (run ./setup): " << e.what();
  }
  const auto truth = face_truth(data / "faces/faces-ground-truth.xml");
  ASSERT_EQ(truth.size(), 4u);
  // The Ultra-Light models of ../shared/data are measured too (not in the defaults: not installed by ./setup).
  const size_t n_default = models.size();
  const fs::path shared_models = fs::path(default_models_path()).parent_path() / "shared-data.toml";
  if (fs::exists(data / "models/ultra-light-face")) try {
      for (auto& m : read_models(shared_models.string())) models.push_back(m);
    } catch (const std::runtime_error& e) {
      std::printf("[recall] shared-data models not measured: %s\n", e.what());
    }
  std::map<std::string, int> found;
  int total = 0, union_found = 0;
  for (const auto& [file, boxes] : truth) {
    const cv::Mat img = cv::imread((data / "faces" / file).string());
    ASSERT_FALSE(img.empty()) << file;
    std::vector<Detection> all;
    for (const auto& m : models) {
      if (m.cls != "face") continue;
      const auto d = make_detector(m)->detect(img);
      for (const auto& g : boxes) found[m.name] += covered(g, d, 1.3) >= 0.9;
      if (m.type != "ultraface") all.insert(all.end(), d.begin(), d.end());  // the defaults only
    }
    for (const auto& g : boxes) union_found += covered(g, all, 1.3) >= 0.9;
    total += static_cast<int>(boxes.size());
  }
  EXPECT_EQ(total, 18);
  for (const auto& [name, n] : found) std::printf("[recall] face %s: %d / %d\n", name.c_str(), n, total);
  std::printf("[recall] face, all default models: %d / %d\n", union_found, total);
  // Plates: eu/*.txt, one box per photo.
  // (The shared-data plate models, LPD-YuNet, only in the second union; their quads count as boxes here.)
  int plates = 0, plates_found = 0, plates_found_with_shared = 0;
  std::vector<std::unique_ptr<Detector>> plate_detectors;
  std::vector<bool> is_default;
  for (size_t i = 0; i < models.size(); ++i)
    if (models[i].cls == "plate") plate_detectors.push_back(make_detector(models[i])), is_default.push_back(i < n_default);
  for (const auto& e : fs::directory_iterator(data / "plates/eu")) {
    if (e.path().extension() != ".txt") continue;
    std::ifstream in(e.path());
    std::string file;
    double x, y, w, h;
    if (!(in >> file >> x >> y >> w >> h)) continue;
    const cv::Mat img = cv::imread((data / "plates/eu" / file).string());
    if (img.empty()) continue;
    std::vector<Detection> all, with_shared;
    for (size_t i = 0; i < plate_detectors.size(); ++i) {
      const auto d = plate_detectors[i]->detect(img);
      if (is_default[i]) all.insert(all.end(), d.begin(), d.end());
      with_shared.insert(with_shared.end(), d.begin(), d.end());
    }
    ++plates;
    plates_found += covered(Box{x, y, x + w, y + h}, all, 1.3) >= 0.9;
    plates_found_with_shared += covered(Box{x, y, x + w, y + h}, with_shared, 1.3) >= 0.9;
  }
  std::printf("[recall] plate, all default models: %d / %d\n", plates_found, plates);
  std::printf("[recall] plate, default + shared-data models: %d / %d\n", plates_found_with_shared, plates);
  EXPECT_GE(plates, 30);
  // Floors from the measurement in docs/imagery.md: a regression below them fails.
  EXPECT_GE(union_found, kFaceFloor);
  EXPECT_GE(plates_found, kPlateFloor);
}

// Point in polygon (even-odd), for the plate quads as the blur grows them.
bool inside(const std::vector<std::pair<double, double>>& p, double x, double y) {
  bool in = false;
  for (size_t i = 0, j = p.size() - 1; i < p.size(); j = i++)
    if ((p[i].second > y) != (p[j].second > y) &&
        x < (p[j].first - p[i].first) * (y - p[i].second) / (p[j].second - p[i].second) + p[i].first)
      in = !in;
  return in;
}

// Fraction of box g covered by the union of the detections' quads (or boxes, for those without)
// grown by `grow` about their centre, as the blur grows them.
double quad_covered(const Box& g, const std::vector<Detection>& d, double grow) {
  std::vector<std::vector<std::pair<double, double>>> polys;
  for (const auto& k : d) {
    if (!k.quad) {  // a box: as region_polygon grows it
      const double cx = (k.x0 + k.x1) / 2, cy = (k.y0 + k.y1) / 2, hw = (k.x1 - k.x0) / 2 * grow, hh = (k.y1 - k.y0) / 2 * grow;
      polys.push_back({{cx - hw, cy - hh}, {cx + hw, cy - hh}, {cx + hw, cy + hh}, {cx - hw, cy + hh}});
      continue;
    }
    double mx = 0, my = 0;
    for (const auto& [x, y] : *k.quad) mx += x / 4, my += y / 4;
    polys.emplace_back();
    for (const auto& [x, y] : *k.quad) polys.back().emplace_back(mx + (x - mx) * grow, my + (y - my) * grow);
  }
  int in = 0, all = 0;
  for (double y = g.y0 + 0.5; y < g.y1; y += 1)
    for (double x = g.x0 + 0.5; x < g.x1; x += 1) {
      ++all;
      for (const auto& p : polys)
        if (inside(p, x, y)) {
          ++in;
          break;
        }
    }
  return all ? static_cast<double>(in) / all : 0;
}

double quad_area(const std::array<std::pair<double, double>, 4>& q) {
  double a = 0;
  for (int i = 0; i < 4; ++i) a += q[i].first * q[(i + 1) % 4].second - q[(i + 1) % 4].first * q[i].second;
  return a / 2;
}

// The lpd_yunet entries of jobs/blur/models/shared-data.toml (the tests measure what is configured).
std::vector<ModelSpec> shared_lpd_models() {
  const fs::path shared_models = fs::path(default_models_path()).parent_path() / "shared-data.toml";
  std::vector<ModelSpec> lpd;
  for (auto& m : read_models(shared_models.string()))
    if (m.type == "lpd_yunet") lpd.push_back(m);
  return lpd;
}

// Floors just under the measurement recorded in docs/detectors.md: LPD-YuNet (320 x 240, score
// 0.2) covers 39 of the 40 eu/ plates and finds the plate in 5 of 5 ccpd photos.
constexpr int kLpdEuFloor = 38, kLpdCcpdFloor = 4;

TEST(DetectRealData, LpdYunetPlatesWithQuads) {
  const fs::path data = GEOSHARD_SHARED_DATA;
  if (!fs::exists(data / "models/lpd-yunet") || !fs::exists(data / "plates/eu"))
    GTEST_SKIP() << "no " << data / "models/lpd-yunet" << " or " << data / "plates/eu" << " (../shared/data absent)";
  std::vector<ModelSpec> lpd;
  try {
    lpd = shared_lpd_models();
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "shared-data models incomplete: " << e.what();
  }
  ASSERT_EQ(lpd.size(), 1u) << "shared-data.toml should list LPD-YuNet once";
  auto det = make_detector(lpd[0]);
  int quads = 0;
  auto check_quads = [&quads](const std::vector<Detection>& d, const std::string& file) {
    for (const auto& k : d) {
      quads += k.quad.has_value();
      if (!k.quad) continue;  // an implausible quad was dropped: the box alone
      for (const auto& [x, y] : *k.quad) {
        EXPECT_GE(x, k.x0 - 1e-9) << file;
        EXPECT_LE(x, k.x1 + 1e-9) << file;
        EXPECT_GE(y, k.y0 - 1e-9) << file;
        EXPECT_LE(y, k.y1 + 1e-9) << file;
      }
      EXPECT_GT(quad_area(*k.quad), 0) << file << ": quad not clockwise on screen, or degenerate";
      EXPECT_LE(quad_area(*k.quad), (k.x1 - k.x0) * (k.y1 - k.y0) + 1e-9) << file;
    }
  };
  int plates = 0, found_quad = 0, found_box = 0, detections = 0, stray = 0, eu_quads = 0;
  double seconds = 0;
  using Clock = std::chrono::steady_clock;
  det->detect(cv::Mat(240, 320, CV_8UC3, cv::Scalar(0, 0, 0)));  // warm-up: the first forward pass allocates
  for (const auto& e : fs::directory_iterator(data / "plates/eu")) {
    if (e.path().extension() != ".txt") continue;
    std::ifstream in(e.path());
    std::string file;
    double x, y, w, h;
    if (!(in >> file >> x >> y >> w >> h)) continue;
    const cv::Mat img = cv::imread((data / "plates/eu" / file).string());
    if (img.empty()) continue;
    const auto t = Clock::now();
    const auto d = det->detect(img);
    seconds += std::chrono::duration<double>(Clock::now() - t).count();
    const int quads_before = quads;
    check_quads(d, file);
    eu_quads += quads - quads_before;
    const Box g{x, y, x + w, y + h};
    ++plates;
    detections += static_cast<int>(d.size());
    found_quad += quad_covered(g, d, 1.3) >= 0.9;
    found_box += covered(g, d, 1.3) >= 0.9;
    for (const auto& k : d) stray += iou(k, Detection{"plate", 1, g.x0, g.y0, g.x1, g.y1, ""}) == 0;
  }
  int ccpd = 0, ccpd_images = 0;
  for (int i = 0; i < 5; ++i) {
    const std::string file = "ccpd-" + std::to_string(i) + ".jpg";
    const cv::Mat img = cv::imread((data / "plates" / file).string());
    if (img.empty()) continue;
    ++ccpd_images;
    const auto t = Clock::now();
    const auto d = det->detect(img);
    seconds += std::chrono::duration<double>(Clock::now() - t).count();
    check_quads(d, file);
    ccpd += !d.empty();
  }
  std::printf("[recall] plate %s (%dx%d, score >= %.2f): eu %d / %d covered by grown quads (%d by grown boxes), "
              "%d detections (%d with a quad), %d away from the plate; ccpd %d / %d photos with a detection; %.1f ms per photo\n",
              lpd[0].name.c_str(), lpd[0].input_width, lpd[0].input_height, lpd[0].score_threshold, found_quad, plates, found_box,
              detections, eu_quads, stray, ccpd, ccpd_images, 1000 * seconds / std::max(1, plates + ccpd_images));
  EXPECT_EQ(plates, 40);
  EXPECT_EQ(ccpd_images, 5);
  EXPECT_GE(found_quad, kLpdEuFloor);
  EXPECT_GE(ccpd, kLpdCcpdFloor);
  // The int8 variant: OpenCV 4.6 cannot load it (com.microsoft.QLinearSoftmax); a newer OpenCV may.
  ModelSpec int8 = lpd[0];
  int8.weights = (data / "models/lpd-yunet/opencvzoo_license_plate_detection_lpd_yunet_2023mar_int8.onnx").string();
  try {
    auto d8 = make_detector(int8);
    int n = 0;
    for (int i = 0; i < 5; ++i) n += !d8->detect(cv::imread((data / "plates" / ("ccpd-" + std::to_string(i) + ".jpg")).string())).empty();
    std::printf("[recall] plate lpd_yunet int8: ccpd %d / 5\n", n);
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("int8.onnx"), std::string::npos) << e.what();
    std::printf("[recall] plate lpd_yunet int8: not loadable here: %.200s\n", e.what());
  }
}

// The negative panorama (no vehicles) through the whole chain: every equirect view searched.
TEST(DetectRealData, LpdYunetOnTheMountainPanorama) {
  const fs::path data = GEOSHARD_SHARED_DATA;
  const fs::path pano = data / "pano360/mountain-no-people-equirect.jpg";
  if (!fs::exists(data / "models/lpd-yunet") || !fs::exists(pano)) GTEST_SKIP() << "no " << pano << " (../shared/data absent)";
  std::vector<ModelSpec> lpd;
  try {
    lpd = shared_lpd_models();
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "shared-data models incomplete: " << e.what();
  }
  ASSERT_EQ(lpd.size(), 1u);
  const std::unique_ptr<Detector> det = make_detector(lpd[0]);
  const cv::Mat img = cv::imread(pano.string());
  ASSERT_FALSE(img.empty());
  std::vector<Detector*> dets = {det.get()};
  AnonymiseStats st;
  const auto regions = find_regions(img, "equirect", dets, AnonymiseOptions{}, &st);
  std::printf("[false positives] plate %s on %s: %d regions (%llu detections in %d views, %.2f s detecting)\n",
              det->spec().name.c_str(), pano.filename().c_str(), static_cast<int>(regions.size()),
              static_cast<unsigned long long>(st.detections), st.views, st.detect_seconds);
  for (const auto& r : regions) {
    double u0 = 1e300, v0 = 1e300, u1 = -1e300, v1 = -1e300;
    for (const auto& [u, v] : r.polygons[0]) u0 = std::min(u0, u), v0 = std::min(v0, v), u1 = std::max(u1, u), v1 = std::max(v1, v);
    std::printf("  region score %.2f view %d, %zu polygons, box %.0f %.0f %.0f %.0f\n", r.score, r.view, r.polygons.size(), u0, v0, u1, v1);
  }
  EXPECT_LE(regions.size(), 1u);  // measured: 0
}

}  // namespace
}  // namespace geoshard::blur
