// The boundary cells' exact work of the localisers (Localiser, S2Localiser), run in batches on
// the chosen backend (docs/cuda.md, "How localise batches its boundary cells"): the cuts of road
// segments by the areas' original edges (backend::cut_batch), then the point-in-polygon tests
// of the sub-intervals' midpoints (backend::pip_batch).
//
// A localiser queues a cut job where its walk finds one -- the part of a segment in a BOUNDARY
// cell, the area, and the edges of the area there (begin_cut, cut_edge) -- and hands over each
// road's hits settled so far (add_hit, then end_road). The hits wait in a chunk until the
// chunk's jobs and edges reach `batch` (or it holds kMaxChunkHits hits, or flush() is called).
// Then all jobs' edges run as one cut_batch call; each job's cuts are sorted (cuts.h) and its
// sub-intervals decided: inside when they run along an edge; else, within rounding of one edge
// (hugging it), by the side of that edge the segment runs on there (exact; a rounded midpoint
// can land on the wrong side); else by their midpoints, which are
// queued per layer as tests against a clipped piece of the coverage (or settled by the
// localiser's resolve()); each layer's tests run as one pip_batch call on a CSR polygon set
// holding only the pieces they name; the metres found inside are added to their road's hits,
// and the chunk's hits are appended to the output in (road, layer, area) order. A road's
// lengths are summed in the same order whatever the chunks: the output does not depend on
// `batch` or on the backend, bit for bit.
//
// Not thread-safe: one per localise() call.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "jobs/backend/backend.h"
#include "jobs/localise/localise.h"

namespace geoshard::localise {

class PipBatcher {
 public:
  static constexpr size_t kMaxChunkHits = size_t{1} << 16;
  // What resolve() returns for a midpoint: inside the area, outside it, or (>= 0) the clipped
  // piece of the layer's coverage to test the point against.
  static constexpr int64_t kOutsideArea = -1, kInsideArea = -2;
  using Resolve = std::function<int64_t(size_t layer, uint32_t area, double x, double y)>;

  PipBatcher(const std::vector<LayerData>& layers, const backend::Choice& backend, size_t batch, Resolve resolve = {});

  // A cut job of the road in hand: parameters [t0, t1] of segment A-B (seg_m metres long) against
  // area `area` of layer li, cut by the edges given next (cut_edge). Each sub-interval between
  // cuts is inside when it runs along an edge, else as its midpoint is: inside or on the
  // boundary of clipped piece `piece` of the layer's coverage, or, with piece < 0, as
  // resolve(li, area, x, y) says.
  void begin_cut(size_t li, uint32_t area, int64_t piece, double ax, double ay, double bx, double by, double t0,
                 double t1, double seg_m);
  // An edge of the job begun last: (lon[v], lat[v]) - (lon[v + 1], lat[v + 1]) of the layer's areas.
  void cut_edge(uint64_t v) {
    const LayerData& d = layers_[jobs_.back().layer];
    const AreaLayer& l = d.areas;
    ux_.push_back(l.lon[v]), uy_.push_back(l.lat[v]), vx_.push_back(l.lon[v + 1]), vy_.push_back(l.lat[v + 1]);
    left_.push_back(d.area_left[v]);
    edge_job_.push_back(static_cast<uint32_t>(jobs_.size() - 1));
  }
  // A hit of the road in hand settled without tests; a road's hits come in (layer, area) order.
  void add_hit(const Hit& h) { chunk_.push_back(h); }
  // Closes the road in hand (global road row `row`); may run the batch, appending to `out`.
  void end_road(uint64_t row, std::vector<Hit>& out);
  // Runs the queued work and appends every waiting hit to `out`.
  void flush(std::vector<Hit>& out);

 private:
  struct Job {
    uint32_t layer, road, area;
    int64_t piece;
    double seg_m;
  };
  // Metres for (road, area) of a layer: sure (test < 0) or when point-in-polygon test `test`
  // finds its point inside.
  struct Entry {
    uint32_t road, area;
    int64_t test;
    double m;
  };
  struct Layer {
    std::vector<Entry> entries;  // in job order
    std::vector<double> x, y;    // the tests
    std::vector<uint32_t> piece;
    std::vector<PipResult> result;
    std::vector<uint32_t> local;  // per test: its piece's index in the packed set
  };
  void cut();         // the jobs' cuts as one batch, then their entries and tests
  int hugged_side(size_t job, size_t e0, size_t e1, double mid, double x, double y) const;
  void run(size_t li);  // layer li's tests as one batch

  const std::vector<LayerData>& layers_;
  backend::Choice backend_;
  size_t batch_;
  Resolve resolve_;
  // Cut jobs (CutSet arrays: per job a segment, per edge its ends and its job).
  std::vector<Job> jobs_;
  std::vector<double> ax_, ay_, bx_, by_, t0_, t1_;
  std::vector<double> ux_, uy_, vx_, vy_;
  std::vector<int8_t> left_;  // per edge: LayerData::area_left of its first vertex
  std::vector<uint32_t> edge_job_;
  std::vector<EdgeCut> cuts_;
  std::vector<double> ts_;
  std::vector<TInterval> overlaps_;
  std::vector<Layer> queue_;
  std::vector<Hit> chunk_;
  std::vector<uint64_t> chunk_row_;
  std::vector<size_t> chunk_begin_;  // road k's hits start at chunk_[chunk_begin_[k]]
  size_t open_begin_ = 0;            // where the road in hand's hits start
  // Packing (run): per piece of a layer its packed index or UINT32_MAX; the packed set.
  std::vector<uint32_t> slot_, packed_;
  std::vector<double> plon_, plat_;
  std::vector<uint64_t> pring_, ppoly_;
  struct Add {
    uint16_t layer;
    uint32_t area;
    double m;
  };
  std::vector<Add> adds_;
};

}  // namespace geoshard::localise
