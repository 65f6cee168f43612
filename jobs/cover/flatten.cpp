#include "jobs/cover/flatten.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace geoshard::cover {

void RawLayer::append(const RawLayer& o) {
  const int64_t piece_base = static_cast<int64_t>(pieces());
  const uint64_t ring_base = ring_vertex_offset.size() - 1;
  const uint64_t vertex_base = lon.size();
  entries.reserve(entries.size() + o.entries.size());
  for (RawEntry e : o.entries) {
    if (e.piece >= 0) e.piece += piece_base;
    entries.push_back(e);
  }
  for (size_t p = 1; p < o.piece_ring_offset.size(); ++p) piece_ring_offset.push_back(o.piece_ring_offset[p] + ring_base);
  for (size_t r = 1; r < o.ring_vertex_offset.size(); ++r)
    ring_vertex_offset.push_back(o.ring_vertex_offset[r] + vertex_base);
  lon.insert(lon.end(), o.lon.begin(), o.lon.end());
  lat.insert(lat.end(), o.lat.begin(), o.lat.end());
}

CoverageLayer flatten(const RawLayer& raw, const std::string& name, const FlattenOptions& opt) {
  const bool s2 = opt.grid == "s2";
  if (!s2 && opt.grid != "geohash") throw std::invalid_argument("cover: unknown grid '" + opt.grid + "'");
  if (!s2 && (opt.precision < 1 || opt.precision > geohash::kMaxPrecision))
    throw std::invalid_argument("cover: precision " + std::to_string(opt.precision) + " outside 1..12");
  if (s2 && (opt.precision < 1 || opt.precision > 30))
    throw std::invalid_argument("cover: S2 level " + std::to_string(opt.precision) + " outside 1..30");
  // S2: sweep over halved leaf ids (see FlattenOptions::grid), map back at the end.
  std::vector<RawEntry> halved;
  if (s2) {
    halved = raw.entries;
    for (RawEntry& e : halved) {
      if (!(e.lo & 1) || !(e.hi & 1)) throw std::logic_error("cover: S2 entry bounds must be leaf ids (odd)");
      e.lo >>= 1;
      e.hi >>= 1;
    }
  }
  const auto& E = s2 ? halved : raw.entries;
  const size_t n = E.size();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return E[a].lo != E[b].lo ? E[a].lo < E[b].lo : E[a].area < E[b].area;
  });

  CoverageLayer out;
  out.name = name;
  out.grid = opt.grid;
  out.precision = opt.precision;
  out.entry_offset.assign(1, 0);
  out.piece_ring_offset.assign(1, 0);
  out.ring_vertex_offset.assign(1, 0);
  const int shift = s2 ? 2 * (30 - opt.precision) : 64 - 5 * opt.precision;
  const uint64_t cell_mask = (uint64_t{1} << shift) - 1;
  constexpr uint64_t kMaxSplit = uint64_t{1} << 32;

  bool last_all_interior = false;  // the last emitted interval holds INTERIOR entries only
  std::vector<uint32_t> active;    // indices into E, sorted by area

  auto copy_piece = [&](int64_t p) -> int64_t {
    const uint64_t r0 = raw.piece_ring_offset[static_cast<size_t>(p)];
    const uint64_t r1 = raw.piece_ring_offset[static_cast<size_t>(p) + 1];
    for (uint64_t r = r0; r < r1; ++r) {
      const uint64_t v0 = raw.ring_vertex_offset[r], v1 = raw.ring_vertex_offset[r + 1];
      out.lon.insert(out.lon.end(), raw.lon.begin() + static_cast<ptrdiff_t>(v0), raw.lon.begin() + static_cast<ptrdiff_t>(v1));
      out.lat.insert(out.lat.end(), raw.lat.begin() + static_cast<ptrdiff_t>(v0), raw.lat.begin() + static_cast<ptrdiff_t>(v1));
      out.ring_vertex_offset.push_back(out.lon.size());
    }
    out.piece_ring_offset.push_back(out.ring_vertex_offset.size() - 1);
    return static_cast<int64_t>(out.piece_ring_offset.size()) - 2;
  };
  auto push_interval = [&](uint64_t lo, uint64_t hi) {
    out.lo.push_back(lo);
    out.hi.push_back(hi);
    for (uint32_t i : active) {
      out.entry_area.push_back(E[i].area);
      out.entry_kind.push_back(E[i].kind);
      out.entry_piece.push_back(E[i].kind == static_cast<uint8_t>(CoverKind::kBoundary) ? copy_piece(E[i].piece) : -1);
    }
    out.entry_offset.push_back(out.entry_area.size());
  };
  auto same_as_last = [&]() {
    const uint64_t e0 = out.entry_offset[out.lo.size() - 1], e1 = out.entry_offset[out.lo.size()];
    if (e1 - e0 != active.size()) return false;
    for (size_t k = 0; k < active.size(); ++k)
      if (out.entry_area[e0 + k] != E[active[k]].area) return false;
    return true;
  };
  auto emit = [&](uint64_t lo, uint64_t hi) {
    bool all_interior = true;
    for (uint32_t i : active) all_interior &= E[i].kind == static_cast<uint8_t>(CoverKind::kInterior);
    if (!all_interior) {
      // A BOUNDARY entry is one precision-P cell; nothing finer ever cuts it.
      if (hi - lo != cell_mask) throw std::logic_error("cover: a BOUNDARY entry was cut (not a precision-P cell)");
      push_interval(lo, hi);
    } else if (opt.merge) {
      if (last_all_interior && !out.lo.empty() && out.hi.back() + 1 == lo && same_as_last()) {
        out.hi.back() = hi;
      } else {
        push_interval(lo, hi);
      }
    } else {
      const uint64_t cells = ((hi - lo) >> shift) + 1;
      if (cells > kMaxSplit || out.lo.size() + cells > kMaxSplit)
        throw std::length_error("cover: merge = false needs more than 2^32 intervals at precision " +
                                std::to_string(opt.precision) + " (use merge = true)");
      for (uint64_t c = 0; c < cells; ++c) {
        const uint64_t a = lo + (c << shift);
        push_interval(a, a + cell_mask);
      }
    }
    last_all_interior = all_interior;
  };

  size_t next = 0;
  uint64_t pos = 0;
  for (;;) {
    if (active.empty()) {
      if (next == n) break;
      pos = E[order[next]].lo;
    }
    while (next < n && E[order[next]].lo == pos) {
      const uint32_t i = order[next++];
      if (E[i].hi < E[i].lo) throw std::logic_error("cover: raw entry with hi < lo");
      auto it = std::lower_bound(active.begin(), active.end(), E[i].area,
                                 [&](uint32_t a, uint32_t area) { return E[a].area < area; });
      if (it != active.end() && E[*it].area == E[i].area)
        throw std::logic_error("cover: two cells of area " + std::to_string(E[i].area) + " overlap");
      active.insert(it, i);
    }
    uint64_t end = std::numeric_limits<uint64_t>::max();
    for (uint32_t i : active) end = std::min(end, E[i].hi);
    if (next < n) {
      // Entries starting inside an active one start after pos (all at pos were taken above).
      if (E[order[next]].lo <= end) end = E[order[next]].lo - 1;
    }
    emit(pos, end);
    active.erase(std::remove_if(active.begin(), active.end(), [&](uint32_t i) { return E[i].hi == end; }), active.end());
    if (end == std::numeric_limits<uint64_t>::max()) break;
    pos = end + 1;
  }
  if (s2)
    for (size_t i = 0; i < out.lo.size(); ++i) {
      out.lo[i] = 2 * out.lo[i] + 1;
      out.hi[i] = 2 * out.hi[i] + 1;
    }
  return out;
}

}  // namespace geoshard::cover
