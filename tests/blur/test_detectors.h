// Detectors and helpers shared by the blur tests (tests/blur): oracle detectors that find
// painted targets, a detector that counts the pixels it is given, and EXIF orientation helpers.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "jobs/blur/anonymise.h"
#include "jobs/blur/detect.h"

namespace geoshard::blur::test_support {

// Finds the red painted pixels of a view: bounding boxes of connected components (edges).
class OracleDetector : public Detector {
 public:
  explicit OracleDetector(std::string cls) : Detector(ModelSpec{cls, "oracle", "", 0, 0, 0.5, 0.3, "oracle"}) {}
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    ++calls;
    cv::Mat mask;
    cv::inRange(bgr, cv::Scalar(0, 0, 100), cv::Scalar(100, 100, 255), mask);  // BGR: red
    cv::Mat labels, stats, centroids;
    const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8);
    std::vector<Detection> out;
    for (int i = 1; i < n; ++i) {
      const int x = stats.at<int>(i, cv::CC_STAT_LEFT), y = stats.at<int>(i, cv::CC_STAT_TOP);
      const int w = stats.at<int>(i, cv::CC_STAT_WIDTH), h = stats.at<int>(i, cv::CC_STAT_HEIGHT);
      out.push_back(Detection{spec_.cls, 1.0, double(x), double(y), double(x + w), double(y + h), "oracle"});
    }
    return out;
  }
  int calls = 0;
};

// An EXIF APP1 payload holding only the Orientation tag (TIFF big-endian, one IFD entry).
inline std::string exif_orientation(int o) {
  std::string s("Exif\0\0", 6);
  const unsigned char tiff[] = {'M', 'M', 0, 42, 0, 0, 0, 8,                      // header, IFD at 8
                                0, 1,                                             // one entry
                                0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, static_cast<unsigned char>(o), 0, 0,  // 274 SHORT 1 = o
                                0, 0, 0, 0};                                      // no next IFD
  s.append(reinterpret_cast<const char*>(tiff), sizeof tiff);
  return s;
}

// Fires only on upright content: a red blob with a blue bar right above it (as a face detector
// fires on an upright face only). Returns the red blob's box.
class UprightDetector : public Detector {
 public:
  UprightDetector() : Detector(ModelSpec{"face", "upright-oracle", "", 0, 0, 0.5, 0.3, "upright-oracle"}) {}
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    cv::Mat red, blue, labels, stats, centroids;
    cv::inRange(bgr, cv::Scalar(0, 0, 150), cv::Scalar(100, 100, 255), red);
    cv::inRange(bgr, cv::Scalar(150, 0, 0), cv::Scalar(255, 100, 100), blue);
    const int n = cv::connectedComponentsWithStats(red, labels, stats, centroids, 8);
    std::vector<Detection> out;
    for (int i = 1; i < n; ++i) {
      const int x = stats.at<int>(i, 0), y = stats.at<int>(i, 1), w = stats.at<int>(i, 2), h = stats.at<int>(i, 3);
      const int band = std::max(4, h / 3);  // rows just above (and below) the blob, scale-free
      if (w < 6 || h < 6 || y < band) continue;
      // Blue across the middle of the block's width, in the rows just above it; none below.
      const int above = cv::countNonZero(blue(cv::Rect(x + w / 4, y - band, w / 2, band)));
      const int below = y + h + band <= bgr.rows ? cv::countNonZero(blue(cv::Rect(x + w / 4, y + h, w / 2, band))) : 0;
      if (above > w / 2 && below == 0)
        out.push_back(Detection{"face", 1.0, double(x), double(y), double(x + w), double(y + h), "upright-oracle"});
    }
    return out;
  }
};

// The stored pixels that orientation o turns into `up` (the inverse of upright()).
inline cv::Mat stored_for(const cv::Mat& up, int o) {
  cv::Mat s;
  if (o == 6) cv::rotate(up, s, cv::ROTATE_90_COUNTERCLOCKWISE);
  else if (o == 8) cv::rotate(up, s, cv::ROTATE_90_CLOCKWISE);
  else s = upright(up, o);  // 1-5 and 7 are their own inverses
  return s;
}

// search_megapixels (the blur plan's weight) is exactly the pixels the detectors are given by
// find_regions: a detector that only counts them, over every kind of photo.
class CountingDetector : public Detector {
 public:
  CountingDetector() : Detector(ModelSpec{"face", "counting", "", 0, 0, 0.5, 0.3, "counting"}) {}
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    pixels += bgr.total();
    return {};
  }
  double pixels = 0;
};

}  // namespace geoshard::blur::test_support
