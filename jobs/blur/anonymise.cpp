#include "jobs/blur/anonymise.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <opencv2/core.hpp>
#include <stdexcept>

#include "kernels/projection.h"

namespace geoshard::blur {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Candidate {
  Region region;
  double x0, y0, x1, y1;  // bounding box of the first polygon (u normalised so its centre is in [0, W))
};

// The grown box (or plate quad) as a polygon in view/photo coordinates with pixel centres at
// integers: detectors report edges (pixel i spans [i, i+1]), so subtract 0.5.
std::vector<std::pair<double, double>> region_polygon(const Detection& d, const AnonymiseOptions& opt) {
  const double cx = (d.x0 + d.x1) / 2 - 0.5, cy = (d.y0 + d.y1) / 2 - 0.5;
  const double hw = (d.x1 - d.x0) / 2 * opt.grow, hh = (d.y1 - d.y0) / 2 * opt.grow;
  std::vector<std::pair<double, double>> p;
  if (d.cls == "face") {
    const int n = std::max(8, opt.ellipse_vertices);
    std::vector<double> u(n), v(n);
    ellipse_polygon(cx - hw, cy - hh, cx + hw, cy + hh, n, u.data(), v.data());
    for (int k = 0; k < n; ++k) p.emplace_back(u[k], v[k]);
  } else if (d.quad) {
    // A detector that gives the plate's corners (lpd_yunet): that quad, grown by the same factor
    // about its centre (the corners' mean), so a tilted plate is covered without its whole box.
    double qx = 0, qy = 0;
    for (const auto& [x, y] : *d.quad) qx += x / 4, qy += y / 4;
    for (const auto& [x, y] : *d.quad) p.emplace_back(qx + (x - qx) * opt.grow - 0.5, qy + (y - qy) * opt.grow - 0.5);
  } else {
    p = {{cx - hw, cy - hh}, {cx + hw, cy - hh}, {cx + hw, cy + hh}, {cx - hw, cy + hh}};
  }
  return p;
}

Candidate candidate(Region r, double W) {
  Candidate c{std::move(r), 1e300, 1e300, -1e300, -1e300};
  for (const auto& [u, v] : c.region.polygons[0]) {
    c.x0 = std::min(c.x0, u), c.x1 = std::max(c.x1, u), c.y0 = std::min(c.y0, v), c.y1 = std::max(c.y1, v);
  }
  if (W > 0) {
    const double shift = std::floor(((c.x0 + c.x1) / 2 + 0.5) / W) * W;
    c.x0 -= shift, c.x1 -= shift;
  }
  return c;
}

double box_iou(const Candidate& a, const Candidate& b, double W) {
  double best = 0;
  for (double s : W > 0 ? std::vector<double>{0, W, -W} : std::vector<double>{0}) {
    const Detection da{"", 0, a.x0, a.y0, a.x1, a.y1, ""}, db{"", 0, b.x0 + s, b.y0, b.x1 + s, b.y1, ""};
    best = std::max(best, iou(da, db));
  }
  return best;
}

// Duplicates (same class, IoU above the threshold) join the strongest region: their polygons are
// kept too (recall first: the union is blurred), the record keeps the best score.
std::vector<Region> merge(std::vector<Candidate> c, double iou_threshold, double W) {
  std::stable_sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.region.score > b.region.score; });
  std::vector<Candidate> kept;
  for (auto& x : c) {
    Candidate* into = nullptr;
    for (auto& k : kept)
      if (k.region.cls == x.region.cls && box_iou(k, x, W) > iou_threshold) {
        into = &k;
        break;
      }
    if (into) {
      for (auto& p : x.region.polygons) into->region.polygons.push_back(std::move(p));
    } else {
      kept.push_back(std::move(x));
    }
  }
  std::vector<Region> out;
  for (auto& k : kept) out.push_back(std::move(k.region));
  return out;
}

}  // namespace

std::vector<Region> find_regions(const cv::Mat& bgr, const std::string& projection, std::vector<Detector*>& detectors,
                                 const AnonymiseOptions& opt, AnonymiseStats* stats) {
  AnonymiseStats local;
  AnonymiseStats& st = stats ? *stats : local;
  const int W = bgr.cols, H = bgr.rows;
  std::vector<Candidate> cands;
  if (projection == "equirect") {
    if (W != 2 * H || W % 2) throw std::invalid_argument("equirect image must be 2:1 with an even width");
    const projection::Equirect e{W, H};
    const double fov = projection::rad(opt.view_fov_deg), overlap = projection::rad(opt.view_overlap_deg);
    const int nv = projection::equirect_views(e, fov, overlap, nullptr, 0);
    std::vector<projection::View> views(nv);
    projection::equirect_views(e, fov, overlap, views.data(), nv);
    st.views += nv;
    st.oversampling = projection::view_oversampling(views[0], e);
    for (int k = 0; k < nv; ++k) {
      const projection::View& w = views[k];
      auto t = Clock::now();
      cv::Mat view(w.height, w.width, CV_8UC3);
      render_equirect_view(bgr.data, W, H, 3, static_cast<int64_t>(bgr.step), w, view.data, static_cast<int64_t>(view.step));
      st.views_seconds += since(t);
      for (Detector* d : detectors) {
        t = Clock::now();
        const auto found = d->detect(view);
        st.detect_seconds += since(t);
        st.detections += found.size();
        t = Clock::now();
        for (const Detection& det : found) {
          const auto poly = region_polygon(det, opt);
          std::vector<double> xs, ys;
          for (const auto& [x, y] : poly) xs.push_back(x), ys.push_back(y);
          const int m = static_cast<int>(xs.size()), cap = m * opt.edge_samples + 3;
          std::vector<double> u(cap), v(cap);
          const int n = projection::view_polygon_outline(w, e, xs.data(), ys.data(), m, opt.edge_samples, u.data(), v.data(), cap);
          Region r{det.cls, det.model, det.score, k, {{}}};
          for (int i = 0; i < n; ++i) r.polygons[0].emplace_back(u[i], v[i]);
          cands.push_back(candidate(std::move(r), W));
        }
        st.backproject_seconds += since(t);
      }
    }
    return merge(std::move(cands), opt.merge_iou, W);
  }
  // A planar photo: as it is, and in overlapping tiles when large (small faces survive the
  // detectors' downscaling there).
  std::vector<cv::Rect> tiles = {cv::Rect(0, 0, W, H)};
  if (std::max(W, H) > opt.tile) {
    const int step = opt.tile * 3 / 4;
    for (int y = 0; y < H; y += step)
      for (int x = 0; x < W; x += step) {
        tiles.emplace_back(x, y, std::min(opt.tile, W - x), std::min(opt.tile, H - y));
        if (x + opt.tile >= W) break;
      }
  }
  for (size_t ti = 0; ti < tiles.size(); ++ti) {
    const cv::Mat part = bgr(tiles[ti]);
    for (Detector* d : detectors) {
      auto t = Clock::now();
      auto found = d->detect(part);
      st.detect_seconds += since(t);
      st.detections += found.size();
      for (Detection det : found) {
        det.x0 += tiles[ti].x, det.x1 += tiles[ti].x, det.y0 += tiles[ti].y, det.y1 += tiles[ti].y;
        if (det.quad)
          for (auto& [x, y] : *det.quad) x += tiles[ti].x, y += tiles[ti].y;
        cands.push_back(candidate(Region{det.cls, det.model, det.score, static_cast<int>(ti) - 1, {region_polygon(det, opt)}}, 0));
      }
    }
  }
  st.views += static_cast<int>(tiles.size());
  return merge(std::move(cands), opt.merge_iou, 0);
}

uint64_t apply_regions(cv::Mat& bgr, bool equirect, const std::vector<Region>& regions, const AnonymiseOptions& opt) {
  uint64_t written = 0;
  const int W = bgr.cols, H = bgr.rows;
  std::vector<double> u, v;
  for (const Region& r : regions)
    for (const auto& poly : r.polygons) {
      for (double shift : equirect ? std::vector<double>{0, static_cast<double>(W), -static_cast<double>(W)} : std::vector<double>{0}) {
        u.clear(), v.clear();
        for (const auto& [x, y] : poly) u.push_back(x + shift), v.push_back(y);
        written += blur_region(bgr.data, W, H, 3, static_cast<int64_t>(bgr.step), u.data(), v.data(), static_cast<int>(u.size()), opt.blur);
      }
    }
  return written;
}

}  // namespace geoshard::blur
