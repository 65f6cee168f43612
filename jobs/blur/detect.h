// Detectors for the imagery chain (DESIGN.md step 3), pluggable by a models file (TOML):
//
//   [[model]]
//   class = "face"                # face | plate
//   type = "ultraface"            # ultraface | blazeface | cascade
//   weights = "${GEOSHARD_MODELS}/blazeface/face_detection_front_128x128_barracuda.onnx"
//   input_width = 320             # network input (ultraface, blazeface); cascades: min object size
//   input_height = 240
//   score_threshold = 0.5         # keep detections scoring at least this (recall first: low)
//   nms_threshold = 0.3           # IoU above which the weaker of two boxes is dropped
//
// Paths are relative to the models file; ${GEOSHARD_MODELS} is $GEOSHARD_MODELS or
// ~/.cache/geoshard/models (where ./setup puts BlazeFace), ${OPENCV_DATA} is /usr/share/opencv4
// (Debian opencv-data: Haar cascades). Unknown keys, unknown types and missing weight files are
// errors naming the file and the model -- before any work starts.
//
// Types: "ultraface" = Ultra-Light-Fast-Generic-Face-Detector (ONNX, NCHW, outputs scores/boxes);
// "blazeface" = MediaPipe BlazeFace front 128 (ONNX, NHWC in [-1,1], SSD anchors decoded here);
// "cascade" = OpenCV Haar/LBP cascade (the no-DNN fallback, faces or plates).
//
// Thread-safety: a Detector is used by one thread at a time (OpenCV nets keep state).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace cv {
class Mat;
}

namespace geoshard::blur {

struct ModelSpec {
  std::string cls;    // "face" or "plate"
  std::string type;   // see above
  std::string weights;
  int input_width = 0, input_height = 0;
  double score_threshold = 0.5, nms_threshold = 0.3;
  std::string name;   // for audits: type + weights file name
};

// Reads and checks a models file (see above). Throws std::runtime_error naming the file.
std::vector<ModelSpec> read_models(const std::string& path);
// The models file shipped with geoshard (jobs/blur/models/default.toml).
std::string default_models_path();

struct Detection {
  std::string cls;
  double score = 0;
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // box in the input image's pixel coordinates (edges)
  std::string model;
};

class Detector {
 public:
  virtual ~Detector() = default;
  // Detections in an 8-bit BGR image, after the model's score threshold and NMS.
  virtual std::vector<Detection> detect(const cv::Mat& bgr) = 0;
  const ModelSpec& spec() const { return spec_; }

 protected:
  explicit Detector(ModelSpec s) : spec_(std::move(s)) {}
  ModelSpec spec_;
};

std::unique_ptr<Detector> make_detector(const ModelSpec& spec);

// Greedy non-maximum suppression by score (ties: earlier first): keeps a box unless it
// overlaps a kept one by IoU > threshold.
std::vector<Detection> nms(std::vector<Detection> d, double iou_threshold);
double iou(const Detection& a, const Detection& b);

}  // namespace geoshard::blur
