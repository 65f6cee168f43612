#include "jobs/localise/localise_s2.h"

#include <algorithm>
#include <stdexcept>

#include "jobs/cover/s2_grid.h"
#include "kernels/geodesic.h"
#include "kernels/polygon.h"

namespace geoshard::localise {
namespace {

// Every original edge of every area, by the level-L cells whose expanded rectangle it meets
// (s2grid::segment_cells: a superset of the cells holding its points).
void index_edges_s2(LayerData& d, int level) {
  const AreaLayer& l = d.areas;
  std::vector<uint64_t> cells;
  for (uint32_t a = 0; a < l.areas(); ++a) {
    const uint64_t r0 = l.ring_offset[l.polygon_offset[a]], r1 = l.ring_offset[l.polygon_offset[a + 1]];
    for (uint64_t r = r0; r < r1; ++r) {
      for (uint64_t v = l.vertex_offset[r]; v + 1 < l.vertex_offset[r + 1]; ++v) {
        if (l.lon[v] == l.lon[v + 1] && l.lat[v] == l.lat[v + 1]) continue;
        s2grid::segment_cells(l.lon[v], l.lat[v], l.lon[v + 1], l.lat[v + 1], level, cells);
        for (uint64_t c : cells) d.edges.push_back(CellEdge{c, a, v});
      }
    }
  }
  std::sort(d.edges.begin(), d.edges.end(), [](const CellEdge& x, const CellEdge& y) {
    if (x.key != y.key) return x.key < y.key;
    if (x.area != y.area) return x.area < y.area;
    return x.v < y.v;
  });
}

bool interior_only(const CoverageLayer& cov, int64_t iv) {
  for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e)
    if (cov.entry_kind[e] != static_cast<uint8_t>(CoverKind::kInterior)) return false;
  return true;
}

bool same_areas(const CoverageLayer& cov, int64_t i, int64_t j) {
  if (i == j) return true;
  const uint64_t a0 = cov.entry_offset[i], a1 = cov.entry_offset[i + 1];
  const uint64_t b0 = cov.entry_offset[j], b1 = cov.entry_offset[j + 1];
  return a1 - a0 == b1 - b0 && std::equal(cov.entry_area.begin() + static_cast<ptrdiff_t>(a0),
                                          cov.entry_area.begin() + static_cast<ptrdiff_t>(a1),
                                          cov.entry_area.begin() + static_cast<ptrdiff_t>(b0));
}

// The whole-or-nothing test over cells (leaf ranges [range_min, range_max] of cells of any level
// <= L): 1 = every cell lies inside one interval and all these intervals hold the same
// INTERIOR-only area set (returned in *iv, -1 for "no area": no cell meets any interval);
// 0 = undecided.
int settle(const CoverageLayer& cov, const std::vector<uint64_t>& cells, int64_t* iv_out) {
  int64_t first = -2;
  for (uint64_t c : cells) {
    const uint64_t lo = s2grid::range_min(c), hi = s2grid::range_max(c);
    int64_t iv = cov.find(lo);
    if (iv < 0) {
      const auto next = std::upper_bound(cov.lo.begin(), cov.lo.end(), lo);
      if (!(next == cov.lo.end() || *next > hi)) return 0;  // an interval starts inside the cell
      iv = -1;
    } else if (cov.hi[static_cast<size_t>(iv)] < hi || !interior_only(cov, iv)) {
      return 0;
    }
    if (first == -2) first = iv;
    else if ((first < 0) != (iv < 0) || (iv >= 0 && !same_areas(cov, first, iv))) return 0;
  }
  *iv_out = first < 0 ? -1 : first;
  return 1;
}

// Whether area a holds a point assigned to leaf `leaf`, by the entry of the leaf's level-L cell
// (see localise_s2.h, step 3): kOutsideArea (no entry for a), kInsideArea (INTERIOR), else the
// clipped piece the point must be tested against -- what the batcher's resolve() returns.
constexpr int64_t kOutsideArea = PipBatcher::kOutsideArea, kInsideArea = PipBatcher::kInsideArea;
int64_t area_at_leaf(const CoverageLayer& cov, uint64_t leaf, uint32_t a) {
  const int64_t iv = cov.find(leaf);
  if (iv < 0) return kOutsideArea;
  const auto b = cov.entry_area.begin() + static_cast<ptrdiff_t>(cov.entry_offset[iv]);
  const auto e = cov.entry_area.begin() + static_cast<ptrdiff_t>(cov.entry_offset[iv + 1]);
  const auto it = std::lower_bound(b, e, a);
  if (it == e || *it != a) return kOutsideArea;
  const size_t k = static_cast<size_t>(it - cov.entry_area.begin());
  if (cov.entry_kind[k] == static_cast<uint8_t>(CoverKind::kInterior)) return kInsideArea;
  return cov.entry_piece[k];
}

}  // namespace

bool coverage_is_s2(const std::string& coverage_path) {
  const std::vector<std::string> names = coverage_layer_names(coverage_path);
  if (names.empty()) throw std::runtime_error("coverage '" + coverage_path + "' has no layer");
  return read_coverage_layer(coverage_path, names.front()).grid == "s2";
}

S2Localiser::S2Localiser(const std::string& coverage_path, const std::vector<std::string>& layers, backend::Choice backend)
    : backend_(std::move(backend)) {
  for (const auto& n : layer_names(coverage_path, layers)) {
    LayerData d{read_coverage_layer(coverage_path, n), read_coverage_areas(coverage_path, n), {}, {}};
    check_coverage_layer(d.coverage, d.areas, coverage_path);
    if (d.coverage.grid != "s2")
      throw std::runtime_error("coverage '" + coverage_path + "' layer '" + n + "' uses grid '" + d.coverage.grid +
                               "'; S2Localiser needs a coverage made with 'cover --grid s2'");
    if (d.coverage.pieces() >= UINT32_MAX)
      throw std::runtime_error("coverage '" + coverage_path + "' layer '" + n + "': more than 2^32 - 1 clipped pieces");
    if (d.coverage.precision < 1 || d.coverage.precision > s2grid::kMaxLevel)
      throw std::runtime_error("coverage '" + coverage_path + "' layer '" + n + "': S2 level " +
                               std::to_string(d.coverage.precision) + " outside 1..30");
    if (layers_.empty()) level_ = d.coverage.precision;
    if (d.coverage.precision != level_)
      throw std::runtime_error("coverage '" + coverage_path + "': layers have different S2 levels");
    index_edges_s2(d, level_);
    d.area_left = area_sides(d.areas);
    layers_.push_back(std::move(d));
  }
  if (layers_.size() > 65535) throw std::runtime_error("too many layers");
}

uint64_t S2Localiser::bytes() const {
  uint64_t b = 0;
  for (const auto& l : layers_) {
    const auto& c = l.coverage;
    b += c.lo.size() * 16 + c.entry_offset.size() * 8 + c.entry_area.size() * 13 + c.lon.size() * 16 +
         c.ring_vertex_offset.size() * 8 + c.piece_ring_offset.size() * 8;
    b += l.areas.lon.size() * 17 + l.areas.vertex_offset.size() * 8 + l.edges.size() * sizeof(CellEdge);
  }
  return b;
}

void S2Localiser::segment(double ax, double ay, double bx, double by, Accumulator& acc, const std::vector<char>& skip,
                          PipBatcher& pip) const {
  if (ax == bx && ay == by) return;  // no length
  const double seg_m = haversine_m(ax, ay, bx, by);
  if (!(seg_m > 0)) return;
  thread_local std::vector<uint64_t> cells;
  thread_local std::vector<uint32_t> candidates;
  s2grid::segment_cells(ax, ay, bx, by, level_, cells);
  for (size_t li = 0; li < layers_.size(); ++li) {
    if (skip[li]) continue;
    const LayerData& d = layers_[li];
    const CoverageLayer& cov = d.coverage;
    int64_t iv = -1;
    if (settle(cov, cells, &iv)) {
      if (iv >= 0)
        for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e) acc.add(li, cov.entry_area[e], seg_m);
      continue;
    }
    candidates.clear();
    for (uint64_t c : cells) {
      const int64_t i = cov.find(s2grid::range_min(c));  // a level-L cell lies in one interval or none
      if (i < 0) continue;
      for (uint64_t e = cov.entry_offset[i]; e < cov.entry_offset[i + 1]; ++e) candidates.push_back(cov.entry_area[e]);
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    // Each candidate area: the segment cut by the area's edges indexed in any of the cells (the
    // shared exact cuts, cuts.h, batched: pip_batcher.h), every sub-interval's midpoint decided
    // by the midpoint's leaf (resolve in localise()).
    // An edge through several of the cells is cut once (a second copy would be a second edge
    // near a hugging sub-interval, which keeps the batcher from deciding it by that edge).
    thread_local std::vector<uint64_t> vs;
    for (uint32_t a : candidates) {
      pip.begin_cut(li, a, -1, ax, ay, bx, by, 0.0, 1.0, seg_m);
      vs.clear();
      for (uint64_t cell : cells) {
        auto it = std::lower_bound(d.edges.begin(), d.edges.end(), CellEdge{cell, a, 0},
                                   [](const CellEdge& x, const CellEdge& y) {
                                     return x.key != y.key ? x.key < y.key : x.area < y.area;
                                   });
        for (; it != d.edges.end() && it->key == cell && it->area == a; ++it) vs.push_back(it->v);
      }
      std::sort(vs.begin(), vs.end());
      vs.erase(std::unique(vs.begin(), vs.end()), vs.end());
      for (uint64_t v : vs) pip.cut_edge(v);
    }
  }
}

void S2Localiser::localise(const RoadTable& roads, std::vector<Hit>& hits, std::vector<double>& road_length_m) const {
  Accumulator acc;
  acc.len.resize(layers_.size());
  acc.touched.resize(layers_.size());
  for (size_t li = 0; li < layers_.size(); ++li) acc.len[li].assign(layers_[li].areas.areas(), 0.0);
  const uint64_t v0 = roads.vertex_offset.empty() ? 0 : roads.vertex_offset[0];
  std::vector<char> whole(layers_.size());
  std::vector<uint64_t> box_cells;
  // Boundary cuts and point-in-polygon tests, batched; a midpoint is decided by its leaf's entry
  // for the area: INTERIOR, none, or a clipped piece to test against.
  PipBatcher pip(layers_, backend_, pip_batch_, [this](size_t li, uint32_t a, double x, double y) {
    return area_at_leaf(layers_[li].coverage, s2grid::leaf_of(x, y), a);
  });
  for (size_t i = 0; i < roads.rows(); ++i) {
    const uint64_t a = roads.vertex_offset[i] - v0, b = roads.vertex_offset[i + 1] - v0;
    double len = 0;
    for (uint64_t v = a; v + 1 < b; ++v) len += haversine_m(roads.lon[v], roads.lat[v], roads.lon[v + 1], roads.lat[v + 1]);
    road_length_m.push_back(len);
    // Fast path: the cells meeting the road's bounding box, at a level about as wide as the box
    // (a handful); settled when their leaf ranges all lie in intervals with the same
    // INTERIOR-only area set, or meet no interval at all.
    geohash::Bounds box{roads.lon[a], roads.lat[a], roads.lon[a], roads.lat[a]};
    for (uint64_t v = a + 1; v < b; ++v) {
      box.west = std::min(box.west, roads.lon[v]), box.east = std::max(box.east, roads.lon[v]);
      box.south = std::min(box.south, roads.lat[v]), box.north = std::max(box.north, roads.lat[v]);
    }
    bool all_whole = b > a;
    if (b > a) {
      const int k = s2grid::level_for_extent(std::max(box.east - box.west, box.north - box.south), level_);
      s2grid::box_cells(box, k, box_cells);
      for (size_t li = 0; li < layers_.size(); ++li) {
        const CoverageLayer& cov = layers_[li].coverage;
        int64_t iv = -1;
        whole[li] = static_cast<char>(settle(cov, box_cells, &iv));
        if (whole[li] && iv >= 0 && len > 0)
          for (uint64_t e = cov.entry_offset[iv]; e < cov.entry_offset[iv + 1]; ++e) acc.add(li, cov.entry_area[e], len);
        all_whole = all_whole && whole[li];
      }
    }
    if (!all_whole)
      for (uint64_t v = a; v + 1 < b; ++v) segment(roads.lon[v], roads.lat[v], roads.lon[v + 1], roads.lat[v + 1], acc, whole, pip);
    for (size_t li = 0; li < layers_.size(); ++li) {
      std::vector<uint32_t>& t = acc.touched[li];
      std::sort(t.begin(), t.end());
      for (uint32_t k : t) {
        pip.add_hit(Hit{roads.row_offset + i, static_cast<uint16_t>(li), k, acc.len[li][k]});
        acc.len[li][k] = 0;
      }
      t.clear();
    }
    pip.end_road(roads.row_offset + i, hits);
  }
  pip.flush(hits);
}

GridLocaliser::GridLocaliser(const std::string& coverage_path, const std::vector<std::string>& layers,
                             backend::Choice backend)
    : grid_(coverage_is_s2(coverage_path) ? "s2" : "geohash") {
  if (grid_ == "s2") s2_ = std::make_unique<S2Localiser>(coverage_path, layers, backend);
  else geohash_ = std::make_unique<Localiser>(coverage_path, layers, std::move(backend));
}
GridLocaliser::~GridLocaliser() = default;
GridLocaliser::GridLocaliser(GridLocaliser&&) noexcept = default;
const std::vector<LayerData>& GridLocaliser::layers() const { return s2_ ? s2_->layers() : geohash_->layers(); }
int GridLocaliser::precision() const { return s2_ ? s2_->precision() : geohash_->precision(); }
uint64_t GridLocaliser::bytes() const { return s2_ ? s2_->bytes() : geohash_->bytes(); }
void GridLocaliser::set_pip_batch(size_t jobs_and_edges) {
  if (s2_) s2_->set_pip_batch(jobs_and_edges);
  else geohash_->set_pip_batch(jobs_and_edges);
}
void GridLocaliser::localise(const RoadTable& roads, std::vector<Hit>& hits, std::vector<double>& road_length_m) const {
  if (s2_) s2_->localise(roads, hits, road_length_m);
  else geohash_->localise(roads, hits, road_length_m);
}

}  // namespace geoshard::localise
