// localise on an S2 coverage (cover --grid s2): the same result as Localiser (localise.h) --
// exact under planar lon/lat semantics, equal to the GEOS oracle up to rounding (1e-9 relative)
// -- with S2 cells used only as an exact, conservative INDEX, never as geometry
// (jobs/cover/s2_grid.h; docs/localise.md, "S2 grid").
//
// Per segment A-B (a planar lon/lat segment) and layer:
//  1. candidate cells: every level-L cell whose expanded rectangle meets the segment (a flood
//     fill, s2grid::segment_cells): a superset of the cells holding a point of the segment.
//  2. if every candidate cell lies in an interval holding the same INTERIOR-only area set, the
//     whole segment lies in those areas; if no candidate cell has entries, in none.
//  3. otherwise, for every area a with an entry in a candidate cell: cut the segment at every
//     ORIGINAL edge of a indexed in a candidate cell (edges are indexed by the level-L cells their
//     own flood fill finds; an edge crossing the segment at X meets it in a cell holding X, which
//     is in both sets, so no cut is missed); a sub-interval overlapping an edge collinearly is
//     inside (GEOS: a road along a border is inside both areas); any other sub-interval is
//     classified by its midpoint M: the cell C that M is assigned to (S2CellId of M at level L):
//     INTERIOR for a -> in; no entry for a -> out; BOUNDARY -> point-in-polygon against a's piece
//     (a clipped to C's expanded rectangle, which holds M well inside; on the border = inside),
//     run in batches on the chosen backend (pip_batcher.h).
//  Road-level fast path: the test of step 2 on the cells (of a level about as wide as the road's
//  bounding box) meeting the box, by their leaf ranges: an interval must contain a cell's whole
//  range. Lengths: (t1 - t0) x haversine_m(segment) (kernels/geodesic.h), as Localiser.
//
// The roads table keeps its geohash row order (the engine partitions by geohash); only the
// coverage lookups use S2 ids.
// Thread-safety: immutable after construction; localise() may run concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "jobs/localise/localise.h"
#include "jobs/localise/pip_batcher.h"

namespace geoshard::localise {

class S2Localiser {
 public:
  // Loads the named layers (all when empty) of a coverage file built with grid "s2". Throws
  // naming the file when a layer uses another grid or the levels differ.
  // The BOUNDARY midpoints' point-in-polygon tests run in batches on `backend` (PipBatcher).
  explicit S2Localiser(const std::string& coverage_path, const std::vector<std::string>& layers = {},
                       backend::Choice backend = {});
  // As Localiser::set_pip_batch: cut jobs + edges per batch; the hits do not depend on it.
  void set_pip_batch(size_t tests) { pip_batch_ = tests == 0 ? 1 : tests; }
  const std::vector<LayerData>& layers() const { return layers_; }
  int precision() const { return level_; }  // the S2 level L of the BOUNDARY cells
  uint64_t bytes() const;

  // As Localiser::localise: hits sorted by row, then layer, then area; road_length_m per road.
  void localise(const RoadTable& roads, std::vector<Hit>& hits, std::vector<double>& road_length_m) const;

 private:
  struct Accumulator {
    std::vector<std::vector<double>> len;
    std::vector<std::vector<uint32_t>> touched;
    void add(size_t layer, uint32_t area, double m) {
      if (len[layer][area] == 0) touched[layer].push_back(area);
      len[layer][area] += m;
    }
  };
  void segment(double ax, double ay, double bx, double by, Accumulator& acc, const std::vector<char>& skip,
               PipBatcher& pip) const;
  std::vector<LayerData> layers_;  // edges: CellEdge with key = level-L S2 cell id
  int level_ = 0;
  backend::Choice backend_;
  size_t pip_batch_ = Localiser::kPipBatch;
};

// Either localiser, picked by the coverage's grid attribute ("geohash" -> Localiser, "s2" ->
// S2Localiser), with their common interface: what the localise job holds (jobs/localise/job.cpp).
class GridLocaliser {
 public:
  // `backend` runs the localiser's point-in-polygon batches.
  explicit GridLocaliser(const std::string& coverage_path, const std::vector<std::string>& layers = {},
                         backend::Choice backend = {});
  ~GridLocaliser();
  GridLocaliser(GridLocaliser&&) noexcept;
  const std::string& grid() const { return grid_; }  // "geohash" or "s2"
  const std::vector<LayerData>& layers() const;
  int precision() const;  // geohash precision or S2 level
  uint64_t bytes() const;
  void localise(const RoadTable& roads, std::vector<Hit>& hits, std::vector<double>& road_length_m) const;
  void set_pip_batch(size_t jobs_and_edges);  // Localiser::set_pip_batch of the localiser held

 private:
  std::string grid_;
  std::unique_ptr<Localiser> geohash_;
  std::unique_ptr<S2Localiser> s2_;
};

// Whether a coverage file's layers use the S2 grid (attribute grid of its first layer). For the
// localise job to pick S2Localiser or Localiser. Throws naming the file when it has no layer.
bool coverage_is_s2(const std::string& coverage_path);

}  // namespace geoshard::localise
