#include "jobs/localise/pip_batcher.h"

#include <algorithm>

#include "jobs/localise/cuts.h"

namespace geoshard::localise {

PipBatcher::PipBatcher(const std::vector<LayerData>& layers, const backend::Choice& backend, size_t batch,
                       Resolve resolve)
    : layers_(layers), backend_(backend), batch_(batch == 0 ? 1 : batch), resolve_(std::move(resolve)),
      queue_(layers.size()) {}

void PipBatcher::begin_cut(size_t li, uint32_t area, int64_t piece, double ax, double ay, double bx, double by,
                           double t0, double t1, double seg_m) {
  jobs_.push_back(Job{static_cast<uint32_t>(li), static_cast<uint32_t>(chunk_begin_.size()), area, piece, seg_m});
  ax_.push_back(ax), ay_.push_back(ay), bx_.push_back(bx), by_.push_back(by), t0_.push_back(t0), t1_.push_back(t1);
}

void PipBatcher::end_road(uint64_t row, std::vector<Hit>& out) {
  chunk_begin_.push_back(open_begin_);
  chunk_row_.push_back(row);
  open_begin_ = chunk_.size();
  if (jobs_.size() + edge_job_.size() >= batch_ || chunk_.size() >= kMaxChunkHits) flush(out);
}

// All jobs' edges in one cut_batch; then, job by job in the order they came, the cuts sorted and
// each sub-interval decided (cuts.h): the metres of the sure ones in one entry, each midpoint to
// test as an entry of its own.
void PipBatcher::cut() {
  const CutSet set{ax_.data(), ay_.data(), bx_.data(), by_.data(), t0_.data(), t1_.data(), jobs_.size(),
                   ux_.data(), uy_.data(), vx_.data(), vy_.data(), edge_job_.data(), edge_job_.size()};
  cuts_.resize(edge_job_.size());
  backend::cut_batch(backend_, set, cuts_);
  size_t e = 0;
  for (size_t j = 0; j < jobs_.size(); ++j) {
    const Job& job = jobs_[j];
    ts_.clear();
    overlaps_.clear();
    ts_.push_back(t0_[j]);
    ts_.push_back(t1_[j]);
    const size_t e0 = e;
    for (; e < edge_job_.size() && edge_job_[e] == j; ++e) add_cut(cuts_[e], ts_, overlaps_);
    Layer& q = queue_[job.layer];
    const double ax = ax_[j], ay = ay_[j], dx = bx_[j] - ax, dy = by_[j] - ay;
    double sure = 0;
    const double f = overlapped_between_cuts(ts_, overlaps_, [&](double mid, double w) {
      const double x = ax + mid * dx, y = ay + mid * dy;
      if (const int hug = hugged_side(j, e0, e, mid, x, y)) {
        if (hug > 0) sure += w;
        return;
      }
      const int64_t piece = job.piece >= 0 ? job.piece : resolve_(job.layer, job.area, x, y);
      if (piece == kInsideArea) {
        sure += w;
      } else if (piece >= 0) {
        q.entries.push_back(Entry{job.road, job.area, static_cast<int64_t>(q.x.size()), w * job.seg_m});
        q.x.push_back(x), q.y.push_back(y), q.piece.push_back(static_cast<uint32_t>(piece));
      }
    });
    if (f + sure > 0) q.entries.push_back(Entry{job.road, job.area, -1, (f + sure) * job.seg_m});
  }
  jobs_.clear();
  ax_.clear(), ay_.clear(), bx_.clear(), by_.clear(), t0_.clear(), t1_.clear();
  ux_.clear(), uy_.clear(), vx_.clear(), vy_.clear(), left_.clear(), edge_job_.clear();
}

// Where a sub-interval runs within rounding of an edge, its midpoint (rounded) may land on the
// wrong side of it, and of the clipped piece's copy of it. When the midpoint lies within kNear
// of exactly one of the job's edges [e0, e1), away from its ends, the sub-interval is on the side
// of that edge's line that the segment is on there: the exact side of A or of B (split at the
// accurate crossing of the line, when they differ), and it is inside when the area lies on that
// side. Returns +1 inside, -1 outside, 0 when this does not decide (the midpoint test does).
int PipBatcher::hugged_side(size_t j, size_t e0, size_t e1, double mid, double x, double y) const {
  constexpr double kNear = 1e-10;  // degrees (~11 um): far above a rounded midpoint's error
  constexpr double kSplitMargin = 0x1p-30;  // in t: far above the error of the crossing's tc
  size_t near = SIZE_MAX;
  for (size_t e = e0; e < e1; ++e) {
    const double ex = vx_[e] - ux_[e], ey = vy_[e] - uy_[e], l2 = ex * ex + ey * ey;
    if (!(l2 > 0)) continue;
    const double px = x - ux_[e], py = y - uy_[e];
    const double along = (px * ex + py * ey) / l2;
    double d2;
    if (along <= 0) d2 = px * px + py * py;
    else if (along >= 1) d2 = (x - vx_[e]) * (x - vx_[e]) + (y - vy_[e]) * (y - vy_[e]);
    else d2 = (px * ey - py * ex) * (px * ey - py * ex) / l2;
    if (!(d2 >= kNear * kNear)) {  // near (or NaN): at most one such edge, well inside its ends
      if (near != SIZE_MAX || !(along > 0) || !(along < 1)) return 0;
      const double from_u = along * along * l2, from_v = (1 - along) * (1 - along) * l2;
      if (!(from_u > kNear * kNear && from_v > kNear * kNear)) return 0;
      near = e;
    }
  }
  if (near == SIZE_MAX || left_[near] == 0) return 0;
  const double oa = orient2d_accurate(ux_[near], uy_[near], vx_[near], vy_[near], ax_[j], ay_[j]);
  const double ob = orient2d_accurate(ux_[near], uy_[near], vx_[near], vy_[near], bx_[j], by_[j]);
  int side;
  if (oa >= 0 && ob >= 0) side = 1;
  else if (oa <= 0 && ob <= 0) side = -1;
  else {
    const double tc = oa / (oa - ob);  // A and B strictly apart: the segment crosses the line at tc
    if (mid < tc - kSplitMargin) side = oa > 0 ? 1 : -1;
    else if (mid > tc + kSplitMargin) side = ob > 0 ? 1 : -1;
    else return 0;
  }
  if (oa == 0 && ob == 0) return 0;  // along the line: the overlaps decide
  return side == left_[near] ? 1 : -1;
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
  if (!jobs_.empty()) cut();
  bool any_entry = false;
  for (size_t li = 0; li < queue_.size(); ++li) {
    if (!queue_[li].x.empty()) run(li);
    any_entry |= !queue_[li].entries.empty();
  }
  if (!any_entry) {
    out.insert(out.end(), chunk_.begin(), chunk_.end());
  } else {
    std::vector<size_t> cur(queue_.size(), 0);
    const size_t roads = chunk_begin_.size();
    for (size_t k = 0; k < roads; ++k) {
      // The roads before the next one with an entry keep their hits as they are: one copy.
      size_t next = roads;
      for (size_t li = 0; li < queue_.size(); ++li)
        if (cur[li] < queue_[li].entries.size()) next = std::min<size_t>(next, queue_[li].entries[cur[li]].road);
      if (next > k) {
        const size_t upto = next < roads ? chunk_begin_[next] : chunk_.size();
        out.insert(out.end(), chunk_.begin() + static_cast<ptrdiff_t>(chunk_begin_[k]), chunk_.begin() + static_cast<ptrdiff_t>(upto));
        k = next;
        if (k == roads) break;
      }
      const size_t b = chunk_begin_[k], e = k + 1 < roads ? chunk_begin_[k + 1] : chunk_.size();
      adds_.clear();
      for (size_t li = 0; li < queue_.size(); ++li) {
        const Layer& q = queue_[li];
        for (size_t& c = cur[li]; c < q.entries.size() && q.entries[c].road == k; ++c) {
          const Entry& en = q.entries[c];
          if (en.test < 0 || q.result[static_cast<size_t>(en.test)] != PipResult::kOutside)
            adds_.push_back(Add{static_cast<uint16_t>(li), en.area, en.m});
        }
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
  for (Layer& q : queue_) q.entries.clear(), q.x.clear(), q.y.clear(), q.piece.clear();
  chunk_.clear();
  chunk_row_.clear();
  chunk_begin_.clear();
  open_begin_ = 0;
}

}  // namespace geoshard::localise
