#include "jobs/render/render.h"

#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "io/area_table.h"
#include "io/ogr_source.h"
#include "kernels/geodesic.h"

namespace geoshard::render {
namespace {

constexpr int kMinSize = 64, kMaxSize = 20000;
// Sub-pixel precision of the drawing calls (cv::polylines `shift`): 1/16 px.
constexpr int kShift = 4;
constexpr double kFixed = 1 << kShift;
constexpr double kMetresPerDegLat = kEarthRadiusM * kDegToRad;

cv::Scalar bgr(Rgb c) { return cv::Scalar(c.b, c.g, c.r); }

std::string fmt_deg(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

std::string bbox_text(double a, double b, double c, double d) {
  return fmt_deg(a) + "," + fmt_deg(b) + "," + fmt_deg(c) + "," + fmt_deg(d);
}

// ---- geometry in image space --------------------------------------------------------------

struct Rect {
  double x0, y0, x1, y1;
};

// Liang-Barsky: clips segment a-b to r in place. False when nothing is left (or a coordinate
// is not finite).
bool clip_segment(Px& a, Px& b, const Rect& r) {
  if (!std::isfinite(a.x) || !std::isfinite(a.y) || !std::isfinite(b.x) || !std::isfinite(b.y)) return false;
  const double dx = b.x - a.x, dy = b.y - a.y;
  double t0 = 0, t1 = 1;
  auto edge = [&](double p, double q) {  // the part with p * t <= q is inside
    if (p == 0) return q >= 0;
    const double t = q / p;
    if (p < 0) {
      if (t > t1) return false;
      t0 = std::max(t0, t);
    } else {
      if (t < t0) return false;
      t1 = std::min(t1, t);
    }
    return true;
  };
  if (!edge(-dx, a.x - r.x0) || !edge(dx, r.x1 - a.x) || !edge(-dy, a.y - r.y0) || !edge(dy, r.y1 - a.y)) return false;
  const Px a0 = a;
  if (t1 < 1) b = {a0.x + t1 * dx, a0.y + t1 * dy};
  if (t0 > 0) a = {a0.x + t0 * dx, a0.y + t0 * dy};
  return true;
}

// OpenCV puts integer coordinates at pixel centres; ours put them at pixel corners.
cv::Point fixed(Px p) {
  return {static_cast<int>(std::lround((p.x - 0.5) * kFixed)), static_cast<int>(std::lround((p.y - 0.5) * kFixed))};
}

// Draws and measures polylines. Segments are clipped to the image widened by a margin (so
// that coordinates far outside never reach OpenCV's fixed-point arithmetic, and the ends of a
// thick line just outside still show), and measured inside the image proper.
class Painter {
 public:
  Painter(cv::Mat& img, int margin)
      : img_(img),
        draw_{-double(margin), -double(margin), double(img.cols + margin), double(img.rows + margin)},
        view_{0, 0, double(img.cols), double(img.rows)} {}

  // Length in pixels of the part of the polyline inside the image (nothing is drawn).
  double visible_px(const Px* p, size_t n) const {
    double len = 0;
    for (size_t i = 1; i < n; ++i) {
      Px a = p[i - 1], b = p[i];
      if (clip_segment(a, b, view_)) len += std::hypot(b.x - a.x, b.y - a.y);
    }
    return len;
  }

  // True when some part of the polyline lies in the image (a zero-length piece counts: it is
  // drawn as a dot).
  bool visible(const Px* p, size_t n) const {
    for (size_t i = 1; i < n; ++i) {
      Px a = p[i - 1], b = p[i];
      if (clip_segment(a, b, view_)) return true;
    }
    return false;
  }

  // The point halfway along the visible part of the polyline; false when nothing is visible.
  bool visible_middle(const Px* p, size_t n, Px& mid) const {
    const double half = visible_px(p, n) / 2;
    if (!(half > 0)) return false;
    double run = 0;
    for (size_t i = 1; i < n; ++i) {
      Px a = p[i - 1], b = p[i];
      if (!clip_segment(a, b, view_)) continue;
      const double l = std::hypot(b.x - a.x, b.y - a.y);
      if (run + l >= half) {
        const double t = l > 0 ? (half - run) / l : 0;
        mid = {a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)};
        return true;
      }
      run += l;
    }
    return false;
  }

  void polyline(const Px* p, size_t n, Rgb colour, int thickness) {
    runs_.clear();
    bool open = false;  // the last run ends at p[i - 1] unclipped: the next segment continues it
    for (size_t i = 1; i < n; ++i) {
      Px a = p[i - 1], b = p[i];
      if (!clip_segment(a, b, draw_)) {
        open = false;
        continue;
      }
      const bool a_kept = a.x == p[i - 1].x && a.y == p[i - 1].y;
      if (!(open && a_kept)) runs_.emplace_back().push_back(fixed(a));
      runs_.back().push_back(fixed(b));
      open = b.x == p[i].x && b.y == p[i].y;
    }
    if (!runs_.empty()) cv::polylines(img_, runs_, false, bgr(colour), thickness, cv::LINE_AA, kShift);
  }

 private:
  cv::Mat& img_;
  Rect draw_, view_;
  std::vector<std::vector<cv::Point>> runs_;
};

// ---- text ------------------------------------------------------------------------------------

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Text with a white halo (drawn twice: thick white, then the colour), baseline-left at `org`.
void halo_text(cv::Mat& img, const std::string& s, cv::Point org, double scale, Rgb colour, int thickness = 1) {
  cv::putText(img, s, org, kFont, scale, bgr(kBackground), thickness + 3, cv::LINE_AA);
  cv::putText(img, s, org, kFont, scale, bgr(colour), thickness, cv::LINE_AA);
}

// ---- roads -----------------------------------------------------------------------------------

// Drawing order (higher on top) and base line width (px at 1600 px wide) of a highway class.
struct RoadStyle {
  int rank;
  double width;
};

RoadStyle road_style(std::string_view highway) {
  std::string_view h = highway;
  const bool link = h.size() > 5 && h.substr(h.size() - 5) == "_link";
  if (link) h = h.substr(0, h.size() - 5);
  RoadStyle s{1, 1.0};  // service, track and anything unknown
  if (h == "motorway" || h == "trunk") s = {7, 5.0};
  else if (h == "primary") s = {6, 4.0};
  else if (h == "secondary") s = {5, 3.0};
  else if (h == "tertiary") s = {4, 3.0};
  else if (h == "residential" || h == "unclassified" || h == "living_street" || h == "road") s = {3, 2.0};
  else if (h == "footway" || h == "path" || h == "cycleway" || h == "steps" || h == "pedestrian" || h == "bridleway" ||
           h == "corridor" || h == "crossing" || h == "platform")
    s = {0, 1.0};
  if (link) s = {std::max(1, s.rank - 1), std::max(1.0, s.width - 1)};  // ramps: one step thinner
  return s;
}

struct Road {
  int64_t id = 0;
  size_t line_begin = 0, line_end = 0;  // into Scene::lines
  int area = -1;                        // into Scene::areas; -1 = no primary area
  int rank = 0, thickness = 1;
  bool link = false, carriageway = false;
  int64_t cw_a = 0, cw_b = 0;           // a link's carriageways (0 = unknown)
  double visible_px = 0;
  std::string label;                    // label_links only: "id highway name oneway=..."
};

struct Line {
  size_t first, count;  // into Scene::pts
};

struct Scene {
  std::vector<Px> pts;
  std::vector<Line> lines;
  std::vector<Road> roads;
  std::vector<AreaLength> areas;
  std::unordered_map<std::string, int> area_index;
};

// Parses "a;b" (link_carriageways) into two ids; false when malformed.
bool parse_pair(const char* s, int64_t& a, int64_t& b) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  a = std::strtoll(s, &end, 10);
  if (end == s || *end != ';' || errno) return false;
  const char* t = end + 1;
  b = std::strtoll(t, &end, 10);
  return end != t && *end == '\0' && !errno;
}

// Adds the line strings of g (LineString or MultiLineString, any dimension) projected by vp.
// A vertex within a quarter pixel of the last one kept is dropped (the last vertex never is): a
// zoomed-out view of a large map keeps a few vertices per road instead of all of them.
void add_lines(const OGRGeometry* g, const Viewport& vp, Scene& sc) {
  if (!g) return;
  const OGRwkbGeometryType t = wkbFlatten(g->getGeometryType());
  if (t == wkbLineString) {
    const auto* ls = g->toLineString();
    const size_t first = sc.pts.size();
    const int n = ls->getNumPoints();
    for (int i = 0; i < n; ++i) {
      const Px p = vp.to_px(ls->getX(i), ls->getY(i));
      if (sc.pts.size() > first && i + 1 < n) {
        const Px& q = sc.pts.back();
        if (std::abs(p.x - q.x) < 0.25 && std::abs(p.y - q.y) < 0.25) continue;
      }
      sc.pts.push_back(p);
    }
    if (sc.pts.size() - first >= 2) sc.lines.push_back({first, sc.pts.size() - first});
    else sc.pts.resize(first);
  } else if (t == wkbMultiLineString || t == wkbGeometryCollection) {
    const OGRGeometryCollection* c = g->toGeometryCollection();
    for (int i = 0; i < c->getNumGeometries(); ++i) add_lines(c->getGeometryRef(i), vp, sc);
  }
}

// Area layers of the roads layer: L with fields `L_id` and `L_name` (MapWriter's columns), in
// field order. `road_id` is the road's own id, not a layer.
std::vector<std::string> area_layers_of(OGRFeatureDefn* defn) {
  std::vector<std::string> out;
  for (int i = 0; i < defn->GetFieldCount(); ++i) {
    const std::string f = defn->GetFieldDefn(i)->GetNameRef();
    if (f.size() <= 3 || f.substr(f.size() - 3) != "_id" || f == "road_id") continue;
    const std::string l = f.substr(0, f.size() - 3);
    if (defn->GetFieldIndex((l + "_name").c_str()) >= 0) out.push_back(l);
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

struct Box {
  double min_lon, min_lat, max_lon, max_lat;
};

// Makes a derived box (extent, around roads) drawable at `width` pixels: its longer side is at
// least 100 m, and the shorter side is widened (about its centre) until the aspect is within 1:4..4:1
// and the image height within [kMinSize, kMaxSize]. Latitudes are kept in [-90, 90].
Box drawable(Box b, int width) {
  const double mid = (b.min_lat + b.max_lat) / 2;
  const double kx = std::max(1e-6, std::cos(mid * kDegToRad)) * kMetresPerDegLat;  // metres per degree of lon
  double wx = std::max(0.0, b.max_lon - b.min_lon) * kx, wy = std::max(0.0, b.max_lat - b.min_lat) * kMetresPerDegLat;
  if (std::max(wx, wy) < 100) (wx >= wy ? wx : wy) = 100;  // a point or a few metres: at least 100 m
  // height / width of the image, in [lo, hi]
  const double lo = std::max(0.25, (kMinSize + 0.5) / width), hi = std::min(4.0, (kMaxSize - 0.5) / width);
  const double want_x = std::max(wx, wy / hi), want_y = std::max(wy, wx * lo);
  const double grow_x = (want_x - (b.max_lon - b.min_lon) * kx) / 2 / kx;
  const double grow_y = (want_y - (b.max_lat - b.min_lat) * kMetresPerDegLat) / 2 / kMetresPerDegLat;
  b.min_lon -= std::max(0.0, grow_x);
  b.max_lon += std::max(0.0, grow_x);
  b.min_lat = std::max(-90.0, b.min_lat - std::max(0.0, grow_y));
  b.max_lat = std::min(90.0, b.max_lat + std::max(0.0, grow_y));
  return b;
}

// Widens a box by m metres on every side (east-west metres at its middle latitude).
Box widen(Box b, double m) {
  const double mid = (b.min_lat + b.max_lat) / 2;
  const double dlat = m / kMetresPerDegLat, dlon = dlat / std::max(1e-6, std::cos(mid * kDegToRad));
  return {b.min_lon - dlon, std::max(-90.0, b.min_lat - dlat), b.max_lon + dlon, std::min(90.0, b.max_lat + dlat)};
}

// The union of the bounding boxes of every feature of these road ids; throws naming the map
// and the ids that are absent (or have no geometry).
Box around_roads(OGRLayer* roads, const std::string& map, const std::vector<int64_t>& ids) {
  std::string where = "road_id IN (";
  for (size_t i = 0; i < ids.size(); ++i) where += (i ? "," : "") + std::to_string(ids[i]);
  where += ")";
  if (roads->SetAttributeFilter(where.c_str()) != OGRERR_NONE)
    throw std::runtime_error("cannot query road ids in '" + map + "': " + gdal_last_error());
  Box b{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
  std::set<int64_t> found;
  const int fid = roads->GetLayerDefn()->GetFieldIndex("road_id");
  roads->ResetReading();
  for (OGRFeatureUniquePtr f(roads->GetNextFeature()); f; f.reset(roads->GetNextFeature())) {
    const OGRGeometry* g = f->GetGeometryRef();
    if (!g || g->IsEmpty()) continue;
    OGREnvelope e;
    g->getEnvelope(&e);
    if (!std::isfinite(e.MinX) || !std::isfinite(e.MinY) || !std::isfinite(e.MaxX) || !std::isfinite(e.MaxY)) continue;
    found.insert(f->GetFieldAsInteger64(fid));
    b = {std::min(b.min_lon, e.MinX), std::min(b.min_lat, e.MinY), std::max(b.max_lon, e.MaxX),
         std::max(b.max_lat, e.MaxY)};
  }
  roads->SetAttributeFilter(nullptr);
  std::string missing;
  for (int64_t id : std::set<int64_t>(ids.begin(), ids.end()))
    if (!found.count(id)) missing += (missing.empty() ? "" : ", ") + std::to_string(id);
  if (!missing.empty())
    throw std::runtime_error("road ids not found in '" + map + "' (layer roads, field road_id): " + missing);
  return b;
}

void check_options(const RenderOptions& o) {
  const std::string who = "render '" + o.map + "': ";
  if (o.map.empty()) throw std::runtime_error("render: no map given");
  if (o.out.empty()) throw std::runtime_error(who + "no output path given");
  if (o.width < kMinSize || o.width > kMaxSize)
    throw std::runtime_error(who + "width " + std::to_string(o.width) + " px is out of [" + std::to_string(kMinSize) +
                             ", " + std::to_string(kMaxSize) + "]");
  if (o.has_bbox && !o.around_roads.empty())
    throw std::runtime_error(who + "give either a bbox or roads to look around, not both");
  if (o.has_bbox) {
    const std::string b = bbox_text(o.min_lon, o.min_lat, o.max_lon, o.max_lat);
    if (!std::isfinite(o.min_lon) || !std::isfinite(o.min_lat) || !std::isfinite(o.max_lon) ||
        !std::isfinite(o.max_lat))
      throw std::runtime_error(who + "bbox " + b + " is not finite");
    if (!(o.min_lon < o.max_lon) || !(o.min_lat < o.max_lat))
      throw std::runtime_error(who + "bbox " + b + " is empty (need min_lon < max_lon and min_lat < max_lat)");
    if (o.min_lon < -180 || o.max_lon > 180 || o.min_lat < -90 || o.max_lat > 90)
      throw std::runtime_error(who + "bbox " + b + " is outside lon [-180, 180], lat [-90, 90]");
  }
  if (!o.around_roads.empty() && !(std::isfinite(o.around_m) && o.around_m >= 0))
    throw std::runtime_error(who + "around_m must be a finite number of metres >= 0");
  // The output, before any work: a known image type in an existing folder.
  if (!cv::haveImageWriter(o.out))
    throw std::runtime_error("cannot write '" + o.out + "': OpenCV cannot write images of that extension (use .png)");
  const std::filesystem::path dir = std::filesystem::path(o.out).parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir))
    throw std::runtime_error("cannot write '" + o.out + "': folder '" + dir.string() + "' does not exist");
}

// ---- decorations ---------------------------------------------------------------------------

// Lightens the image under r (clipped) towards white, so text over the map stays readable.
void panel(cv::Mat& img, cv::Rect r) {
  r &= cv::Rect(0, 0, img.cols, img.rows);
  if (r.empty()) return;
  cv::Mat roi = img(r);
  cv::addWeighted(roi, 0.12, cv::Mat(roi.size(), roi.type(), bgr(kBackground)), 0.88, 0, roi);
  cv::rectangle(img, r, bgr(kBorderColour), 1);
}

void draw_legend(cv::Mat& img, const std::vector<LegendEntry>& rows, double ui, int top) {
  if (rows.empty()) return;
  const double fs = 0.45 * ui;
  int base = 0;
  const int th = cv::getTextSize("Ag", kFont, fs, 1, &base).height;
  const int pad = static_cast<int>(std::lround(6 * ui)), row_h = th + base + pad;
  const int sw = static_cast<int>(std::lround(26 * ui));
  int tw = 0;
  for (const auto& e : rows) tw = std::max(tw, cv::getTextSize(e.text, kFont, fs, 1, &base).width);
  const int bw = pad + sw + pad + tw + pad, bh = pad + static_cast<int>(rows.size()) * row_h;
  const int x0 = img.cols - bw - pad, y0 = top;
  panel(img, cv::Rect(x0, y0, bw, bh));
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& e = rows[i];
    const int y = y0 + pad + static_cast<int>(i) * row_h;  // top of the row
    const cv::Rect sw_rect(x0 + pad, y, sw, th + base);
    const int cy = y + (th + base) / 2;
    const int lw = std::max(2, static_cast<int>(std::lround(3 * ui)));
    // Line swatches end a line width inside the swatch box (round caps stick out by half of it).
    const cv::Point l0(sw_rect.x + lw, cy), l1(sw_rect.x + sw - lw, cy);
    switch (e.kind) {
      case LegendEntry::Kind::kArea:
      case LegendEntry::Kind::kNoArea:
        cv::rectangle(img, sw_rect, bgr(e.colour), cv::FILLED);
        break;
      case LegendEntry::Kind::kLink:
        cv::line(img, l0, l1, bgr(e.colour), lw + 2, cv::LINE_AA);
        break;
      case LegendEntry::Kind::kCarriageway:
        cv::line(img, l0, l1, bgr(e.colour), lw + 4, cv::LINE_AA);
        cv::line(img, l0, l1, bgr(kNoAreaColour), lw, cv::LINE_AA);
        break;
      case LegendEntry::Kind::kMore:
        break;
    }
    cv::putText(img, e.text, {x0 + pad + sw + pad, y + th}, kFont, fs, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
}

void draw_scale_bar(cv::Mat& img, const ScaleBar& sb, double ui) {
  const int m = static_cast<int>(std::lround(14 * ui));
  const int x0 = m, x1 = m + static_cast<int>(std::lround(sb.px)), y = img.rows - m;
  const int lw = std::max(2, static_cast<int>(std::lround(3 * ui))), tick = static_cast<int>(std::lround(6 * ui));
  for (const auto& [colour, extra] : {std::pair{kBackground, 3}, std::pair{Rgb{0, 0, 0}, 0}}) {
    cv::line(img, {x0, y}, {x1, y}, bgr(colour), lw + extra);
    cv::line(img, {x0, y - tick}, {x0, y}, bgr(colour), std::max(1, lw / 2) + extra);
    cv::line(img, {x1, y - tick}, {x1, y}, bgr(colour), std::max(1, lw / 2) + extra);
  }
  halo_text(img, sb.label, {x0 + tick, y - tick - static_cast<int>(std::lround(3 * ui))}, 0.5 * ui, Rgb{0, 0, 0});
}

// Labels: near the middle of the visible road, moved up or down by a line when it would cover
// a label already placed, and kept inside the image.
class Labeller {
 public:
  Labeller(cv::Mat& img, double ui) : img_(img), fs_(0.4 * ui), gap_(static_cast<int>(std::lround(5 * ui))) {}

  void place(const std::string& text, Px at, Rgb colour) {
    int base = 0;
    const cv::Size ts = cv::getTextSize(text, kFont, fs_, 1, &base);
    const int h = ts.height + base + 2;
    cv::Rect best;
    for (int k : {0, -1, 1, -2, 2, -3, 3}) {
      cv::Rect r(static_cast<int>(at.x) + gap_, static_cast<int>(at.y) - gap_ - h + k * h, ts.width + 2, h);
      r.x = std::clamp(r.x, 1, std::max(1, img_.cols - r.width - 1));
      r.y = std::clamp(r.y, 1, std::max(1, img_.rows - r.height - 1));
      if (k == 0) best = r;
      const bool free =
          std::none_of(placed_.begin(), placed_.end(), [&](const cv::Rect& p) { return (p & r).area() > 0; });
      if (free) {
        best = r;
        break;
      }
    }
    placed_.push_back(best);
    halo_text(img_, text, {best.x + 1, best.y + ts.height + 1}, fs_, colour);
  }

 private:
  cv::Mat& img_;
  double fs_;
  int gap_;
  std::vector<cv::Rect> placed_;
};

uint64_t mix64(uint64_t z) {  // splitmix64's finaliser: every input bit moves every output bit
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

// ---- Viewport ------------------------------------------------------------------------------

double Viewport::height_for(double min_lon, double min_lat, double max_lon, double max_lat, int width) {
  const double c = std::cos((min_lat + max_lat) / 2 * kDegToRad);
  return std::round(width * (max_lat - min_lat) / ((max_lon - min_lon) * c));
}

Viewport Viewport::fit(double min_lon, double min_lat, double max_lon, double max_lat, int width) {
  if (!std::isfinite(min_lon) || !std::isfinite(min_lat) || !std::isfinite(max_lon) || !std::isfinite(max_lat) ||
      !(min_lon < max_lon) || !(min_lat < max_lat) || width < 1)
    throw std::invalid_argument("Viewport: empty or non-finite box " + bbox_text(min_lon, min_lat, max_lon, max_lat) +
                                " or width < 1");
  const double h = height_for(min_lon, min_lat, max_lon, max_lat, width);
  Viewport v;
  v.min_lon = min_lon;
  v.min_lat = min_lat;
  v.max_lon = max_lon;
  v.max_lat = max_lat;
  v.width = width;
  v.height = static_cast<int>(std::clamp(std::isfinite(h) ? h : 1.0, 1.0, 1e9));
  return v;
}

double Viewport::metres_per_px() const {
  const double mid = (min_lat + max_lat) / 2;
  return (max_lon - min_lon) * std::cos(mid * kDegToRad) * kMetresPerDegLat / width;
}

// ---- scale bar, colours, legend, text --------------------------------------------------------

ScaleBar scale_bar(double metres_per_px, int width) {
  ScaleBar s;
  if (!(metres_per_px > 0) || !std::isfinite(metres_per_px) || width <= 0) return s;
  const double target = metres_per_px * width / 5;
  const double p = std::pow(10.0, std::floor(std::log10(target)));
  double best = p, best_err = std::numeric_limits<double>::infinity();
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    const double err = std::abs(std::log(m * p / target));
    if (err < best_err) best = m * p, best_err = err;
  }
  s.metres = best;
  s.px = best / metres_per_px;
  char buf[48];
  if (best >= 1000) std::snprintf(buf, sizeof buf, "%g km", best / 1000);
  else std::snprintf(buf, sizeof buf, "%g m", best);
  s.label = buf;
  return s;
}

Rgb area_colour(std::string_view id) {
  // Qualitative colours, distinct in hue or lightness, dark enough for thin lines on white;
  // no grey, magenta or orange (the no-area, link and carriageway colours).
  static constexpr Rgb kPalette[] = {
      {31, 119, 180},  {44, 160, 44},  {214, 39, 40},   {148, 103, 189}, {140, 86, 75},  {23, 190, 207},
      {188, 189, 34},  {0, 0, 139},    {0, 100, 0},     {128, 0, 0},     {0, 128, 128},  {72, 61, 139},
      {154, 205, 50},  {153, 0, 76},   {46, 139, 87},   {100, 149, 237}};
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (unsigned char c : id) h = (h ^ c) * 0x100000001b3ULL;
  return kPalette[mix64(h) % (sizeof kPalette / sizeof kPalette[0])];
}

std::vector<LegendEntry> legend_entries(std::vector<AreaLength> areas, double no_area_m, bool links_known,
                                        size_t max_areas) {
  std::sort(areas.begin(), areas.end(), [](const AreaLength& a, const AreaLength& b) {
    return a.length_m != b.length_m ? a.length_m > b.length_m : a.id < b.id;
  });
  std::vector<LegendEntry> out;
  const size_t shown = std::min(max_areas, areas.size());
  for (size_t i = 0; i < shown; ++i) {
    const auto& a = areas[i];
    LegendEntry e;
    e.kind = LegendEntry::Kind::kArea;
    e.id = a.id;
    e.text = ascii_text(a.name.empty() ? a.id : a.name + " (" + a.id + ")");
    e.colour = area_colour(a.id);
    out.push_back(std::move(e));
  }
  if (areas.size() > shown) {
    const size_t k = areas.size() - shown;
    const std::string more = "+ " + std::to_string(k) + " more area" + (k > 1 ? "s" : "");
    out.push_back({LegendEntry::Kind::kMore, "", more, kBackground});
  }
  if (no_area_m > 0) out.push_back({LegendEntry::Kind::kNoArea, "", "no area", kNoAreaColour});
  if (links_known) {
    out.push_back({LegendEntry::Kind::kLink, "", "intersection link", kLinkColour});
    out.push_back({LegendEntry::Kind::kCarriageway, "", "carriageway of a link", kCarriagewayColour});
  }
  return out;
}

std::string ascii_text(std::string_view s) {
  // Base letters of U+00C0..U+00FF and U+0100..U+017F; '*' marks the few that need two letters.
  static constexpr char kLatin1[] =
      "AAAAAA*CEEEEIIII"
      "DNOOOOOxOUUUUY**"
      "aaaaaa*ceeeeiiii"
      "dnooooo/ouuuuy*y";
  static constexpr char kExtA[] =
      "AaAaAaCcCcCcCcDd"
      "DdEeEeEeEeEeGgGg"
      "GgGgHhHhIiIiIiIi"
      "Ii**JjKkkLlLlLlL"
      "lLlNnNnNnnNnOoOo"
      "Oo**RrRrRrSsSsSs"
      "SsTtTtTtUuUuUuUu"
      "UuUuWwYyYZzZzZzs";
  static_assert(sizeof(kLatin1) == 65 && sizeof(kExtA) == 129);
  auto two = [](uint32_t cp) -> const char* {
    switch (cp) {
      case 0xC6: return "AE";
      case 0xDE: return "Th";
      case 0xDF: return "ss";
      case 0xE6: return "ae";
      case 0xFE: return "th";
      case 0x132: return "IJ";
      case 0x133: return "ij";
      case 0x152: return "OE";
      case 0x153: return "oe";
      default: return "?";
    }
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    auto cont = [&](size_t k) { return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80; };
    auto bits = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
    uint32_t cp;
    size_t len;
    if (c < 0x80) cp = c, len = 1;
    else if ((c & 0xE0) == 0xC0 && c >= 0xC2 && cont(1)) cp = ((c & 0x1Fu) << 6) | bits(1), len = 2;
    else if ((c & 0xF0) == 0xE0 && cont(1) && cont(2)) cp = ((c & 0x0Fu) << 12) | (bits(1) << 6) | bits(2), len = 3;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3))
      cp = ((c & 0x07u) << 18) | (bits(1) << 12) | (bits(2) << 6) | bits(3), len = 4;
    else cp = 0xFFFFFFFFu, len = 1;  // an invalid byte
    i += len;

    if (cp < 0x20 || cp == 0x7F) out += ' ';
    else if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp >= 0x300 && cp <= 0x36F) continue;  // combining marks: the base letter stays
    else if (cp == 0xA0 || cp == 0x2007 || cp == 0x202F) out += ' ';
    else if (cp >= 0xC0 && cp <= 0xFF) {
      const char b = kLatin1[cp - 0xC0];
      if (b == '*') out += two(cp);
      else out += b;
    } else if (cp >= 0x100 && cp <= 0x17F) {
      const char b = kExtA[cp - 0x100];
      if (b == '*') out += two(cp);
      else out += b;
    } else if (cp == 0x1A0 || cp == 0x1AF) out += cp == 0x1A0 ? 'O' : 'U';
    else if (cp == 0x1A1 || cp == 0x1B0) out += cp == 0x1A1 ? 'o' : 'u';
    else if (cp >= 0x1EA0 && cp <= 0x1EF9) {  // Vietnamese: pairs of upper, lower case
      const uint32_t k = cp - 0x1EA0;
      const char up = k < 24 ? 'A' : k < 40 ? 'E' : k < 44 ? 'I' : k < 68 ? 'O' : k < 82 ? 'U' : 'Y';
      out += (k % 2) ? static_cast<char>(up - 'A' + 'a') : up;
    } else if (cp == 0x2018 || cp == 0x2019 || cp == 0x201A || cp == 0x2032) out += '\'';
    else if (cp == 0x201C || cp == 0x201D || cp == 0x201E || cp == 0x2033) out += '"';
    else if (cp >= 0x2010 && cp <= 0x2015) out += '-';
    else out += '?';
  }
  return out;
}

// ---- render_map ------------------------------------------------------------------------------

RenderSummary render_map(const RenderOptions& opt) {
  check_options(opt);
  const std::string& map = opt.map;
  GdalDatasetPtr ds = open_vector(map);
  OGRLayer* roads = vector_layer(*ds, map, "roads");
  OGRFeatureDefn* defn = roads->GetLayerDefn();
  const int f_id = defn->GetFieldIndex("road_id");
  if (f_id < 0)
    throw std::runtime_error("'" + map + "' layer roads has no field road_id (not a map from 'geoshard gather')");

  // The area layer.
  const std::vector<std::string> found = area_layers_of(defn);
  std::string layer = opt.layer;
  if (!layer.empty() && defn->GetFieldIndex((layer + "_id").c_str()) < 0)
    throw std::runtime_error("'" + map + "' layer roads has no field '" + layer + "_id' (area layers found: " +
                             (found.empty() ? std::string("none") : join(found)) + ")");
  if (layer.empty() && !found.empty()) layer = found.front();
  const int f_area = layer.empty() ? -1 : defn->GetFieldIndex((layer + "_id").c_str());
  const int f_area_name = layer.empty() ? -1 : defn->GetFieldIndex((layer + "_name").c_str());
  const int f_highway = defn->GetFieldIndex("highway"), f_name = defn->GetFieldIndex("name"),
            f_oneway = defn->GetFieldIndex("oneway");
  const int f_link = defn->GetFieldIndex("intersection_link"), f_cw = defn->GetFieldIndex("link_carriageways");

  // Area borders: read before any drawing so that a bad areas.h5 fails early.
  AreaLayer borders;
  std::string border_layer = layer;
  if (!opt.areas.empty()) {
    const std::vector<std::string> names = area_layer_names(opt.areas);
    if (border_layer.empty() && !names.empty()) border_layer = names.front();
    if (std::find(names.begin(), names.end(), border_layer) == names.end())
      throw std::runtime_error("'" + opt.areas + "' has no area layer '" + border_layer + "' (it has: " +
                               (names.empty() ? std::string("none") : join(names)) + ")");
    borders = read_area_layer(opt.areas, border_layer);
    try {
      borders.validate();
    } catch (const std::exception& e) {
      throw std::runtime_error("'" + opt.areas + "': " + e.what());
    }
  }

  // The view.
  Box box{opt.min_lon, opt.min_lat, opt.max_lon, opt.max_lat};
  if (!opt.has_bbox) {
    if (!opt.around_roads.empty()) {
      box = drawable(widen(around_roads(roads, map, opt.around_roads), opt.around_m), opt.width);
    } else {
      OGREnvelope e;
      if (roads->GetExtent(&e, TRUE) != OGRERR_NONE || !(e.MinX <= e.MaxX) || !(e.MinY <= e.MaxY))
        throw std::runtime_error("'" + map + "' layer roads is empty: nothing to render (give a bbox)");
      const double mx = (e.MaxX - e.MinX) * 0.02, my = (e.MaxY - e.MinY) * 0.02;
      box = drawable({e.MinX - mx, std::max(-90.0, e.MinY - my), e.MaxX + mx, std::min(90.0, e.MaxY + my)}, opt.width);
    }
  }
  const double h = Viewport::height_for(box.min_lon, box.min_lat, box.max_lon, box.max_lat, opt.width);
  if (!(h >= kMinSize && h <= kMaxSize)) {
    const std::string high = std::isfinite(h) ? std::to_string(static_cast<long long>(h)) : std::string("inf");
    throw std::runtime_error("render '" + map + "': the view " +
                             bbox_text(box.min_lon, box.min_lat, box.max_lon, box.max_lat) + " at " +
                             std::to_string(opt.width) + " px wide is " + high + " px high, outside [" +
                             std::to_string(kMinSize) + ", " + std::to_string(kMaxSize) +
                             "]: change the box's aspect or the width");
  }
  const Viewport vp = Viewport::fit(box.min_lon, box.min_lat, box.max_lon, box.max_lat, opt.width);
  const double ui = std::clamp(opt.width / 1600.0, 0.6, 3.0);  // scale of lines and text
  const double mpp = vp.metres_per_px();
  const int margin = static_cast<int>(std::ceil(20 * ui));

  // Read the roads in view: only the fields we draw with.
  {
    std::set<std::string> keep = {"road_id", "highway", "name", "oneway", "intersection_link", "link_carriageways"};
    if (!layer.empty()) keep.insert({layer + "_id", layer + "_name"});
    std::vector<std::string> ignored = {"OGR_STYLE"};
    for (int i = 0; i < defn->GetFieldCount(); ++i)
      if (!keep.count(defn->GetFieldDefn(i)->GetNameRef())) ignored.push_back(defn->GetFieldDefn(i)->GetNameRef());
    std::vector<const char*> c_ignored;
    for (const auto& s : ignored) c_ignored.push_back(s.c_str());
    c_ignored.push_back(nullptr);
    roads->SetIgnoredFields(c_ignored.data());
  }
  const double pad_deg_lon = margin * (vp.max_lon - vp.min_lon) / vp.width;
  const double pad_deg_lat = margin * (vp.max_lat - vp.min_lat) / vp.height;
  roads->SetSpatialFilterRect(vp.min_lon - pad_deg_lon, vp.min_lat - pad_deg_lat, vp.max_lon + pad_deg_lon,
                              vp.max_lat + pad_deg_lat);
  roads->ResetReading();

  cv::Mat img(vp.height, vp.width, CV_8UC3, bgr(kBackground));
  Painter painter(img, margin);
  Scene sc;
  double no_area_px = 0;
  gdal_last_error();
  for (OGRFeatureUniquePtr f(roads->GetNextFeature()); f; f.reset(roads->GetNextFeature())) {
    Road r;
    r.line_begin = sc.lines.size();
    add_lines(f->GetGeometryRef(), vp, sc);
    r.line_end = sc.lines.size();
    bool seen = false;
    for (size_t l = r.line_begin; l < r.line_end; ++l) {
      r.visible_px += painter.visible_px(&sc.pts[sc.lines[l].first], sc.lines[l].count);
      seen = seen || painter.visible(&sc.pts[sc.lines[l].first], sc.lines[l].count);
    }
    if (!seen) {  // only its bounding box met the view
      sc.pts.resize(r.line_begin < r.line_end ? sc.lines[r.line_begin].first : sc.pts.size());
      sc.lines.resize(r.line_begin);
      continue;
    }
    r.id = f->GetFieldAsInteger64(f_id);
    const char* highway = f_highway >= 0 ? f->GetFieldAsString(f_highway) : "";
    const RoadStyle st = road_style(highway);
    r.rank = st.rank;
    r.thickness = std::max(1, static_cast<int>(std::lround(st.width * ui)));
    if (f_area >= 0 && f->IsFieldSetAndNotNull(f_area) && *f->GetFieldAsString(f_area)) {
      const std::string id = f->GetFieldAsString(f_area);
      auto [it, added] = sc.area_index.try_emplace(id, static_cast<int>(sc.areas.size()));
      if (added) sc.areas.push_back({id, f_area_name >= 0 ? f->GetFieldAsString(f_area_name) : "", 0});
      r.area = it->second;
      sc.areas[r.area].length_m += r.visible_px * mpp;
    } else {
      no_area_px += r.visible_px;
    }
    if (f_link >= 0 && f->IsFieldSetAndNotNull(f_link) && f->GetFieldAsInteger(f_link) == 1) {
      r.link = true;
      if (f_cw >= 0) parse_pair(f->GetFieldAsString(f_cw), r.cw_a, r.cw_b);
    }
    if (opt.label_links) {
      std::string oneway = f_oneway >= 0 ? f->GetFieldAsString(f_oneway) : "";
      std::string name = f_name >= 0 ? f->GetFieldAsString(f_name) : "";
      r.label = ascii_text(std::to_string(r.id) + (*highway ? std::string(" ") + highway : "") +
                           (name.empty() ? "" : " " + name) + (oneway.empty() ? "" : " oneway=" + oneway));
      if (r.label.size() > 80) r.label = r.label.substr(0, 77) + "...";
    }
    sc.roads.push_back(std::move(r));
  }
  const std::string read_error = gdal_last_error();
  if (!read_error.empty()) throw std::runtime_error("cannot read layer roads of '" + map + "': " + read_error);

  // Carriageways of the links in view.
  std::unordered_set<int64_t> cw_ids;
  for (const Road& r : sc.roads)
    if (r.link) {
      if (r.cw_a) cw_ids.insert(r.cw_a);
      if (r.cw_b) cw_ids.insert(r.cw_b);
    }
  RenderSummary sum;
  for (Road& r : sc.roads) {
    r.carriageway = cw_ids.count(r.id) > 0;
    ++sum.roads_drawn;
    sum.links_drawn += r.link;
    sum.carriageways_drawn += r.carriageway;
  }

  // Area borders: thin grey lines under the roads.
  if (!borders.id.empty()) {
    const int bw = std::max(1, static_cast<int>(std::lround(ui)));
    std::vector<Px> ring;
    for (size_t a = 0; a < borders.areas(); ++a) {
      if (borders.max_lon[a] < vp.min_lon || borders.min_lon[a] > vp.max_lon || borders.max_lat[a] < vp.min_lat ||
          borders.min_lat[a] > vp.max_lat)
        continue;
      bool seen = false;
      for (uint64_t p = borders.polygon_offset[a]; p < borders.polygon_offset[a + 1]; ++p)
        for (uint64_t k = borders.ring_offset[p]; k < borders.ring_offset[p + 1]; ++k) {
          ring.clear();
          for (uint64_t v = borders.vertex_offset[k]; v < borders.vertex_offset[k + 1]; ++v)
            ring.push_back(vp.to_px(borders.lon[v], borders.lat[v]));
          seen = seen || painter.visible(ring.data(), ring.size());
          painter.polyline(ring.data(), ring.size(), kBorderColour, bw);
        }
      sum.areas_drawn += seen;
    }
  }

  // Roads: carriageway casings first, then roads by class (minor under major), then links.
  auto draw_road = [&](const Road& r, Rgb colour, int thickness) {
    for (size_t l = r.line_begin; l < r.line_end; ++l)
      painter.polyline(&sc.pts[sc.lines[l].first], sc.lines[l].count, colour, thickness);
  };
  const int casing = std::max(3, static_cast<int>(std::lround(3 * ui)));
  for (const Road& r : sc.roads)
    if (r.carriageway) draw_road(r, kCarriagewayColour, r.thickness + 2 * casing);
  std::vector<size_t> order(sc.roads.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Roads without an area are context: under every coloured road, whatever their class.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Road &x = sc.roads[a], &y = sc.roads[b];
    return std::pair(x.area >= 0, x.rank) < std::pair(y.area >= 0, y.rank);
  });
  for (size_t i : order) {
    const Road& r = sc.roads[i];
    if (!r.link) draw_road(r, r.area >= 0 ? area_colour(sc.areas[r.area].id) : kNoAreaColour, r.thickness);
  }
  const int link_w = std::max(3, static_cast<int>(std::lround(4 * ui)));
  for (size_t i : order) {
    const Road& r = sc.roads[i];
    if (r.link) draw_road(r, kLinkColour, std::max(link_w, r.thickness + 2));
  }

  // Labels of links and their carriageways.
  if (opt.label_links) {
    Labeller lab(img, ui);
    for (const Road& r : sc.roads) {
      if (!r.link && !r.carriageway) continue;
      Px mid;
      double best = 0;
      for (size_t l = r.line_begin; l < r.line_end; ++l) {  // the middle of its longest visible line
        const double v = painter.visible_px(&sc.pts[sc.lines[l].first], sc.lines[l].count);
        if (v > best && painter.visible_middle(&sc.pts[sc.lines[l].first], sc.lines[l].count, mid)) best = v;
      }
      if (best > 0) lab.place(r.label, mid, r.link ? Rgb{139, 0, 139} : Rgb{150, 70, 0});
    }
  }

  // Title, legend, scale bar.
  const std::string title = ascii_text(std::filesystem::path(map).filename().string() + "   layer: " +
                                       (layer.empty() ? "(none)" : layer) + "   bbox: " +
                                       bbox_text(vp.min_lon, vp.min_lat, vp.max_lon, vp.max_lat));
  int base = 0;
  const double title_fs = 0.5 * ui;
  const cv::Size ts = cv::getTextSize(title, kFont, title_fs, 1, &base);
  const int m = static_cast<int>(std::lround(8 * ui));
  halo_text(img, title, {m, m + ts.height}, title_fs, Rgb{0, 0, 0});
  draw_legend(img, legend_entries(sc.areas, no_area_px * mpp, f_link >= 0), ui, 2 * m + ts.height + base);
  draw_scale_bar(img, scale_bar(mpp, vp.width), ui);

  bool ok = false;
  std::string why;
  try {
    // Full deflate effort for PNG (OpenCV's default favours speed): quick-looks go into docs.
    ok = cv::imwrite(opt.out, img, {cv::IMWRITE_PNG_COMPRESSION, 9});
  } catch (const cv::Exception& e) {
    why = std::string(": ") + e.what();
  }
  if (!ok)
    throw std::runtime_error("cannot write '" + opt.out + "'" + (why.empty() ? ": the image writer failed" : why));

  sum.width = vp.width;
  sum.height = vp.height;
  sum.out = opt.out;
  sum.layer = layer;
  sum.min_lon = vp.min_lon;
  sum.min_lat = vp.min_lat;
  sum.max_lon = vp.max_lon;
  sum.max_lat = vp.max_lat;
  return sum;
}

}  // namespace geoshard::render
