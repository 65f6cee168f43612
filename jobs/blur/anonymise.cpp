#include "jobs/blur/anonymise.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <opencv2/core.hpp>
#include <stdexcept>

#include "io/image_table.h"
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
// as_box: a face cut by the photo's edge (wide / fisheye views) is its grown box, not the
// ellipse inscribed in it: the ellipse would miss the corners where the edge cuts the face.
std::vector<std::pair<double, double>> region_polygon(const Detection& d, const AnonymiseOptions& opt, bool as_box = false) {
  const double cx = (d.x0 + d.x1) / 2 - 0.5, cy = (d.y0 + d.y1) / 2 - 0.5;
  const double hw = (d.x1 - d.x0) / 2 * opt.grow, hh = (d.y1 - d.y0) / 2 * opt.grow;
  std::vector<std::pair<double, double>> p;
  if (d.cls == "face" && !as_box) {
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

// Sutherland-Hodgman clip of a polygon to the rectangle [x0, x1] x [y0, y1]: the pixel centres
// inside the rectangle that the polygon covers (even-odd) are exactly those the result covers.
std::vector<std::pair<double, double>> clip_to_rect(std::vector<std::pair<double, double>> p, double x0, double y0,
                                                    double x1, double y1) {
  for (int side = 0; side < 4 && !p.empty(); ++side) {
    auto inside = [&](const std::pair<double, double>& q) {
      return side == 0 ? q.first >= x0 : side == 1 ? q.first <= x1 : side == 2 ? q.second >= y0 : q.second <= y1;
    };
    auto cross = [&](const std::pair<double, double>& a, const std::pair<double, double>& b) {
      const double lim = side == 0 ? x0 : side == 1 ? x1 : side == 2 ? y0 : y1;
      const double pa = side < 2 ? a.first : a.second, pb = side < 2 ? b.first : b.second;
      const double t = (lim - pa) / (pb - pa);
      std::pair<double, double> q{a.first + t * (b.first - a.first), a.second + t * (b.second - a.second)};
      (side < 2 ? q.first : q.second) = lim;
      return q;
    };
    std::vector<std::pair<double, double>> out;
    for (size_t i = 0; i < p.size(); ++i) {
      const auto& a = p[(i + p.size() - 1) % p.size()];
      const auto& b = p[i];
      if (inside(b)) {
        if (!inside(a)) out.push_back(cross(a, b));
        out.push_back(b);
      } else if (inside(a)) {
        out.push_back(cross(a, b));
      }
    }
    p = std::move(out);
  }
  return p;
}

// The search through perspective views that 360° and wide photos share: the views rendered
// kViewsPerBatch at a time by render(first view index, the Mats to fill), every detector run on
// each view in order, and each detection handed to found(view index, detection); the stages
// are timed into st.
template <class Render, class Found>
void search_views(const std::vector<projection::View>& views, std::vector<Detector*>& detectors, AnonymiseStats& st,
                  Render&& render, Found&& found) {
  const int nv = static_cast<int>(views.size());
  std::vector<cv::Mat> rendered;
  for (int k0 = 0; k0 < nv; k0 += kViewsPerBatch) {
    auto t = Clock::now();
    rendered.clear();
    for (int j = k0; j < std::min(nv, k0 + kViewsPerBatch); ++j) rendered.emplace_back(views[j].height, views[j].width, CV_8UC3);
    render(k0, rendered);
    st.views_seconds += since(t);
    for (size_t i = 0; i < rendered.size(); ++i)
      for (Detector* d : detectors) {
        t = Clock::now();
        const auto dets = d->detect(rendered[i]);
        st.detect_seconds += since(t);
        st.detections += dets.size();
        t = Clock::now();
        for (const Detection& det : dets) found(k0 + static_cast<int>(i), det);
        st.backproject_seconds += since(t);
      }
  }
}

// A wide pinhole or fisheye photo (already upright) through perspective views.
std::vector<Region> find_regions_camera(const cv::Mat& bgr, const projection::Camera& cam, std::vector<Detector*>& detectors,
                                        const AnonymiseOptions& opt, AnonymiseStats& st) {
  const int W = bgr.cols, H = bgr.rows;
  const double fov = projection::rad(opt.view_fov_deg), overlap = projection::rad(opt.view_overlap_deg);
  const int nv = projection::camera_views(cam, fov, overlap, nullptr, 0);
  std::vector<projection::View> views(nv);
  projection::camera_views(cam, fov, overlap, views.data(), nv);
  st.views += nv;
  double over = 0;
  for (const auto& w : views) {
    double u, v;
    if (projection::camera_pixel(cam, projection::direction(w.yaw, w.pitch), &u, &v) && u >= -0.5 && u <= W - 0.5 &&
        v >= -0.5 && v <= H - 0.5) {
      const double o = projection::camera_view_oversampling(w, cam);
      over = over == 0 ? o : std::min(over, o);
    }
  }
  st.oversampling = over;
  std::vector<Candidate> cands;
  const ImageRef source{bgr.data, W, H, 3, static_cast<int64_t>(bgr.step)};
  auto render = [&](int k0, std::vector<cv::Mat>& mats) {
    std::vector<CameraViewRequest> batch;
    for (size_t i = 0; i < mats.size(); ++i)
      batch.push_back(CameraViewRequest{0, cam, views[k0 + i], mats[i].data, static_cast<int64_t>(mats[i].step)});
    backend::render_camera_views(opt.backend, std::span<const ImageRef>(&source, 1), batch);
  };
  search_views(views, detectors, st, render, [&](int k, const Detection& det) {
    const projection::View& w = views[k];
    // Does the box (one view pixel wider) reach off the photo? Its outline, densely.
    bool cut = false;
    {
      const double bx[4] = {det.x0 - 1.5, det.x1 + 0.5, det.x1 + 0.5, det.x0 - 1.5};
      const double by[4] = {det.y0 - 1.5, det.y0 - 1.5, det.y1 + 0.5, det.y1 + 0.5};
      for (int q = 0; q < 4 * opt.edge_samples && !cut; ++q) {
        const int e = q / opt.edge_samples, nx = (e + 1) % 4;
        const double f = static_cast<double>(q % opt.edge_samples) / opt.edge_samples;
        double su, sv;
        cut = !projection::view_to_camera(w, cam, bx[e] + f * (bx[nx] - bx[e]), by[e] + f * (by[nx] - by[e]), &su, &sv) ||
              !(su >= -0.5 && su <= W - 0.5 && sv >= -0.5 && sv <= H - 0.5);
      }
    }
    const auto poly = region_polygon(det, opt, cut);
    std::vector<double> xs, ys;
    for (const auto& [x, y] : poly) xs.push_back(x), ys.push_back(y);
    const int m = static_cast<int>(xs.size()), cap = 2 * m * opt.edge_samples + projection::kFisheyeBackSamples + 2;
    std::vector<double> u(cap), v(cap);
    const int n = projection::view_polygon_to_camera(w, cam, xs.data(), ys.data(), m, opt.edge_samples, u.data(), v.data(), cap);
    std::vector<std::pair<double, double>> ring;
    for (int i = 0; i < std::min(n, cap); ++i) ring.emplace_back(u[i], v[i]);
    // Beyond the photo nothing is blurred: clip there (one pixel out, so no centre changes side).
    ring = clip_to_rect(std::move(ring), -1, -1, W, H);
    if (ring.size() < 3) return;
    Region r{det.cls, det.model, det.score, k, {std::move(ring)}};
    cands.push_back(candidate(std::move(r), 0));
  });
  return merge(std::move(cands), opt.merge_iou, 0);
}

}  // namespace

cv::Mat upright(const cv::Mat& stored, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 1: return stored;
    case 2: cv::flip(stored, out, 1); break;
    case 3: cv::rotate(stored, out, cv::ROTATE_180); break;
    case 4: cv::flip(stored, out, 0); break;
    case 5: cv::transpose(stored, out); break;
    case 6: cv::rotate(stored, out, cv::ROTATE_90_CLOCKWISE); break;
    case 7: {
      cv::Mat t;
      cv::transpose(stored, t);
      cv::flip(t, out, -1);
      break;
    }
    case 8: cv::rotate(stored, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: throw std::invalid_argument("EXIF orientation " + std::to_string(orientation) + " (expected 1..8)");
  }
  return out;
}

void upright_to_stored(int orientation, int W, int H, double x, double y, double* sx, double* sy) {
  switch (orientation) {
    case 2: *sx = W - 1 - x, *sy = y; break;
    case 3: *sx = W - 1 - x, *sy = H - 1 - y; break;
    case 4: *sx = x, *sy = H - 1 - y; break;
    case 5: *sx = y, *sy = x; break;
    case 6: *sx = y, *sy = H - 1 - x; break;
    case 7: *sx = W - 1 - y, *sy = H - 1 - x; break;
    case 8: *sx = W - 1 - y, *sy = x; break;
    default: *sx = x, *sy = y; break;
  }
}

double search_megapixels(int width, int height, const std::string& projection, double hfov_deg, int orientation,
                         const AnonymiseOptions& opt) {
  const double own = width * static_cast<double>(height) / 1e6;
  if (width <= 0 || height <= 0) return 0;
  const bool turned = orientation >= 5 && orientation <= 8;
  const int W = turned ? height : width, H = turned ? width : height;
  const double fov = projection::rad(opt.view_fov_deg), overlap = projection::rad(opt.view_overlap_deg);
  auto views_mp = [&](const std::vector<projection::View>& views, bool pole_turns) {  // (turns: equirect only)
    double mp = 0;
    for (const auto& v : views)
      mp += v.width * static_cast<double>(v.height) / 1e6 *
            (pole_turns && std::fabs(v.pitch) > projection::kPi / 2 - 1e-9 ? std::max(1, opt.pole_rotations) : 1);
    return mp;
  };
  if (projection == "equirect" && W == 2 * H && W % 2 == 0) {
    const projection::Equirect e{W, H};
    std::vector<projection::View> views(projection::equirect_views(e, fov, overlap, nullptr, 0));
    projection::equirect_views(e, fov, overlap, views.data(), static_cast<int>(views.size()));
    return views_mp(views, true);
  }
  if (projection == "fisheye" || (projection != "equirect" && std::isfinite(hfov_deg) && hfov_deg > opt.view_fov_deg)) {
    const bool fisheye = projection == "fisheye";
    const double hfov = projection::rad(fisheye && !std::isfinite(hfov_deg) ? opt.fisheye_default_hfov_deg : hfov_deg);
    if (!(hfov > 0) || hfov >= (fisheye ? 2 * projection::kPi : projection::kPi)) return own;
    const projection::Camera cam = fisheye ? projection::fisheye_camera(W, H, hfov) : projection::pinhole_camera(W, H, hfov);
    std::vector<projection::View> views(projection::camera_views(cam, fov, overlap, nullptr, 0));
    projection::camera_views(cam, fov, overlap, views.data(), static_cast<int>(views.size()));
    return views_mp(views, false);
  }
  // Planar: the photo, plus its tiles when large (as find_regions tiles it).
  double mp = own;
  if (std::max(W, H) > opt.tile) {
    const int step = opt.tile * 3 / 4;
    for (int y = 0; y < H; y += step)
      for (int x = 0; x < W; x += step) {
        mp += std::min(opt.tile, W - x) * static_cast<double>(std::min(opt.tile, H - y)) / 1e6;
        if (x + opt.tile >= W) break;
      }
  }
  return mp;
}

std::vector<Region> find_regions(const cv::Mat& bgr, const std::string& projection, double hfov_deg, int orientation,
                                 std::vector<Detector*>& detectors, const AnonymiseOptions& opt, AnonymiseStats* stats) {
  if (orientation < 1 || orientation > 8)
    throw std::invalid_argument("EXIF orientation " + std::to_string(orientation) + " (expected 1..8)");
  const bool fisheye = projection == "fisheye";
  // The one rule for fields of view (io/image_table.h), also checked at ingest and by the job.
  if (const std::string p = field_of_view_problem(projection == "equirect" || fisheye ? projection : "perspective",
                                                  fisheye && std::isnan(hfov_deg) ? opt.fisheye_default_hfov_deg : hfov_deg);
      !p.empty())
    throw std::invalid_argument(p);
  AnonymiseStats local;
  AnonymiseStats& st = stats ? *stats : local;
  const cv::Mat up = upright(bgr, orientation);
  std::vector<Region> regions;
  if (fisheye || (projection != "equirect" && std::isfinite(hfov_deg) && hfov_deg > opt.view_fov_deg)) {
    const double hfov = projection::rad(fisheye && !std::isfinite(hfov_deg) ? opt.fisheye_default_hfov_deg : hfov_deg);
    const projection::Camera cam = fisheye ? projection::fisheye_camera(up.cols, up.rows, hfov)
                                           : projection::pinhole_camera(up.cols, up.rows, hfov);
    regions = find_regions_camera(up, cam, detectors, opt, st);
  } else {
    regions = find_regions(up, projection == "equirect" ? "equirect" : "perspective", detectors, opt, &st);
  }
  if (orientation == 1) return regions;
  if (projection == "equirect") {
    // The seam copies in upright coordinates, as polygons of their own, before turning.
    const double Wu = up.cols;
    for (Region& r : regions) {
      const size_t n = r.polygons.size();
      for (size_t i = 0; i < n; ++i) {
        double lo = 1e300, hi = -1e300;
        for (const auto& [x, y] : r.polygons[i]) lo = std::min(lo, x), hi = std::max(hi, x);
        for (double s : {Wu, -Wu})
          if (lo + s <= Wu - 0.5 && hi + s >= -0.5) {
            auto copy = r.polygons[i];
            for (auto& q : copy) q.first += s;
            r.polygons.push_back(std::move(copy));
          }
      }
    }
  }
  for (Region& r : regions)
    for (auto& poly : r.polygons)
      for (auto& [x, y] : poly) {
        double sx, sy;
        upright_to_stored(orientation, bgr.cols, bgr.rows, x, y, &sx, &sy);
        x = sx, y = sy;
      }
  return regions;
}

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
    for (int k = 0; k < nv; ++k)  // the pole views, turned (AnonymiseOptions::pole_rotations)
      if (std::fabs(views[k].pitch) > projection::kPi / 2 - 1e-9)
        for (int r = 1; r < opt.pole_rotations; ++r) {
          projection::View w = views[k];
          w.yaw += 2 * projection::kPi * r / opt.pole_rotations;
          if (w.yaw > projection::kPi) w.yaw -= 2 * projection::kPi;
          views.push_back(w);
        }
    const int nv_all = static_cast<int>(views.size());
    st.views += nv_all;
    st.oversampling = projection::view_oversampling(views[0], e);
    const ImageRef source{bgr.data, W, H, 3, static_cast<int64_t>(bgr.step)};
    auto render = [&](int k0, std::vector<cv::Mat>& mats) {
      std::vector<ViewRequest> batch;
      for (size_t i = 0; i < mats.size(); ++i)
        batch.push_back(ViewRequest{0, views[k0 + i], mats[i].data, static_cast<int64_t>(mats[i].step)});
      backend::render_equirect_views(opt.backend, std::span<const ImageRef>(&source, 1), batch);
    };
    search_views(views, detectors, st, render, [&](int k, const Detection& det) {
      const auto poly = region_polygon(det, opt);
      std::vector<double> xs, ys;
      for (const auto& [x, y] : poly) xs.push_back(x), ys.push_back(y);
      const int m = static_cast<int>(xs.size()), cap = m * opt.edge_samples + 3;
      std::vector<double> u(cap), v(cap);
      const int n = projection::view_polygon_outline(views[k], e, xs.data(), ys.data(), m, opt.edge_samples, u.data(), v.data(), cap);
      Region r{det.cls, det.model, det.score, k, {{}}};
      for (int i = 0; i < n; ++i) r.polygons[0].emplace_back(u[i], v[i]);
      cands.push_back(candidate(std::move(r), W));
    });
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
  const RegionPhoto one{&bgr, equirect, &regions};
  return apply_regions(std::span<const RegionPhoto>(&one, 1), opt);
}

uint64_t apply_regions(std::span<const RegionPhoto> photos, const AnonymiseOptions& opt) {
  // Every polygon (and its seam copies) of every photo in one batch, each photo's blurred in
  // its order (regions of different photos never interact).
  std::vector<double> u, v;
  std::vector<RegionRequest> batch;
  std::vector<ImageBuffer> images;
  for (size_t i = 0; i < photos.size(); ++i) {
    cv::Mat& bgr = *photos[i].bgr;
    if (bgr.type() != CV_8UC3) throw std::invalid_argument("apply_regions: photos must be 8-bit BGR");
    const int W = bgr.cols;
    images.push_back(ImageBuffer{bgr.data, W, bgr.rows, 3, static_cast<int64_t>(bgr.step)});
    for (const Region& r : *photos[i].regions)
      for (const auto& poly : r.polygons) {
        for (double shift : photos[i].equirect ? std::vector<double>{0, static_cast<double>(W), -static_cast<double>(W)}
                                               : std::vector<double>{0}) {
          const uint32_t first = static_cast<uint32_t>(u.size());
          for (const auto& [x, y] : poly) u.push_back(x + shift), v.push_back(y);
          batch.push_back(RegionRequest{static_cast<uint32_t>(i), first, static_cast<int>(poly.size())});
        }
      }
  }
  return backend::blur_regions(opt.backend, images, u, v, batch, opt.blur);
}

}  // namespace geoshard::blur
