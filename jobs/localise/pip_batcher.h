// The boundary cells' point-in-polygon tests of the localisers (Localiser, S2Localiser), run in
// batches on the chosen backend (backend::pip_batch; docs/cuda.md, "How localise batches its
// point-in-polygon tests").
//
// A localiser queues a test where its walk finds one -- a point against a clipped piece of a
// layer's coverage, and the metres it adds to which area when the point is inside -- and hands
// over each road's hits settled so far (add_hit, then end_road). The hits wait in a chunk until
// the chunk has queued `batch` tests (or holds kMaxChunkHits hits, or flush() is called): then
// each layer's tests run as one pip_batch call on a CSR polygon set holding only the pieces they
// name, the tests found inside add their metres to their road's hits, and the chunk's hits are
// appended to the output in (road, layer, area) order. A road's lengths are summed in the same
// order whatever the chunks: the output does not depend on `batch`, bit for bit.
//
// Not thread-safe: one per localise() call.
#pragma once

#include <cstdint>
#include <vector>

#include "jobs/backend/backend.h"
#include "jobs/localise/localise.h"

namespace geoshard::localise {

class PipBatcher {
 public:
  static constexpr size_t kMaxChunkHits = size_t{1} << 16;

  PipBatcher(const std::vector<LayerData>& layers, const backend::Choice& backend, size_t batch);

  // A test for the road in hand: (x, y) against piece `piece` of layer li's coverage; inside or
  // on its boundary adds m metres to area `area` of that layer.
  void test(size_t li, double x, double y, uint32_t piece, uint32_t area, double m);
  // A hit of the road in hand settled without tests; a road's hits come in (layer, area) order.
  void add_hit(const Hit& h) { chunk_.push_back(h); }
  // Closes the road in hand (global road row `row`); may run the batch, appending to `out`.
  void end_road(uint64_t row, std::vector<Hit>& out);
  // Runs the queued tests and appends every waiting hit to `out`.
  void flush(std::vector<Hit>& out);

 private:
  struct Layer {
    std::vector<double> x, y, m;
    std::vector<uint32_t> piece, road, area;
    std::vector<PipResult> result;
    std::vector<uint32_t> local;  // per test: its piece's index in the packed set
  };
  void run(size_t li);  // layer li's tests as one batch

  const std::vector<LayerData>& layers_;
  backend::Choice backend_;
  size_t batch_;
  std::vector<Layer> queue_;
  size_t tests_ = 0;
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
