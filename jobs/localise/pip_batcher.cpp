#include "jobs/localise/pip_batcher.h"

#include <algorithm>

namespace geoshard::localise {

PipBatcher::PipBatcher(const std::vector<LayerData>& layers, const backend::Choice& backend, size_t batch)
    : layers_(layers), backend_(backend), batch_(batch == 0 ? 1 : batch), queue_(layers.size()) {}

void PipBatcher::test(size_t li, double x, double y, uint32_t piece, uint32_t area, double m) {
  Layer& q = queue_[li];
  q.x.push_back(x), q.y.push_back(y), q.m.push_back(m);
  q.piece.push_back(piece), q.road.push_back(static_cast<uint32_t>(chunk_begin_.size())), q.area.push_back(area);
  ++tests_;
}

void PipBatcher::end_road(uint64_t row, std::vector<Hit>& out) {
  chunk_begin_.push_back(open_begin_);
  chunk_row_.push_back(row);
  open_begin_ = chunk_.size();
  if (tests_ >= batch_ || chunk_.size() >= kMaxChunkHits) flush(out);
}

// The pieces the tests name are packed into a PolygonSet of their own (the flat CSR arrays a
// device copy wants: vertices, ring offsets, piece offsets), then backend::pip_batch.
void PipBatcher::run(size_t li) {
  Layer& q = queue_[li];
  const CoverageLayer& cov = layers_[li].coverage;
  const size_t n = q.x.size();
  q.result.resize(n);
  q.local.resize(n);
  if (slot_.size() < cov.pieces()) slot_.resize(cov.pieces(), UINT32_MAX);
  packed_.clear(), plon_.clear(), plat_.clear();
  pring_.assign(1, 0), ppoly_.assign(1, 0);
  for (size_t k = 0; k < n; ++k) {
    uint32_t& slot = slot_[q.piece[k]];
    if (slot == UINT32_MAX) {
      slot = static_cast<uint32_t>(packed_.size());
      packed_.push_back(q.piece[k]);
      for (uint64_t r = cov.piece_ring_offset[q.piece[k]]; r < cov.piece_ring_offset[q.piece[k] + 1]; ++r) {
        const auto v0 = static_cast<ptrdiff_t>(cov.ring_vertex_offset[r]), v1 = static_cast<ptrdiff_t>(cov.ring_vertex_offset[r + 1]);
        plon_.insert(plon_.end(), cov.lon.begin() + v0, cov.lon.begin() + v1);
        plat_.insert(plat_.end(), cov.lat.begin() + v0, cov.lat.begin() + v1);
        pring_.push_back(plon_.size());
      }
      ppoly_.push_back(pring_.size() - 1);
    }
    q.local[k] = slot;
  }
  for (uint32_t p : packed_) slot_[p] = UINT32_MAX;  // slot_ is per layer: reset for the next one
  const PolygonSet set{plon_.data(), plat_.data(), pring_.data(), ppoly_.data(), packed_.size()};
  backend::pip_batch(backend_, set, q.x, q.y, q.local, q.result);
}

void PipBatcher::flush(std::vector<Hit>& out) {
  bool any_inside = false;
  for (size_t li = 0; li < queue_.size(); ++li) {
    if (queue_[li].x.empty()) continue;
    run(li);
    for (PipResult r : queue_[li].result) any_inside |= r != PipResult::kOutside;
  }
  if (!any_inside) {
    out.insert(out.end(), chunk_.begin(), chunk_.end());
  } else {
    std::vector<size_t> cur(queue_.size(), 0);
    for (size_t k = 0; k < chunk_begin_.size(); ++k) {
      const size_t b = chunk_begin_[k], e = k + 1 < chunk_begin_.size() ? chunk_begin_[k + 1] : chunk_.size();
      adds_.clear();
      for (size_t li = 0; li < queue_.size(); ++li) {
        const Layer& q = queue_[li];
        for (size_t& c = cur[li]; c < q.x.size() && q.road[c] == k; ++c)
          if (q.result[c] != PipResult::kOutside) adds_.push_back(Add{static_cast<uint16_t>(li), q.area[c], q.m[c]});
      }
      if (adds_.empty()) {
        out.insert(out.end(), chunk_.begin() + static_cast<ptrdiff_t>(b), chunk_.begin() + static_cast<ptrdiff_t>(e));
        continue;
      }
      // By layer and area, each key's lengths in the order the walk found them.
      std::stable_sort(adds_.begin(), adds_.end(),
                       [](const Add& x, const Add& y) { return x.layer != y.layer ? x.layer < y.layer : x.area < y.area; });
      auto before = [](const Hit& h, const Add& a) { return h.layer != a.layer ? h.layer < a.layer : h.area < a.area; };
      size_t i = b, j = 0;
      while (i < e || j < adds_.size()) {
        if (j == adds_.size() || (i < e && before(chunk_[i], adds_[j]))) {
          out.push_back(chunk_[i++]);
          continue;
        }
        Hit h = i < e && chunk_[i].layer == adds_[j].layer && chunk_[i].area == adds_[j].area
                    ? chunk_[i++]
                    : Hit{chunk_row_[k], adds_[j].layer, adds_[j].area, 0.0};
        const uint16_t l = adds_[j].layer;
        const uint32_t a = adds_[j].area;
        for (; j < adds_.size() && adds_[j].layer == l && adds_[j].area == a; ++j) h.length_m += adds_[j].m;
        out.push_back(h);
      }
    }
  }
  for (Layer& q : queue_) q.x.clear(), q.y.clear(), q.m.clear(), q.piece.clear(), q.road.clear(), q.area.clear();
  tests_ = 0;
  chunk_.clear();
  chunk_row_.clear();
  chunk_begin_.clear();
  open_begin_ = 0;
}

}  // namespace geoshard::localise
