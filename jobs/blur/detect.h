// Detectors for the imagery chain (DESIGN.md step 3), pluggable by a models file (TOML):
//
//   [[model]]
//   class = "face"                # face | plate
//   type = "ultraface"            # ultraface | blazeface | cascade | lpd_yunet | yolo
//   weights = "${GEOSHARD_MODELS}/blazeface/face_detection_front_128x128_barracuda.onnx"
//   input_width = 320             # network input (DNN types); cascades: min object size
//   input_height = 240
//   score_threshold = 0.5         # keep detections scoring at least this (recall first: low)
//   nms_threshold = 0.3           # IoU above which the weaker of two boxes is dropped
//   cfg = "yolov4-plates.cfg"     # yolo only (required): the darknet network description
//   class_ids = [0]               # yolo only (required): the network's class indices that are this class
//
// Paths are relative to the models file; ${GEOSHARD_MODELS} is $GEOSHARD_MODELS or
// ~/.cache/geoshard/models (where ./setup puts BlazeFace), ${OPENCV_DATA} is /usr/share/opencv4
// (Debian opencv-data: Haar cascades). Unknown keys, unknown types, missing weight or cfg files,
// keys of another type and bad class_ids are errors naming the file and the model -- before any
// work starts.
//
// Types: "ultraface" = Ultra-Light-Fast-Generic-Face-Detector (ONNX, NCHW, outputs scores/boxes);
// "blazeface" = MediaPipe BlazeFace front 128 (ONNX, NHWC in [-1,1], SSD anchors decoded here);
// "cascade" = OpenCV Haar/LBP cascade (the no-DNN fallback, faces or plates);
// "lpd_yunet" = OpenCV Zoo's LPD-YuNet licence-plate detector (ONNX, *_2023mar.onnx; the *_int8
//   variant needs com.microsoft.QLinearSoftmax, which OpenCV 4.6 lacks: a load error). The
//   network is fully convolutional: the image is scaled, aspect kept, to fit inside
//   input_width x input_height (320 x 240 in the zoo demo) and padded right/bottom to a multiple
//   of 64. Outputs loc [N,14], conf [N,2] (softmax), iou [N,1] over YuNet priors (strides 8, 16,
//   32, 64 with square sizes {10,16,24}, {32,48}, {64,96}, {128,192,256} px; cells row-major,
//   sizes innermost), decoded here: corner = prior centre + loc[4 + 2k] * 0.1 * prior size for
//   the landmarks k = 0, 1, 3, 4 (k = 2 is the centre); score = sqrt(conf[1] * clamp(iou, 0, 1)).
//   A candidate is dropped when its corners' bounding box and the box head (loc[0..3]) disagree
//   (IoU < 0.35: featureless sky gives such "plates" with corners far outside the image). The
//   detection's box is the corners' bounding box; it carries the quad (corners clockwise on
//   screen) when the quad is plausible (convex, corners within 90 +- 35 degrees, none near the
//   centre -- on EU plates the two corners besides top-left and bottom-right are unreliable);
//   otherwise it is just the box;
// "yolo" = darknet YOLO (v3/v4 [yolo] layers) through cv::dnn::readNetFromDarknet(cfg, weights):
//   the image is resized plainly (no letterbox: darknet's default letter_box=0, as YOLOv4 was
//   trained, and OpenCV's sample) to input_width x input_height, RGB in [0, 1]. Every output row
//   is cx, cy, w, h (normalised: fractions of the image), objectness, then per class OpenCV's
//   objectness x class probability (already multiplied; zeroed under the [yolo] layer's thresh,
//   0.2 unless the cfg sets thresh=); score = the largest of those over class_ids. The weights
//   file must hold every parameter the cfg needs (OpenCV would load a short file silently).
//
// Thread-safety: a Detector is used by one thread at a time (OpenCV nets keep state).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
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
  std::string cfg = {};             // yolo: the darknet .cfg (resolved like weights)
  std::vector<int> class_ids = {};  // yolo: the network's class indices reported as `cls`
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
  // Detectors that find quadrilaterals (lpd_yunet) also give the 4 corners, in the same pixel
  // coordinates, in order around the quad (clockwise on screen); the box is their bounding box.
  std::optional<std::array<std::pair<double, double>, 4>> quad = std::nullopt;
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
