// localise: for every road and every area layer, the areas the road touches with the geodesic
// metres of it inside each, computed exactly through the coverage (DESIGN.md, "The
// road-localisation method"):
//   - each segment is walked through the coverage's grid cells (kernels/segment_walk.h);
//   - a piece in an INTERIOR cell belongs to that area at once;
//   - a piece in a BOUNDARY cell is cut exactly at the area's original edges in the cell, and each
//     sub-interval between cuts is inside by its midpoint against the area clipped to that cell;
//     those point-in-polygon tests run in batches on the chosen backend (backend::pip_batch, up to
//     kPipBatch tests per call; docs/cuda.md), the roads' hits waiting until their batch has run;
//   - a piece lying exactly along a grid line (a road drawn on a cell edge) is clipped against
//     the full area polygons of the cells on both sides of the line: there the area clipped to
//     one cell cannot tell a border from a cell edge, and GEOS counts a road along a shared
//     border as inside both areas.
// Fast paths (localise.cpp, docs/benchmarks.md "localise vs GEOS — geoshard side"): per road,
// the rectangle of cells its bounding box spans (cut in up to 2^5 parts along Z-order bits), and
// per segment, an aligned Z-order block made of whole cells; when the road or segment keeps off
// the rectangle's or block's west/south edges, no coverage interval there means no area, and
// INTERIOR-only intervals of the same areas holding it mean those areas, whole; a segment in two
// edge-adjacent cells likewise. Only the other segments are walked, for the layers that need it.
// In a BOUNDARY cell, a walk's piece that misses the box of the area's part of the cell (its
// clipped piece and its edges there, EntryBox) is dropped before any cut or test.
// Lengths follow kernels/geodesic.h: a piece [t0, t1] of a segment has (t1 - t0) × haversine
// of the segment (haversine_m_short: within 1e-15 of haversine_m), computed once per segment;
// the road's length is their sum; areas the road only touches at points (length 0) are not
// listed. Result: identical to the GEOS oracle (tests/oracle) up to rounding (1e-9 relative).
//
// Thread-safety: a Localiser is immutable after construction; localise() may run concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/area_table.h"
#include "io/coverage_table.h"
#include "io/road_table.h"
#include "jobs/backend/backend.h"
#include "jobs/localise/box_grid.h"

namespace geoshard::localise {

// One (road row, layer, area) with positive length.
struct Hit {
  uint64_t row;      // global row of the road table
  uint16_t layer;    // index into Localiser::layers()
  uint32_t area;     // row in that layer's AreaLayer
  double length_m;
};

// An original area edge (vertices v, v+1 of the area's rings) and a cell of the coverage's
// precision it runs through. Boundary pieces are clipped against these exact edges: the area
// clipped to the cell has vertices created on the cell's edges with one rounded coordinate,
// which would tilt an edge that a road runs along (roads often share their nodes with borders).
struct CellEdge {
  uint64_t key;   // key_lo of the cell
  uint32_t area;  // area row
  uint64_t v;     // first vertex of the edge in AreaLayer::lon/lat
};

struct LayerData {
  CoverageLayer coverage;
  AreaLayer areas;
  std::vector<CellEdge> edges;  // sorted by (key, area, v)
  // Per vertex v: +1 when the area lies left of edge v -> v + 1, -1 when right, 0 when its ring
  // has no orientation (zero signed area); see area_sides.
  std::vector<int8_t> area_left;
};

// LayerData::area_left for every vertex of the layer: a polygon's first ring is its shell, the
// others its holes; the area lies left of a counter-clockwise shell's edges and of a clockwise
// hole's (orientation from the ring's signed area, about its first vertex).
std::vector<int8_t> area_sides(const AreaLayer& l);

class Localiser {
 public:
  // A layer whose areas' boxes fill less than kSparseFill of their extent gets a grid over them
  // (box_grid_); a road keeps up to kMaxBoxAreas areas whose boxes its box meets. Measured on the
  // 30M synthetic region: gated communities (fill 0.0003) alone 13-29 % faster with it; cities (fill
  // 0.043, but most roads lie in a city) 2-5 % slower, hence 0.01 (docs/benchmarks.md).
  static constexpr double kSparseFill = 0.01;
  static constexpr size_t kMaxBoxAreas = 16;
  // Loads the named layers (all when empty) of a coverage file. Throws naming the file.
  // The boundary cells' point-in-polygon tests run in batches on `backend` (backend::pip_batch).
  explicit Localiser(const std::string& coverage_path, const std::vector<std::string>& layers = {},
                     backend::Choice backend = {});
  const std::vector<LayerData>& layers() const { return layers_; }
  int precision() const { return precision_; }
  uint64_t bytes() const;  // memory held by the loaded coverage and areas

  // Boundary-cell batch size: a chunk of roads is closed, and its cuts and point-in-polygon tests
  // run, once it has queued this many cut jobs + edges (pip_batcher.h; the last chunk of a call
  // may hold fewer). The hits do not depend on it, bit for bit (each road's lengths are summed in
  // the same order whatever the chunks); set before localise().
  static constexpr size_t kPipBatch = 1 << 16;
  void set_pip_batch(size_t tests) { pip_batch_ = tests == 0 ? 1 : tests; }

  // Appends the hits of every road of `roads` (sorted by row, then layer, then area).
  // road_length_m receives each road's length (rows of `roads`, in order).
  void localise(const RoadTable& roads, std::vector<Hit>& hits, std::vector<double>& road_length_m) const;

 private:
  // Per layer: metres per area for the road in hand, and the areas touched so far (sparse reset).
  struct Accumulator {
    std::vector<std::vector<double>> len;
    std::vector<std::vector<uint32_t>> touched;
    void add(size_t layer, uint32_t area, double m) {
      if (len[layer][area] == 0) touched[layer].push_back(area);
      len[layer][area] += m;
    }
  };
  struct Scratch;  // per-call buffers (localise.cpp)
  // Walks segment A-B (length seg_m; a_key = key_lo of A's cell) for the layers with walk[layer]
  // set; [rlo[l], rhi[l]) is the range of layer l's intervals that can hold a piece of it (every
  // cell it passes through). Point-in-polygon tests it cannot settle at once go to the scratch's
  // PipBatcher.
  void segment(double ax, double ay, double bx, double by, uint64_t a_key, double seg_m, Accumulator& acc,
               const char* walk, const size_t* rlo, const size_t* rhi, Scratch& s) const;
  backend::Choice backend_;
  size_t pip_batch_ = kPipBatch;
  // Per layer, per interval: 1 when it holds only INTERIOR entries.
  std::vector<std::vector<uint8_t>> interior_only_;
  // Per layer: the hi of every kHiStride-th interval (the last of each run of kHiStride; the
  // last interval closes the final run): a search for the first interval with hi >= key runs on
  // this small array, then in one run of hi (first_hi_at_least).
  static constexpr size_t kHiStride = 16;
  std::vector<std::vector<uint64_t>> hi_summary_;
  // Per layer, per entry: its cell's edges (see the constructor).
  std::vector<std::vector<uint64_t>> entry_edges_;
  // Per layer, per BOUNDARY entry of a one-cell interval: a box (west, south, east, north as
  // floats rounded outward, 1e-9 degrees wider) holding its clipped piece and its edges' parts in
  // the cell. A walk's piece whose box misses it cannot be in the area there: no cut, no test
  // (the cut job would find nothing, bit for bit). Other entries hold an infinite box.
  struct EntryBox {
    float w, s, e, n;
  };
  std::vector<std::vector<EntryBox>> entry_box_;
  static std::vector<EntryBox> entry_boxes(const LayerData& d, const std::vector<uint64_t>& ee, int precision);
  // Per layer, per area: +1 / -1 when the area is one convex ring (no hole, at most
  // kConvexMaxVertices vertices) turning counter-clockwise / clockwise, else 0. A run of a road
  // whose cells hold only that area, every vertex strictly inside the ring, lies wholly in it.
  // At most kConvexMaxIntervals intervals are scanned for other areas.
  static constexpr uint64_t kConvexMaxVertices = 64, kConvexMaxIntervals = 32;
  std::vector<std::vector<int8_t>> convex_;
  std::vector<char> any_convex_;  // per layer: some area has convex_ != 0
  // Per layer: a grid over its areas' boxes when they fill less than kSparseFill of their extent
  // (a sparse layer: gated communities), else unusable. A road whose key range meets the layer's
  // intervals but whose box meets no area's box touches no area of it; a road meeting at most
  // kMaxBoxAreas areas' boxes keeps them, and its runs and segments that miss those boxes (or
  // are separated from a convex one by an edge line) are settled as touching nothing.
  std::vector<BoxGrid> box_grid_;
  std::vector<LayerData> layers_;
  int precision_ = 0;
};

// Primary area per (road, layer): largest length; ties → lowest area id (ids compared as
// integers when both are integers, else as strings). -1 when the road touches no area.
int64_t primary_area(const std::vector<Hit>& hits_of_road_layer, const AreaLayer& areas);

// The layers a localiser loads: `layers`, or every layer of the coverage when empty. Throws when
// there is none or one is named twice (before any layer is read).
std::vector<std::string> layer_names(const std::string& coverage_path, const std::vector<std::string>& layers);

// +1 / -1 when area a of `l` is a single ring without holes, of at most max_vertices vertices,
// that is convex and turns counter-clockwise / clockwise; else 0 (also for a repeated vertex or
// a non-finite coordinate).
int convex_orientation(const AreaLayer& l, uint32_t a, uint64_t max_vertices);

// a < b in the tie-break order of area ids.
bool id_less(const std::string& a, const std::string& b);

}  // namespace geoshard::localise
