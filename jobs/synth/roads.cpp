#include "jobs/synth/roads.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "jobs/synth/rng.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"

namespace geoshard::synth::detail {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180;

enum class Stage { urban, intercity, countryside };

struct Attrs {
  const char* highway = "residential";
  const RoadName* names = nullptr;  // null: unnamed
  Lang lang = Lang::en;
  const char* oneway = "no";
  const char* maxspeed = "";
  bool connector = false;
  bool dual = false;
};

// ---------------------------------------------------------------------------------------------
// The FlatGeobuf sink: cuts the last road to the segment budget and keeps the statistics.
class RoadWriter {
 public:
  RoadWriter(const std::string& path, uint64_t budget, const std::function<void(double)>& progress)
      : path_(path), budget_(budget), progress_(progress) {
    GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("FlatGeobuf");
    if (!drv) throw std::runtime_error("GDAL has no FlatGeobuf driver (needed for " + path + ")");
    CPLErrorReset();
    ds_ = drv->Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr);
    if (!ds_) throw std::runtime_error("cannot create " + path + ": " + CPLGetLastErrorMsg());
    OGRSpatialReference srs;
    srs.importFromEPSG(4326);
    srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    char** opts = CSLSetNameValue(nullptr, "SPATIAL_INDEX", "NO");
    layer_ = ds_->CreateLayer("roads", &srs, wkbLineString, opts);
    CSLDestroy(opts);
    if (!layer_) fail("cannot create the roads layer");
    add_field("id", OFTInteger64);
    add_field("highway", OFTString);
    add_field("name", OFTString);
    for (const char* f : {"name:ms", "name:th", "name:vi", "name:en"}) add_field(f, OFTString);
    add_field("oneway", OFTString);
    add_field("maxspeed", OFTString);
    add_field("gt_intersection_link", OFTInteger, OFSTBoolean);
    OGRFeatureDefn* d = layer_->GetLayerDefn();
    const char* lang_fields[4] = {"name:ms", "name:th", "name:vi", "name:en"};  // Lang order
    for (int k = 0; k < 4; ++k) {
      f_lang_[k] = d->GetFieldIndex(lang_fields[k]);
      if (f_lang_[k] < 0) fail(std::string("field ") + lang_fields[k] + " was not created");
    }
    feat_ = OGRFeature::CreateFeature(d);
    next_progress_ = std::max<uint64_t>(1, budget_ / 200);
  }

  ~RoadWriter() {
    if (feat_) OGRFeature::DestroyFeature(feat_);
    if (ds_) GDALClose(ds_);
  }

  uint64_t remaining() const { return budget_ - stats_.segments; }
  bool full() const { return stats_.segments >= budget_; }
  Stage stage = Stage::urban;

  // Writes one road of lon/lat vertices, cut to the budget. False once the budget is used up.
  bool emit(std::vector<XY>& ll, const Attrs& a) {
    if (ll.size() < 2) return !full();
    if (full()) return false;
    uint64_t segs = ll.size() - 1;
    if (segs > remaining()) {
      segs = remaining();
      ll.resize(segs + 1);
    }
    feat_->SetFID(OGRNullFID);
    feat_->SetField(0, static_cast<GIntBig>(++stats_.roads));
    feat_->SetField(1, a.highway);
    feat_->SetField(2, a.names ? a.names->name.c_str() : "");
    for (int k = 0; k < 4; ++k) feat_->SetFieldNull(f_lang_[k]);
    if (a.names) {
      if (!a.names->local.empty() && a.lang != Lang::en) feat_->SetField(f_lang_[static_cast<int>(a.lang)], a.names->local.c_str());
      if (!a.names->en.empty()) feat_->SetField(f_lang_[3], a.names->en.c_str());
    }
    feat_->SetField(7, a.oneway);
    feat_->SetField(8, a.maxspeed);
    feat_->SetField(9, a.connector ? 1 : 0);
    auto* ls = new OGRLineString();
    ls->setNumPoints(static_cast<int>(ll.size()), FALSE);
    for (size_t k = 0; k < ll.size(); ++k) ls->setPoint(static_cast<int>(k), ll[k].x, ll[k].y);
    feat_->SetGeometryDirectly(ls);
    if (layer_->CreateFeature(feat_) != OGRERR_NONE) fail("cannot write road " + std::to_string(stats_.roads));

    // statistics
    stats_.segments += segs;
    (stage == Stage::urban ? stats_.urban : stage == Stage::intercity ? stats_.intercity : stats_.countryside) += segs;
    if (a.connector) ++stats_.connectors;
    if (a.dual) ++stats_.dual;
    for (size_t k = 0; k + 1 < ll.size(); ++k) {
      const double m = haversine_m(ll[k].x, ll[k].y, ll[k + 1].x, ll[k + 1].y);
      stats_.km += m / 1000;
      const double mx = (ll[k].x + ll[k + 1].x) / 2, my = (ll[k].y + ll[k + 1].y) / 2;
      const uint32_t key = static_cast<uint32_t>(geohash::zkey(mx, my) >> (64 - 25));  // geohash-5 cell
      if (key != last_cell_ || !last_km_) last_km_ = &cell_km_[key];
      last_cell_ = key;
      last_km_->km += m / 1000;
      last_km_->urban |= stage == Stage::urban;
    }
    if (progress_ && stats_.segments >= next_progress_) {
      progress_(0.02 + 0.97 * static_cast<double>(stats_.segments) / static_cast<double>(budget_));
      next_progress_ = stats_.segments + std::max<uint64_t>(1, budget_ / 200);
    }
    return !full();
  }

  RoadStats close() {
    delete_feature();
    CPLErrorReset();
    ds_->FlushCache();
    if (CPLGetLastErrorType() == CE_Failure) fail("cannot flush");
    GDALClose(ds_);
    ds_ = nullptr;
    if (CPLGetLastErrorType() == CE_Failure) throw std::runtime_error("cannot finish " + path_ + ": " + CPLGetLastErrorMsg());
    std::vector<double> v, rural;
    v.reserve(cell_km_.size());
    for (auto& [k, cell] : cell_km_) {
      v.push_back(cell.km);
      if (!cell.urban) rural.push_back(cell.km);
    }
    std::sort(v.begin(), v.end());
    std::sort(rural.begin(), rural.end());
    CellDensity& c = stats_.cells;
    c.rural_cells = rural.size();
    if (!rural.empty()) c.rural_p50_km = rural[rural.size() / 2];
    c.cells = v.size();
    if (!v.empty()) {
      auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))]; };
      c.min_km = v.front();
      c.max_km = v.back();
      c.p10_km = pct(0.10);
      c.p50_km = pct(0.50);
      c.p90_km = pct(0.90);
      c.p99_km = pct(0.99);
    }
    return stats_;
  }

 private:
  void add_field(const char* name, OGRFieldType t, OGRFieldSubType st = OFSTNone) {
    OGRFieldDefn f(name, t);
    f.SetSubType(st);
    if (layer_->CreateField(&f) != OGRERR_NONE) fail(std::string("cannot create field ") + name);
  }
  void delete_feature() {
    if (feat_) OGRFeature::DestroyFeature(feat_);
    feat_ = nullptr;
  }
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + " in " + path_ + ": " + CPLGetLastErrorMsg());
  }

  std::string path_;
  uint64_t budget_;
  const std::function<void(double)>& progress_;
  GDALDataset* ds_ = nullptr;
  OGRLayer* layer_ = nullptr;
  OGRFeature* feat_ = nullptr;
  int f_lang_[4] = {-1, -1, -1, -1};
  RoadStats stats_;
  uint64_t next_progress_ = 1;
  struct Cell {
    double km = 0;
    bool urban = false;  // holds a segment of a city grid
  };
  std::unordered_map<uint32_t, Cell> cell_km_;
  uint32_t last_cell_ = 0;
  Cell* last_km_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
struct LineStyle {
  const char* highway = "residential";
  RoadName names;
  bool named = true;
  const char* oneway = "no";
  bool reverse = false;
  const char* maxspeed = "";
};

// One urban's streets. Lattice point (i, j) is shared bit-for-bit by every street through it, so
// the graph is connected at the vertices; a dual avenue replaces it by its two carriageway points.
class CityRoads {
 public:
  CityRoads(const World& w, const Urban& u, RoadWriter& out) : w_(w), u_(u), out_(out) {
    n_ = static_cast<int>(std::ceil(u.rmax() / u.b)) + 1;
    W_ = 2 * n_ + 1;
    pos_.resize(static_cast<size_t>(W_) * W_);
    rh_.resize(pos_.size());
    gcell_.assign(pos_.size(), 0);
    for (int i = -n_; i <= n_; ++i)
      for (int j = -n_; j <= n_; ++j) {
        const XY p = u.lattice(i, j);
        pos_[idx(i, j)] = p;
        rh_[idx(i, j)] = static_cast<float>(u.rho_hat(p));
      }
    for (const auto& g : u.gated_ranges)
      for (int i = g.i0; i < g.i1; ++i)
        for (int j = g.j0; j < g.j1; ++j)
          if (in_range(i, j)) gcell_[idx(i, j)] = 1;
    ex_ = u.grid_to_local(1, 0);
    ey_ = u.grid_to_local(0, 1);
  }

  void run() {
    horizontal();
    if (!out_.full()) vertical();
    if (!out_.full()) compounds();
    if (!out_.full()) alleys();
  }

 private:
  size_t idx(int i, int j) const { return static_cast<size_t>(i + n_) * W_ + static_cast<size_t>(j + n_); }
  bool in_range(int i, int j) const { return i >= -n_ && i <= n_ && j >= -n_ && j <= n_; }
  float rh(int i, int j) const { return rh_[idx(i, j)]; }
  bool inU(int i, int j) const { return in_range(i, j) && rh_[idx(i, j)] < 0.97f; }
  static int level(float r) { return r < 0.6f ? 0 : r < 0.85f ? 1 : 2; }
  bool active(int k, float r) const { return u_.avenue(k) || (k & ((1 << level(r)) - 1)) == 0; }
  bool gc(int i, int j) const { return in_range(i, j) && gcell_[idx(i, j)]; }
  bool seg_h(int i, int j) const {
    if (!inU(i, j) || !inU(i + 1, j)) return false;
    if (!active(j, std::max(rh(i, j), rh(i + 1, j)))) return false;
    return !(gc(i, j - 1) && gc(i, j));
  }
  bool seg_v(int i, int j) const {
    if (!inU(i, j) || !inU(i, j + 1)) return false;
    if (!active(i, std::max(rh(i, j), rh(i, j + 1)))) return false;
    return !(gc(i - 1, j) && gc(i, j));
  }
  bool dual_at(int i, int j) const { return u_.dual_line(i) && (seg_v(i, j - 1) || seg_v(i, j)); }

  XY P(int i, int j) const { return pos_[idx(i, j)]; }
  XY mid_h(int i, int j) const {
    const XY a = P(i, j), b = P(i + 1, j);
    const double t = (unit(hkey(u_.key, 8, i, j)) - 0.5) * 0.06 * u_.b;
    return {(a.x + b.x) / 2 + ey_.x * t, (a.y + b.y) / 2 + ey_.y * t};
  }
  XY mid_v(int i, int j) const {
    const XY a = P(i, j), b = P(i, j + 1);
    const double t = (unit(hkey(u_.key, 9, i, j)) - 0.5) * 0.06 * u_.b;
    return {(a.x + b.x) / 2 + ex_.x * t, (a.y + b.y) / 2 + ex_.y * t};
  }
  XY shift(XY p, double s) const { return {p.x + ex_.x * s * u_.dual_offset, p.y + ex_.y * s * u_.dual_offset}; }
  XY Q(int i, int j, int side) const { return shift(P(i, j), side); }
  XY Mv(int i, int j, int side) const { return shift(mid_v(i, j), side); }
  XY grid(double gu, double gv) const { return u_.grid_to_local(gu, gv); }

  bool emit_local(std::vector<XY>& local, const Attrs& a, bool reverse = false) {
    if (reverse) std::reverse(local.begin(), local.end());
    ll_.clear();
    for (XY p : local) ll_.push_back(u_.to_lonlat(p));
    return out_.emit(ll_, a);
  }

  Attrs attrs(const LineStyle& s) const {
    Attrs a;
    a.highway = s.highway;
    a.names = s.named ? &s.names : nullptr;
    a.lang = u_.lang;
    a.oneway = s.oneway;
    a.maxspeed = s.maxspeed;
    return a;
  }

  LineStyle style(bool vertical, int k) const {
    LineStyle s;
    Rng r(hkey(u_.key, 30, vertical, k));
    const int half = std::max(4, u_.A / 2);
    if (u_.avenue(k)) {
      const bool primary = ((k % (2 * u_.A)) + 2 * u_.A) % (2 * u_.A) == 0;
      s.highway = primary ? "primary" : "secondary";
      s.names = avenue_name(u_.lang, hkey(u_.key, 31, vertical, k));
      s.maxspeed = r.chance(0.3) ? "" : primary ? "60" : "50";
    } else if (((k % half) + half) % half == 0) {
      s.highway = "tertiary";
      s.names = avenue_name(u_.lang, hkey(u_.key, 31, vertical, k));
      s.maxspeed = r.chance(0.5) ? "" : "40";
    } else {
      s.highway = "residential";
      s.names = street_name(u_.lang, hkey(u_.key, 32, vertical, k), 1 + std::abs(k) % 99);
      s.named = !r.chance(0.08);
      const double p = r.uniform();
      s.oneway = p < 0.10 ? "yes" : p < 0.13 ? "-1" : "no";
      s.reverse = r.chance(0.5);
      s.maxspeed = r.chance(0.2) ? "30" : "";
    }
    return s;
  }

  void horizontal() {
    for (int j = -n_; j <= n_ && !out_.full(); ++j) {
      int i = -n_;
      while (i < n_ && !out_.full()) {
        if (!seg_h(i, j)) {
          ++i;
          continue;
        }
        const int ia = i;
        while (i < n_ && seg_h(i, j)) ++i;
        run_h(j, ia, i);
      }
    }
  }

  void run_h(int j, int ia, int ib) {
    const LineStyle s = style(false, j);
    const Attrs a = attrs(s);
    Rng r(hkey(u_.key, 20, j, ia));
    for (int st = ia; st < ib;) {
      int e = std::min(ib, st + 6 + static_cast<int>(r.below(15)));
      while (e < ib && dual_at(e, j)) ++e;
      buf_.clear();
      buf_.push_back(dual_at(st, j) ? Q(st, j, +1) : P(st, j));
      for (int k = st; k < e; ++k) {
        buf_.push_back(mid_h(k, j));
        const int t = k + 1;
        if (dual_at(t, j)) {
          buf_.push_back(Q(t, j, -1));
          if (t != e) buf_.push_back(Q(t, j, +1));
        } else {
          buf_.push_back(P(t, j));
        }
      }
      if (!emit_local(buf_, a, s.reverse && std::string_view(s.oneway) == "yes")) return;
      st = e;
    }
  }

  void vertical() {
    for (int i = -n_; i <= n_ && !out_.full(); ++i) {
      int j = -n_;
      while (j < n_ && !out_.full()) {
        if (!seg_v(i, j)) {
          ++j;
          continue;
        }
        const int ja = j;
        while (j < n_ && seg_v(i, j)) ++j;
        if (u_.dual_line(i))
          run_dual(i, ja, j);
        else
          run_v(i, ja, j);
      }
    }
  }

  void run_v(int i, int ja, int jb) {
    const LineStyle s = style(true, i);
    const Attrs a = attrs(s);
    Rng r(hkey(u_.key, 21, i, ja));
    for (int st = ja; st < jb;) {
      const int e = std::min(jb, st + 6 + static_cast<int>(r.below(15)));
      buf_.clear();
      buf_.push_back(P(i, st));
      for (int k = st; k < e; ++k) {
        buf_.push_back(mid_v(i, k));
        buf_.push_back(P(i, k + 1));
      }
      if (!emit_local(buf_, a, s.reverse && std::string_view(s.oneway) == "yes")) return;
      st = e;
    }
  }

  // Two one-way carriageways dual_offset either side of lattice line i, and U-turn connectors
  // between their mid-block vertices every 300-800 m.
  void run_dual(int i, int ja, int jb) {
    LineStyle s = style(true, i);
    s.highway = "primary";
    s.oneway = "yes";
    Attrs a = attrs(s);
    a.dual = true;
    Rng r(hkey(u_.key, 22, i, ja));
    for (int side : {-1, +1}) {
      const bool northbound = u_.left_hand ? side == -1 : side == +1;
      for (int st = ja; st < jb;) {
        const int e = std::min(jb, st + 8 + static_cast<int>(r.below(13)));
        buf_.clear();
        buf_.push_back(Q(i, st, side));
        for (int k = st; k < e; ++k) {
          buf_.push_back(Mv(i, k, side));
          buf_.push_back(Q(i, k + 1, side));
        }
        if (!emit_local(buf_, a, !northbound)) return;
        st = e;
      }
    }
    const RoadName same = s.names;
    for (int j = ja + 1 + static_cast<int>(r.below(3)); j < jb;
         j += std::max(2, static_cast<int>(std::lround(r.uniform(300, 800) / u_.b)))) {
      Attrs c;
      c.highway = r.chance(0.5) ? "tertiary" : "primary";
      c.names = r.chance(0.5) ? &same : nullptr;
      c.lang = u_.lang;
      c.connector = true;
      const bool one = r.chance(0.2);
      c.oneway = one ? "yes" : "no";
      // A one-way U-turn leaves the northbound carriageway.
      const int from = u_.left_hand ? -1 : +1;
      buf_ = {Mv(i, j, from), Mv(i, j, -from)};
      if (!emit_local(buf_, c)) return;
    }
  }

  // Service roads of each gated community: a loop and a spine (or a rotated cross), and an
  // entrance from the mid-block vertex of the street below, crossing the community's border.
  void compounds() {
    for (int gi : u_.gated) {
      const Gated& g = w_.gated[gi];
      Rng r(hkey(u_.key, 50, gi));
      const RoadName compound = compound_road_name(u_.lang, g.name, 1);
      Attrs svc;
      svc.highway = "service";
      svc.lang = u_.lang;
      const int ie = g.range.i0 + (g.range.i1 - g.range.i0) / 2 - 1;
      const int je = g.range.j0;
      const bool has_street = seg_h(ie, je);
      const double half_b = u_.b * 0.5;
      std::vector<XY> entrance_to;
      if (g.phi == 0) {
        const double d2 = 12;
        const double u0 = g.uc - g.hu + d2, u1 = g.uc + g.hu - d2, v0 = g.vc - g.hv + d2, v1 = g.vc + g.hv - d2;
        auto stops = [&](double a, double b) {
          std::vector<double> s{a};
          for (int m = static_cast<int>(std::ceil(a / half_b)); m * half_b < b; ++m) {
            const double x = m * half_b;
            if (x > a + 1 && x < b - 1) s.push_back(x);
          }
          s.push_back(b);
          return s;
        };
        const std::vector<double> su = stops(u0, u1), sv = stops(v0, v1);
        const double x_e = (2 * ie + 1) * half_b;
        std::vector<XY> ring;
        size_t bottom_e = 0;
        for (double x : su) {
          if (x == x_e) bottom_e = ring.size();
          ring.push_back(grid(x, v0));
        }
        for (size_t k = 1; k < sv.size(); ++k) ring.push_back(grid(u1, sv[k]));
        for (size_t k = su.size() - 1; k-- > 0;) ring.push_back(grid(su[k], v1));
        for (size_t k = sv.size() - 1; k-- > 1;) ring.push_back(grid(u0, sv[k]));
        ring.push_back(ring.front());
        const XY entrance_end = ring[bottom_e];
        std::vector<XY> spine;
        for (double y : sv) spine.push_back(grid(x_e, y));
        spine.front() = entrance_end;
        Attrs loop = svc;
        loop.names = r.chance(0.5) ? &compound : nullptr;
        loop.oneway = r.chance(0.3) ? "yes" : "no";
        if (!emit_local(ring, loop)) return;
        if (!emit_local(spine, svc)) return;
        entrance_to = {entrance_end};
      } else {
        const double La = std::max(10.0, g.hu - 15), Lb = std::max(10.0, g.hv - 15);
        const int ma = std::max(1, static_cast<int>(std::ceil(La / 40))), mb = std::max(1, static_cast<int>(std::ceil(Lb / 40)));
        std::vector<XY> spine, cross;
        for (int t = -ma; t <= ma; ++t) {
          const XY p = g.to_grid(La * t / ma, 0);
          spine.push_back(grid(p.x, p.y));
        }
        for (int t = -mb; t <= mb; ++t) {
          const XY p = g.to_grid(0, Lb * t / mb);
          cross.push_back(grid(p.x, p.y));
        }
        cross[mb] = spine[ma];
        const XY gate = has_street ? mid_h(ie, je) : spine.front();
        const XY end = std::hypot(spine.front().x - gate.x, spine.front().y - gate.y) <=
                               std::hypot(spine.back().x - gate.x, spine.back().y - gate.y)
                           ? spine.front()
                           : spine.back();
        Attrs sp = svc;
        sp.names = r.chance(0.5) ? &compound : nullptr;
        if (!emit_local(spine, sp)) return;
        if (!emit_local(cross, svc)) return;
        entrance_to = {end};
      }
      if (has_street) {
        const XY a = mid_h(ie, je), b = entrance_to.front();
        const double L = std::hypot(b.x - a.x, b.y - a.y);
        const int m = std::max(1, static_cast<int>(std::ceil(L / 45)));
        buf_.clear();
        buf_.push_back(a);
        for (int k = 1; k < m; ++k) buf_.push_back({a.x + (b.x - a.x) * k / m, a.y + (b.y - a.y) * k / m});
        buf_.push_back(b);
        if (!emit_local(buf_, svc)) return;
      }
    }
  }

  // Short dead-end service alleys from mid-block vertices in the dense core.
  void alleys() {
    Attrs a;
    a.highway = "service";
    a.lang = u_.lang;
    const XY up = grid(0, 0.3 * u_.b);
    for (int j = -n_; j < n_; ++j)
      for (int i = -n_; i < n_; ++i) {
        if (unit(hkey(u_.key, 40, i, j)) >= 0.05) continue;
        if (!seg_h(i, j) || std::max(rh(i, j), rh(i + 1, j)) >= 0.6f) continue;
        if (gc(i, j) || !inU(i, j + 1) || !inU(i + 1, j + 1)) continue;
        const XY m = mid_h(i, j);
        buf_ = {m, {m.x + up.x, m.y + up.y}};
        if (!emit_local(buf_, a)) return;
      }
  }

  const World& w_;
  const Urban& u_;
  RoadWriter& out_;
  int n_ = 0, W_ = 0;
  std::vector<XY> pos_;
  std::vector<float> rh_;
  std::vector<uint8_t> gcell_;
  XY ex_{1, 0}, ey_{0, 1};
  std::vector<XY> buf_, ll_;
};

// ---------------------------------------------------------------------------------------------
// Countryside: paths between lon/lat points, checked against land and cities.
struct Anchor {
  XY ll;
  int urban;     // city whose edge this is, or -1 (a point on a countryside road)
  double theta;  // outward direction from the city (metric angle), when urban >= 0
};

XY offset_ll(XY ll, double dx_m, double dy_m) {
  return {ll.x + dx_m / (kMetresPerDegLonEquator * std::cos(ll.y * kDeg)), ll.y + dy_m / kMetresPerDegLat};
}

// Lattice point near the edge of u towards theta (local metric angle), on lines that exist at
// every density level (multiples of 4), not on a dual avenue, not inside a gated compound.
XY edge_point(const Urban& u, double theta) {
  auto ok = [&](int i, int j) {
    if (u.dual_line(i) || u.gated_interior(i, j) || u.rho_hat(u.lattice(i, j)) >= 0.93) return false;
    for (auto [di, dj] : {std::pair{1, 0}, {-1, 0}, {0, 1}, {0, -1}})
      if (u.rho_hat(u.lattice(i + di, j + dj)) >= 0.97) return false;
    return true;
  };
  for (double f : {0.88, 0.8, 0.7, 0.55, 0.4}) {
    const double r = f * u.radius(theta);
    const XY g = u.local_to_grid({r * std::cos(theta), r * std::sin(theta)});
    const int i0 = 4 * static_cast<int>(std::lround(g.x / (4 * u.b))), j0 = 4 * static_cast<int>(std::lround(g.y / (4 * u.b)));
    for (auto [di, dj] : {std::pair{0, 0}, {4, 0}, {-4, 0}, {0, 4}, {0, -4}, {4, 4}, {-4, -4}, {4, -4}, {-4, 4}})
      if (ok(i0 + di, j0 + dj)) return u.to_lonlat(u.lattice(i0 + di, j0 + dj));
  }
  return u.to_lonlat(u.lattice(0, 0));
}

class Countryside {
 public:
  Countryside(const World& w, RoadWriter& out) : w_(w), out_(out) {}

  void intercity() {
    out_.stage = Stage::intercity;
    const int U = static_cast<int>(w_.urbans.size());
    for (int k = 0; k < U; ++k) {  // anchors at city edges for the countryside roads
      const Urban& u = w_.urbans[k];
      for (int q = 0; q < 4; ++q) {
        const double th = u.alpha + kPi / 4 + q * kPi / 2;
        anchors_.push_back({edge_point(u, th), k, th});
      }
    }
    // Edges: the two special pairs first, then each city's nearest neighbours, shortest first.
    std::vector<std::pair<int, int>> edges;
    for (auto& sp : w_.special_pairs)
      if (sp[0] >= 0 && sp[1] >= 0) edges.push_back({sp[0], sp[1]});
    const size_t n_special = edges.size();
    std::vector<std::tuple<double, int, int>> knn;
    for (int a = 0; a < U; ++a) {
      const Urban& ua = w_.urbans[a];
      std::vector<std::pair<double, int>> d;
      for (int b = 0; b < U; ++b)
        if (b != a) d.push_back({approx_dist_m({ua.lon0, ua.lat0}, {w_.urbans[b].lon0, w_.urbans[b].lat0}), b});
      const size_t k = std::min<size_t>(d.size(), a < std::max(3, U / 10) ? 3 : 2);
      std::partial_sort(d.begin(), d.begin() + static_cast<long>(k), d.end());
      for (size_t t = 0; t < k; ++t)
        if (d[t].first < 300000) knn.push_back({d[t].first, std::min(a, d[t].second), std::max(a, d[t].second)});
    }
    std::sort(knn.begin(), knn.end());
    knn.erase(std::unique(knn.begin(), knn.end()), knn.end());
    // Then the long roads: every city to its nearest bigger city, and the biggest cities (hubs)
    // to their three nearest hubs -- the trunk network across the countryside.
    std::vector<std::tuple<double, int, int>> trunk_edges;
    const int hubs = std::max(5, U / 10);
    for (int a = 1; a < U; ++a) {
      const Urban& ua = w_.urbans[a];
      std::vector<std::pair<double, int>> d;
      for (int b = 0; b < (a < hubs ? hubs : a); ++b)
        if (b != a) d.push_back({approx_dist_m({ua.lon0, ua.lat0}, {w_.urbans[b].lon0, w_.urbans[b].lat0}), b});
      const size_t k = std::min<size_t>(d.size(), a < hubs ? 3 : 1);
      std::partial_sort(d.begin(), d.begin() + static_cast<long>(k), d.end());
      for (size_t t = 0; t < k; ++t)
        if (d[t].first < 500000) trunk_edges.push_back({d[t].first, std::min(a, d[t].second), std::max(a, d[t].second)});
    }
    std::sort(trunk_edges.begin(), trunk_edges.end());
    std::set<std::pair<int, int>> have;
    for (auto& e : edges) have.insert({std::min(e.first, e.second), std::max(e.first, e.second)});
    for (const auto* list : {&knn, &trunk_edges})
      for (auto& [d, a, b] : *list)
        if (have.insert({a, b}).second) edges.push_back({a, b});

    const double N = static_cast<double>(w_.segments);
    const uint64_t written = w_.segments - out_.remaining();
    uint64_t budget = static_cast<uint64_t>(std::max(0.0, 0.93 * N - static_cast<double>(written)));
    const int top = std::max(2, U * 3 / 100), trunk = std::max(3, U * 15 / 100), prim = std::max(4, U * 30 / 100);
    std::vector<int> route_no(w_.countries.size(), 0), exp_no(w_.countries.size(), 0);
    for (size_t e = 0; e < edges.size() && !out_.full(); ++e) {
      const auto [a, b] = edges[e];
      const Urban &ua = w_.urbans[a], &ub = w_.urbans[b];
      Rng r(hkey(w_.seed, 70, a, b));
      const double th = std::atan2((ub.lat0 - ua.lat0) * kMetresPerDegLat,
                                   (ub.lon0 - ua.lon0) * kMetresPerDegLonEquator * std::cos(ua.lat0 * kDeg));
      const XY pa = edge_point(ua, th), pb = edge_point(ub, th + kPi);
      // Straight-ish first; when land or another city is in the way, wider detours.
      std::vector<XY> coarse;
      bool found = false;
      for (int t = 0; t < 5 && !found; ++t)
        found = path(pa, pb, 0.06 + 0.07 * t, 1500, hkey(w_.seed, 71, a, b, t), a, b, coarse);
      if (!found) continue;
      std::vector<XY> centre = resample(coarse, r);
      // class by the size ranks of the two ends
      const int lo = std::max(a, b);
      const bool causeway = e < n_special && e == 0 && w_.special_pairs[0][0] >= 0;
      const char* hw;
      bool dual = false;
      if (causeway || lo < top) {
        hw = "motorway";
        dual = true;
      } else if (lo < trunk) {
        hw = "trunk";
        dual = r.chance(0.5);
      } else if (std::min(a, b) < prim) {
        hw = "primary";
      } else {
        hw = r.chance(0.6) ? "secondary" : "tertiary";
      }
      if (centre.size() < 16) dual = false;
      const Lang lang = ua.lang;
      RoadName names;
      if (std::string_view(hw) == "motorway")
        names = expressway_name(lang, hkey(w_.seed, 72, a, b), ++exp_no[ua.country]);
      else
        names = route_name(lang, ++route_no[ua.country] + (std::string_view(hw) == "trunk" ? 0 : 100));
      Attrs at;
      at.highway = hw;
      at.names = &names;
      at.lang = lang;
      at.maxspeed = std::string_view(hw) == "motorway" ? (r.chance(0.5) ? "110" : "100")
                    : std::string_view(hw) == "trunk"  ? "90"
                    : std::string_view(hw) == "primary" ? (r.chance(0.5) ? "80" : "")
                                                        : "";
      const bool left = ua.left_hand;
      if (!dual) {
        const uint64_t segs = centre.size() - 1;
        if (segs > budget) continue;
        budget -= segs;
        emit_split(centre, at, r, false);
      } else {
        std::vector<XY> L, R;
        offset_pair(centre, 0.5 * r.uniform(15, 30), L, R);
        std::vector<size_t> conn;
        const double avg = 85;
        for (size_t k = 4 + r.below(4); k + 5 < centre.size(); k += std::max<size_t>(3, static_cast<size_t>(std::lround(r.uniform(300, 800) / avg))))
          conn.push_back(k);
        const uint64_t segs = 2 * (centre.size() - 1) + conn.size();
        if (segs > budget) continue;
        budget -= segs;
        Attrs ca = at;
        ca.oneway = "yes";
        ca.dual = true;
        // travel a->b on the right (right-hand traffic) or the left carriageway
        std::vector<XY>& fwd = left ? L : R;
        std::vector<XY>& back = left ? R : L;
        emit_split(fwd, ca, r, std::string_view(hw) == "motorway");
        std::reverse(back.begin(), back.end());
        emit_split(back, ca, r, std::string_view(hw) == "motorway");
        std::reverse(back.begin(), back.end());
        for (size_t k : conn) {
          Attrs cc;
          cc.highway = r.chance(0.5) ? "tertiary" : hw;
          cc.names = r.chance(0.5) ? &names : nullptr;
          cc.lang = lang;
          cc.connector = true;
          cc.oneway = r.chance(0.2) ? "yes" : "no";
          buf_ = {fwd[k], back[k]};
          if (!out_.emit(buf_, cc)) return;
        }
      }
      for (size_t k = 10; k < centre.size(); k += 25) add_anchor({centre[k], -1, 0}, r);
    }
  }

  void countryside() {
    out_.stage = Stage::countryside;
    Rng r(hkey(w_.seed, 80));
    uint64_t counter = 0, fails = 0;
    while (!out_.full()) {
      if (anchors_.empty()) throw std::logic_error("synth: no city to grow countryside roads from");
      const Anchor an = anchors_[r.below(anchors_.size())];
      // Leave a city outwards; branch off a countryside road in any direction.
      const double th = an.urban >= 0 ? an.theta + r.uniform(-1.0, 1.0) : r.uniform(0, 2 * kPi);
      const double L = r.uniform(1500, 12000);
      const XY end = offset_ll(an.ll, L * std::cos(th), L * std::sin(th));
      std::vector<XY> coarse;
      ++counter;
      if (!path(an.ll, end, 0.12, 400, hkey(w_.seed, 81, counter), an.urban, -1, coarse)) {
        if (++fails > 20000) fallback(r);
        continue;
      }
      fails = 0;
      std::vector<XY> pts = resample(coarse, r);
      const double p = r.uniform();
      const char* hw = p < 0.45 ? "unclassified" : p < 0.65 ? "tertiary" : p < 0.80 ? "residential" : p < 0.95 ? "service" : "secondary";
      const int country = w_.country_at(an.ll);
      const Lang lang = country >= 0 ? w_.countries[country].lang : Lang::en;
      RoadName names = village_road_name(lang, hkey(w_.seed, 82, counter));
      Attrs at;
      at.highway = hw;
      at.lang = lang;
      at.names = (std::string_view(hw) != "service" && r.chance(0.7)) ? &names : nullptr;
      at.maxspeed = r.chance(0.2) ? "60" : "";
      if (!out_.emit(pts, at)) return;
      for (size_t k = 30; k < pts.size(); k += 60) add_anchor({pts[k], -1, 0}, r);
    }
  }

 private:
  void add_anchor(Anchor a, Rng& r) {
    if (anchors_.size() < 200000)
      anchors_.push_back(a);
    else
      anchors_[r.below(anchors_.size())] = a;
  }

  // Emergency filler when no countryside path fits (never seen): a straight track next to the
  // largest city's outline, kept on land.
  void fallback(Rng& r) {
    const Urban& u = w_.urbans.front();
    const double th = r.uniform(0, 2 * kPi);
    const XY a = u.to_lonlat({(u.rmax() + 500) * std::cos(th), (u.rmax() + 500) * std::sin(th)});
    const XY b = u.to_lonlat({(u.rmax() + 1500) * std::cos(th), (u.rmax() + 1500) * std::sin(th)});
    std::vector<XY> pts;
    for (int k = 0; k <= 12; ++k) pts.push_back({a.x + (b.x - a.x) * k / 12, a.y + (b.y - a.y) * k / 12});
    Attrs at;
    at.highway = "unclassified";
    out_.emit(pts, at);
  }

  // A ragged path from a to b; a lies on the edge of city ua (or -1), b of city ub. False when
  // it leaves the land or meets a city other than near its own end points.
  bool path(XY a, XY b, double h, double min_len_m, uint64_t key, int ua, int ub, std::vector<XY>& out) {
    const double cx = kMetresPerDegLonEquator * std::cos((a.y + b.y) / 2 * kDeg), cy = kMetresPerDegLat;
    std::vector<XY> m{{0, 0}};
    Rng r(key);
    const XY B{(b.x - a.x) * cx, (b.y - a.y) * cy};
    frac(XY{0, 0}, B, h, min_len_m, r, m);
    out.clear();
    for (XY p : m) out.push_back({a.x + p.x / cx, a.y + p.y / cy});
    out.front() = a;
    out.back() = b;
    const Box bb = w_.bbox;
    for (XY p : out)
      if (!(p.x > bb.min_lon && p.x < bb.max_lon && p.y > bb.min_lat && p.y < bb.max_lat)) return false;
    for (size_t k = 0; k + 1 < out.size(); ++k) {
      const double L = approx_dist_m(out[k], out[k + 1]);
      const int steps = std::max(1, static_cast<int>(L / 400));
      for (int s = 0; s <= steps; ++s) {
        const XY p{out[k].x + (out[k + 1].x - out[k].x) * s / steps, out[k].y + (out[k + 1].y - out[k].y) * s / steps};
        auto it = w_.urban_cells.find(World::cell_of(p.x, p.y));
        if (it == w_.urban_cells.end()) continue;
        for (int o : it->second) {
          const Urban& v = w_.urbans[o];
          if (approx_dist_m(p, {v.lon0, v.lat0}) >= v.rmax() + 300) continue;
          // inside a city: only on the way out from the path's own end in that city
          auto near = [&](XY end) { return v.rmax() - approx_dist_m(end, {v.lon0, v.lat0}) + 0.15 * v.rmax() + 1000; };
          if (o == ua && approx_dist_m(p, a) < near(a)) continue;
          if (o == ub && approx_dist_m(p, b) < near(b)) continue;
          return false;
        }
      }
    }
    const GeosContext& c = w_.geos;
    Geom line = make_line(c, out);
    return GEOSPreparedCovers_r(c.h(), w_.land_prep.get(), line.get()) == 1;
  }

  static void frac(XY a, XY b, double h, double min_len, Rng& r, std::vector<XY>& out) {
    const double dx = b.x - a.x, dy = b.y - a.y, L = std::hypot(dx, dy);
    if (L <= min_len) {
      out.push_back(b);
      return;
    }
    const double d = (2 * r.uniform() - 1) * h * L;
    const XY m{(a.x + b.x) / 2 - dy / L * d, (a.y + b.y) / 2 + dx / L * d};
    frac(a, m, h * 0.9, min_len, r, out);
    frac(m, b, h * 0.9, min_len, r, out);
  }

  // Vertices every 60-110 m along the polyline; first and last kept exactly.
  static std::vector<XY> resample(const std::vector<XY>& line, Rng& r) {
    std::vector<XY> out{line.front()};
    double next = r.uniform(60, 110);  // distance from the current coarse vertex to the next vertex
    for (size_t k = 0; k + 1 < line.size(); ++k) {
      const double L = approx_dist_m(line[k], line[k + 1]);
      while (next < L) {
        const double t = next / L;
        out.push_back({line[k].x + (line[k + 1].x - line[k].x) * t, line[k].y + (line[k + 1].y - line[k].y) * t});
        next += r.uniform(60, 110);
      }
      next -= L;
    }
    if (out.size() > 1 && approx_dist_m(out.back(), line.back()) < 30) out.pop_back();
    out.push_back(line.back());
    return out;
  }

  // Carriageways either side of a centre line; they meet the centre at both ends (2-vertex ramps).
  static void offset_pair(const std::vector<XY>& c, double off, std::vector<XY>& L, std::vector<XY>& R) {
    const size_t n = c.size();
    L.assign(c.begin(), c.end());
    R.assign(c.begin(), c.end());
    for (size_t k = 1; k + 1 < n; ++k) {
      const double cx = kMetresPerDegLonEquator * std::cos(c[k].y * kDeg), cy = kMetresPerDegLat;
      const double tx = (c[k + 1].x - c[k - 1].x) * cx, ty = (c[k + 1].y - c[k - 1].y) * cy;
      const double tl = std::hypot(tx, ty);
      if (tl == 0) continue;
      const double ramp = std::min({1.0, k / 2.0, (n - 1 - k) / 2.0});
      const double nx = -ty / tl * off * ramp, ny = tx / tl * off * ramp;
      L[k] = {c[k].x + nx / cx, c[k].y + ny / cy};
      R[k] = {c[k].x - nx / cx, c[k].y - ny / cy};
    }
  }

  // Splits a long road into ways of 80-200 vertices; motorway carriageways start and end with a
  // 2-segment motorway_link.
  void emit_split(std::vector<XY>& pts, const Attrs& a, Rng& r, bool links) {
    const size_t n = pts.size();
    size_t st = 0;
    if (links && n >= 12) {
      Attrs l = a;
      l.highway = "motorway_link";
      buf_.assign(pts.begin(), pts.begin() + 3);
      if (!out_.emit(buf_, l)) return;
      st = 2;
    }
    const size_t end = (links && n >= 12) ? n - 3 : n - 1;
    while (st < end) {
      const size_t e = std::min(end, st + 80 + static_cast<size_t>(r.below(120)));
      buf_.assign(pts.begin() + static_cast<long>(st), pts.begin() + static_cast<long>(e) + 1);
      if (!out_.emit(buf_, a)) return;
      st = e;
    }
    if (links && n >= 12) {
      Attrs l = a;
      l.highway = "motorway_link";
      buf_.assign(pts.end() - 3, pts.end());
      if (!out_.emit(buf_, l)) return;
    }
  }

  const World& w_;
  RoadWriter& out_;
  std::vector<Anchor> anchors_;
  std::vector<XY> buf_;
};

}  // namespace

double haversine_m(double lon1, double lat1, double lon2, double lat2) {
  return geoshard::haversine_m(lon1, lat1, lon2, lat2);
}

RoadStats write_roads(const World& w, const std::string& path, const std::function<void(double)>& progress) {
  RoadWriter out(path, w.segments, progress);
  out.stage = Stage::urban;
  for (const Urban& u : w.urbans) {
    if (out.full()) break;
    CityRoads(w, u, out).run();
  }
  Countryside cs(w, out);
  if (!out.full()) cs.intercity();
  if (!out.full()) cs.countryside();
  return out.close();
}

}  // namespace geoshard::synth::detail
