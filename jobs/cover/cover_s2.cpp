// cover --grid s2: the top-down refinement of cover.cpp with S2 cells standing for planar lon/lat
// rectangles (jobs/cover/cover.h, "The S2 grid"; jobs/cover/s2_grid.h for why the rectangles
// are exact and conservative). No s2 header here: s2_grid.h wraps what is needed.
#include <geos_c.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "jobs/cover/clip.h"
#include "jobs/cover/cover_detail.h"
#include "jobs/cover/s2_grid.h"

namespace geoshard::cover::detail {
namespace {

// Number of level-L cells in a cell of level q (saturating).
uint64_t s2_cells_at(int q, int L) {
  const int bits = 2 * (L - q);
  return bits >= 64 ? std::numeric_limits<uint64_t>::max() : uint64_t{1} << bits;
}

geohash::Bounds intersect(const geohash::Bounds& a, const geohash::Bounds& b) {
  return geohash::Bounds{std::max(a.west, b.west), std::max(a.south, b.south), std::min(a.east, b.east),
                         std::min(a.north, b.north)};
}

class S2AreaCoverer : public Coverer {
 public:
  S2AreaCoverer(const geos::Context& c, int level, bool clip_first, RawLayer& out, LayerCounters& counters)
      : c_(c), L_(level), clip_first_(clip_first), out_(out), n_(counters), level_(static_cast<size_t>(level) + 1) {}

  void cover(const AreaLayer& l, size_t a) override {
    parts_ = prepare_parts(c_, l, a);
    layer_ = &l;
    area_ = static_cast<uint32_t>(a);
    original_.clear();
    box_ = geohash::Bounds{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
    for (uint64_t p = l.polygon_offset[a]; p < l.polygon_offset[a + 1]; ++p)
      for (uint64_t r = l.ring_offset[p]; r < l.ring_offset[p + 1]; ++r) {
        const uint64_t v0 = l.vertex_offset[r], v1 = l.vertex_offset[r + 1];
        original_.add_ring(l.lon.data() + v0, l.lat.data() + v0, v1 - v0);
        for (uint64_t v = v0; v < v1; ++v) {
          box_.west = std::min(box_.west, l.lon[v]);
          box_.east = std::max(box_.east, l.lon[v]);
          box_.south = std::min(box_.south, l.lat[v]);
          box_.north = std::max(box_.north, l.lat[v]);
        }
      }
    if (original_.empty()) return;
    // Start cells: the cells meeting the area's box at the level whose cells are about as wide
    // as the box (a handful). They are disjoint and hold every point of the box, so every cell
    // that can get an entry descends from one of them.
    const int k0 = s2grid::level_for_extent(std::max(box_.east - box_.west, box_.north - box_.south), L_);
    s2grid::box_cells(box_, k0, start_);
    const geohash::Bounds all{-1e300, -1e300, 1e300, 1e300};
    for (uint64_t id : std::vector<uint64_t>(start_)) refine(id, k0, all, original_);
    parts_.clear();
  }

 private:
  bool geos_covers(const geohash::Bounds& b) {
    GEOSGeometry* rect = nullptr;
    bool result = false;
    for (const PreparedPart& p : parts_) {
      if (b.west < p.x0 || b.east > p.x1 || b.south < p.y0 || b.north > p.y1) continue;
      if (!rect) {
        rect = GEOSGeom_createRectangle_r(c_.h(), b.west, b.south, b.east, b.north);
        if (!rect) throw std::runtime_error("cover: GEOS rectangle: " + c_.last_error());
      }
      n_.geos_calls += 1;
      const char covers = GEOSPreparedCovers_r(c_.h(), p.prep.get(), rect);
      if (covers == 2) {
        GEOSGeom_destroy_r(c_.h(), rect);
        throw std::runtime_error("cover: GEOS covers failed on area '" + layer_->id[area_] + "': " + c_.last_error());
      }
      if (covers == 1) {
        result = true;
        break;
      }
    }
    if (rect) GEOSGeom_destroy_r(c_.h(), rect);
    return result;
  }
  bool geos_intersects(const geohash::Bounds& b) {
    GEOSGeometry* rect = nullptr;
    bool result = false;
    for (const PreparedPart& p : parts_) {
      if (b.west > p.x1 || b.east < p.x0 || b.south > p.y1 || b.north < p.y0) continue;
      if (!rect) {
        rect = GEOSGeom_createRectangle_r(c_.h(), b.west, b.south, b.east, b.north);
        if (!rect) throw std::runtime_error("cover: GEOS rectangle: " + c_.last_error());
      }
      n_.geos_calls += 1;
      const char inter = GEOSPreparedIntersects_r(c_.h(), p.prep.get(), rect);
      if (inter == 2) {
        GEOSGeom_destroy_r(c_.h(), rect);
        throw std::runtime_error("cover: GEOS intersects failed on area '" + layer_->id[area_] + "': " + c_.last_error());
      }
      if (inter == 1) {
        result = true;
        break;
      }
    }
    if (rect) GEOSGeom_destroy_r(c_.h(), rect);
    return result;
  }

  void emit_interior(uint64_t id, int level) {
    out_.entries.push_back(RawEntry{s2grid::range_min(id), s2grid::range_max(id), area_,
                                    static_cast<uint8_t>(CoverKind::kInterior), -1});
    n_.interior_cells += 1;
    n_.interior_at_p = saturating_add(n_.interior_at_p, s2_cells_at(level, L_));
  }

  // `parent_rect` is the rectangle the parent's piece was clipped to. The cell's rectangle is its
  // expanded bound intersected with it: still a superset of the cell and of every point assigned
  // to it (both rectangles are), and nested in the parent's, so clipping the parent's piece to it
  // equals clipping the area to it, and vertices created by clipping never lie inside it (the
  // clip_first shortcut of cover.cpp holds as it is).
  void refine(uint64_t id, int level, const geohash::Bounds& parent_rect, const Rings& parent) {
    const geohash::Bounds b = intersect(s2grid::expanded_bounds(id), parent_rect);
    if (!(b.west <= b.east && b.south <= b.north)) return;
    if (!s2grid::boxes_meet(b, box_)) return;
    Rings& piece = level_[static_cast<size_t>(level)];
    if (clip_first_) {
      piece.clear();
      clip_rings(parent, b, piece, scratch_);
      if (piece.empty()) return;
      if (!has_vertex_inside(piece, b) && geos_covers(b)) return emit_interior(id, level);
    } else {
      if (geos_covers(b)) return emit_interior(id, level);
      if (!geos_intersects(b)) return;
      piece.clear();
      clip_rings(parent, b, piece, scratch_);
    }
    if (piece.empty() || !has_area_inside(piece, b)) {
      n_.touch_dropped += 1;
      return;
    }
    if (level == L_) {
      store(id, piece);
      return;
    }
    for (int i = 0; i < 4; ++i) refine(s2grid::child(id, i), level + 1, b, piece);
  }

  void store(uint64_t id, const Rings& piece) {
    for (size_t r = 0; r < piece.rings(); ++r) {
      const size_t v0 = piece.offset[r], v1 = piece.offset[r + 1];
      out_.lon.insert(out_.lon.end(), piece.x.begin() + static_cast<ptrdiff_t>(v0), piece.x.begin() + static_cast<ptrdiff_t>(v1));
      out_.lat.insert(out_.lat.end(), piece.y.begin() + static_cast<ptrdiff_t>(v0), piece.y.begin() + static_cast<ptrdiff_t>(v1));
      out_.lon.push_back(piece.x[v0]);
      out_.lat.push_back(piece.y[v0]);
      out_.ring_vertex_offset.push_back(out_.lon.size());
    }
    out_.piece_ring_offset.push_back(out_.ring_vertex_offset.size() - 1);
    out_.entries.push_back(RawEntry{s2grid::range_min(id), s2grid::range_max(id), area_,
                                    static_cast<uint8_t>(CoverKind::kBoundary), static_cast<int64_t>(out_.pieces()) - 1});
    n_.boundary_cells += 1;
  }

  const geos::Context& c_;
  const int L_;
  const bool clip_first_;
  RawLayer& out_;
  LayerCounters& n_;
  std::vector<PreparedPart> parts_;
  const AreaLayer* layer_ = nullptr;
  uint32_t area_ = 0;
  geohash::Bounds box_{};
  Rings original_;
  std::vector<Rings> level_;
  std::vector<uint64_t> start_;
  ClipScratch scratch_;
};

}  // namespace

std::unique_ptr<Coverer> make_s2_coverer(const geos::Context& c, int level, bool clip_first, RawLayer& out,
                                         LayerCounters& counters) {
  return std::make_unique<S2AreaCoverer>(c, level, clip_first, out, counters);
}

}  // namespace geoshard::cover::detail
